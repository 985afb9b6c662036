"""Cost does not grow with data: DynamoDB round trips per endpoint, at one size and at 100 times it.

Counts are deterministic (botocore calls), so equality is asserted exactly; speed belongs to
benchmarks, never to tests. Measured with every rate limit at its production default (the test environment turns
them off elsewhere), so the budgets include what the limits cost: their counters ride in a request's own write
where it makes one, and cost one UpdateItem where it does not (history pages, sync, typing, ping).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count

import pytest

from chalicelib.domain.ids import conversation_id_for, message_id_for
from chalicelib.domain.notifications import unsubscribe_token
from chalicelib.settings import get_settings
from tests.integration.conftest import Api, DynamoCalls, StreamDrain, token_for
from tests.integration.factories import seed_conversation, seed_inbox
from tests.integration.push_support import Browser
from tests.integration.sockets import Sockets

SMALL_MESSAGES, SMALL_INBOX = 10, 3
GROWTH = 100
PATTERN_CHAT = conversation_id_for("alice", "bob", "p1")
YARN = "%F0%9F%A7%B6"  # 🧶 in a path
_unique = count()
LIMITS = (
    "SEND",
    "CONVERSATION",
    "PRESIGN",
    "ROOM",
    "TYPING",
    "READ",
    "PING",
    "SYNC",
    "HISTORY",
    "EDIT",
    "REACTION",
    "PRESENCE",
    "SEARCH",
    "SETTINGS",
    "BLOCK",
    "REPORT",
)


@pytest.fixture(autouse=True)
def production_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every rate limit at its default, so that what it costs is counted."""
    for name in LIMITS:
        monkeypatch.delenv(f"RATE_LIMIT_{name}", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@dataclass
class World:
    api: Api

    def newest_for(self, user: str) -> str:
        """The newest message addressed to ``user`` in the pattern chat (read before measuring)."""
        page = self.api.conversation(user, PATTERN_CHAT, "&limit=4").body["messages"]
        return next(m["id"] for m in reversed(page) if m["recipientId"] == user)


def _bobs_new_message(world: World, **fields: object) -> str:
    """A message bob just sent in the pattern chat (within the edit window): its id."""
    response = world.api.send("bob", conversationId=PATTERN_CHAT, **fields)
    assert response.status == 201, response.body
    return str(response.body["message"]["id"])


def _quoted_twice(world: World) -> str:
    """A message of bob's that alice's two replies quote (they follow its changes): its id."""
    original = _bobs_new_message(world, content="which hook?")
    for _ in range(2):
        world.api.send("alice", conversationId=PATTERN_CHAT, content="4 mm", replyTo={"messageId": original})
    return original


def _yarn_from_alice(world: World) -> str:
    """A new message of bob's that alice reacted to with 🧶: its id."""
    message_id = _bobs_new_message(world, content="look")
    assert world.api.call("PUT", f"/api/messages/{message_id}/reactions/{YARN}", "alice").status == 200
    return message_id


def _reply_alice_reacted_to(world: World) -> str:
    """bob's reply to alice's question, which alice already reacted to with 🧶: its id."""
    question = world.api.send("alice", conversationId=PATTERN_CHAT, content="which hook?").body["message"]["id"]
    reply = _bobs_new_message(world, content="4 mm", replyTo={"messageId": question})
    assert world.api.call("PUT", f"/api/messages/{reply}/reactions/{YARN}", "alice").status == 200
    return reply


def _deleted_by_bob(world: World) -> str:
    message_id = _bobs_new_message(world, content="oops")
    assert world.api.call("DELETE", f"/api/messages/{message_id}", "bob").status == 200
    return message_id


def _is_archived(world: World) -> bool:
    return bool(world.api.conversation("alice", PATTERN_CHAT).body["conversation"]["settings"]["archived"])


def _fresh_buyer(world: World) -> str:
    buyer = f"buyer{next(_unique)}"
    world.api.user(buyer)
    world.api.purchase("p1", buyer)
    return buyer


def _settings(world: World, user: str, **body: object) -> object:
    return world.api.call("PUT", f"/api/messages/conversations/{PATTERN_CHAT}/settings", user, body)


def _archived_by_alice(world: World) -> None:
    response = _settings(world, "alice", archived=True)
    assert getattr(response, "status", None) == 200


def _stranger(world: World) -> str:
    user = f"stranger{next(_unique)}"
    world.api.user(user)
    return user


def _blocked_by_bob(world: World) -> str:
    user = _stranger(world)
    assert world.api.call("PUT", f"/api/me/blocks/{user}", "bob").status == 201
    return user


def _as_moderator(world: World, method: str, path: str, body: object = None) -> Callable[[], object]:
    headers = {"Authorization": f"Bearer {token_for('mod1', role='moderator')}"}
    return lambda: world.api.call(method, path, body=body, headers=headers)


def _reported(world: World, sender: str = "bob") -> str:
    """A new message of ``sender``'s to alice that alice reported: the report's id."""
    if sender == "bob":
        message_id = _bobs_new_message(world)
    else:
        sent = world.api.send(sender, recipientId="alice", patternId="p1", content="pay me off the platform")
        assert sent.status == 201, sent.body
        message_id = sent.body["message"]["id"]
    response = world.api.call("POST", f"/api/messages/{message_id}/report", "alice", {"reason": "scam"})
    assert response.status == 201, response.body
    return str(response.body["report"]["id"])


def _resolution(world: World, action: str, sender: str = "bob", **fields: object) -> Callable[[], object]:
    report_id = _reported(world, sender)
    body = {"action": action, "note": "checked", **fields}
    return _as_moderator(world, "POST", f"/api/moderation/reports/{report_id}/resolution", body)


def _push_subscription(world: World, user: str = "alice") -> dict[str, object]:
    """A browser subscription of ``user``'s, not registered yet."""
    return Browser(f"https://fcm.googleapis.com/fcm/send/device-{next(_unique)}").subscription()


def _subscribed(world: World, user: str = "alice") -> tuple[dict[str, object], str]:
    body = _push_subscription(world, user)
    response = world.api.call("PUT", "/api/push/subscriptions", user, body)
    assert response.status == 201, response.body
    return body, str(response.body["id"])


# name -> (budget, operation). Each operation prepares what it needs unmeasured, then returns the
# measured call, which must succeed.
Operation = Callable[[World], Callable[[], object]]

OPERATIONS: dict[str, tuple[int, Operation]] = {
    "list conversations": (3, lambda w: lambda: w.api.call("GET", "/api/messages", "alice")),
    "conversations + totalUnread": (3, lambda w: lambda: w.api.conversations("alice")),
    # GetItem conversation, the history limit's UpdateItem, Query one page, BatchGetItem profiles.
    "conversation detail": (4, lambda w: lambda: w.api.conversation("alice", PATTERN_CHAT)),
    "history page (before)": (
        4,
        lambda w: (lambda before: lambda: w.api.conversation("alice", PATTERN_CHAT, f"&before={before}"))(
            w.newest_for("alice")
        ),
    ),
    "send into conversation": (3, lambda w: lambda: w.api.send("bob", conversationId=PATTERN_CHAT)),
    "send opening a pattern conversation": (
        3,
        lambda w: (lambda buyer: lambda: w.api.send(buyer, recipientId="alice", patternId="p1"))(_fresh_buyer(w)),
    ),
    "send opening a direct conversation": (
        3,
        lambda w: (lambda buyer: lambda: w.api.send(buyer, recipientId="alice"))(_fresh_buyer(w)),
    ),
    "idempotent retry": (
        3,
        lambda w: (
            lambda key: (
                w.api.send("bob", conversationId=PATTERN_CHAT, clientMessageId=key),
                lambda: w.api.send("bob", conversationId=PATTERN_CHAT, clientMessageId=key),
            )[1]
        )(f"retry-{next(_unique)}"),
    ),
    # The read limit's counter rides in the read's transaction.
    "mark read": (3, lambda w: (lambda m: lambda: w.api.mark_read("alice", m))(w.newest_for("alice"))),
    "mark conversation read": (
        3,
        lambda w: (lambda m: lambda: w.api.mark_read("alice", m, whole=True))(w.newest_for("alice")),
    ),
    "pattern get-or-create (create)": (
        3,
        lambda w: (lambda buyer: lambda: w.api.call("GET", "/api/messages/pattern/p1", buyer))(_fresh_buyer(w)),
    ),
    "pattern get-or-create (existing, creatorId)": (
        3,
        lambda w: lambda: w.api.call("GET", "/api/messages/pattern/p1?creatorId=alice", "bob"),
    ),
    "edit a message": (
        3,
        lambda w: (lambda m: lambda: w.api.call("PATCH", f"/api/messages/{m}", "bob", {"content": "edited"}))(
            _bobs_new_message(w)
        ),
    ),
    "edit a message two replies quote": (
        3,
        lambda w: (lambda m: lambda: w.api.call("PATCH", f"/api/messages/{m}", "bob", {"content": "edited"}))(
            _quoted_twice(w)
        ),
    ),
    "delete a message": (
        3,
        lambda w: (lambda m: lambda: w.api.call("DELETE", f"/api/messages/{m}", "bob"))(_bobs_new_message(w)),
    ),
    "add a reaction": (
        3,
        lambda w: (lambda m: lambda: w.api.call("PUT", f"/api/messages/{m}/reactions/{YARN}", "alice"))(
            _bobs_new_message(w)
        ),
    ),
    "remove a reaction": (
        3,
        lambda w: (lambda m: lambda: w.api.call("DELETE", f"/api/messages/{m}/reactions/{YARN}", "alice"))(
            _yarn_from_alice(w)
        ),
    ),
    # A change that changes nothing spends its limit on its own (one UpdateItem) instead of in a transaction;
    # a reply's answer also reads the original it quotes.
    "add a reaction already there, to a reply": (
        3,
        lambda w: (lambda m: lambda: w.api.call("PUT", f"/api/messages/{m}/reactions/{YARN}", "alice"))(
            _reply_alice_reacted_to(w)
        ),
    ),
    "delete a deleted message": (
        3,
        lambda w: (lambda m: lambda: w.api.call("DELETE", f"/api/messages/{m}", "bob"))(_deleted_by_bob(w)),
    ),
    "send a reply": (
        3,
        lambda w: (
            lambda m: lambda: w.api.send("alice", conversationId=PATTERN_CHAT, content="4 mm", replyTo={"messageId": m})
        )(_bobs_new_message(w)),
    ),
    # Issue 16. A settings change: BatchGetItem (conversation, the caller's profile), TransactWriteItems (the
    # conversation, the membership's folder, the counters, the settings limit's counter).
    "archive a conversation": (
        2,
        lambda w: (lambda archived: lambda: _settings(w, "alice", archived=not archived))(_is_archived(w)),
    ),
    "mute a conversation": (
        2,
        lambda w: lambda: _settings(w, "bob", mutedUntil=f"2999-01-01T00:00:{next(_unique) % 60:02d}Z"),
    ),
    "settings that change nothing": (
        2,
        lambda w: (_settings(w, "alice", archived=True), lambda: _settings(w, "alice", archived=True))[1],
    ),
    # Each folder is a sparse index: Query, BatchGetItem profiles and patterns.
    "list archived": (
        3,
        lambda w: (_archived_by_alice(w), lambda: w.api.conversations("alice", "?folder=archived"))[1],
    ),
    "list requests": (3, lambda w: lambda: w.api.call("GET", "/api/messages?folder=requests", "alice")),
    # A block: BatchGetItem (the block, the direct conversation), TransactWriteItems (the block, the limit's counter),
    # BatchGetItem (both profiles), BatchGetItem (their connections), no more when no room is shared.
    "block a user": (
        4,
        lambda w: (lambda user: lambda: w.api.call("PUT", f"/api/me/blocks/{user}", "bob"))(_stranger(w)),
    ),
    "block a user again": (
        3,
        lambda w: (lambda user: lambda: w.api.call("PUT", f"/api/me/blocks/{user}", "bob"))(_blocked_by_bob(w)),
    ),
    "unblock a user": (
        1,
        lambda w: (lambda user: lambda: w.api.call("DELETE", f"/api/me/blocks/{user}", "bob"))(_blocked_by_bob(w)),
    ),
    "list blocks": (1, lambda w: (_blocked_by_bob(w), lambda: w.api.call("GET", "/api/me/blocks", "bob"))[1]),
    # Reports and moderation (issue 16). A report: BatchGetItem (message, conversation, this reporter's report) and
    # the report's transaction with the limit's counter; again: the same read and the limit's UpdateItem.
    "report a message": (
        2,
        lambda w: (lambda m: lambda: w.api.call("POST", f"/api/messages/{m}/report", "alice", {"reason": "spam"}))(
            _bobs_new_message(w)
        ),
    ),
    "report a message again": (
        2,
        lambda w: (
            lambda m: (
                w.api.call("POST", f"/api/messages/{m}/report", "alice", {"reason": "spam"}),
                lambda: w.api.call("POST", f"/api/messages/{m}/report", "alice", {"reason": "spam"}),
            )[1]
        )(_bobs_new_message(w)),
    ),
    # The audit entry's transaction first, then one Query (of the queue index, of the audit partition).
    "moderation: list open reports": (
        2,
        lambda w: (_reported(w), _as_moderator(w, "GET", "/api/moderation/reports"))[1],
    ),
    "moderation: audit log of a conversation": (
        2,
        lambda w: _as_moderator(w, "GET", f"/api/moderation/audit?conversationId={PATTERN_CHAT}"),
    ),
    # BatchGetItem (the report), the audit entry, one Query of the messages around the reported one.
    "moderation: a report": (3, lambda w: _as_moderator(w, "GET", f"/api/moderation/reports/{_reported(w)}")),
    # Read the report; one transaction (report, audit entry, and the suspension); a suspension then reads the
    # profile to close the user's connections.
    "moderation: dismiss": (2, lambda w: _resolution(w, "dismiss")),
    "moderation: suspend_user": (
        3,
        lambda w: _resolution(w, "suspend_user", _fresh_buyer(w), suspendDays=3),
    ),
    # Read the report (for its message), then the sender's deletion: BatchGetItem, one transaction with the
    # resolution, the delivery's BatchGetItem.
    "moderation: delete_message": (4, lambda w: _resolution(w, "delete_message")),
    # Web Push: the key is the process's (no round trip); a new subscription and its count are one transaction,
    # a known endpoint adds the UpdateItem of its keys; removing one is a transaction again.
    "push public key": (0, lambda w: lambda: w.api.call("GET", "/api/push/vapid-public-key", "alice")),
    "push subscribe": (
        1,
        lambda w: (lambda body: lambda: w.api.call("PUT", "/api/push/subscriptions", "alice", body))(
            _push_subscription(w)
        ),
    ),
    "push subscribe again (same endpoint)": (
        2,
        lambda w: (lambda known: lambda: w.api.call("PUT", "/api/push/subscriptions", "alice", known[0]))(
            _subscribed(w)
        ),
    ),
    "push unsubscribe": (
        1,
        lambda w: (lambda known: lambda: w.api.call("DELETE", f"/api/push/subscriptions/{known[1]}", "alice"))(
            _subscribed(w)
        ),
    ),
    # The history limit's UpdateItem, as for every history page; the originals are read with the profiles.
    "history page quoting older messages": (
        4,
        lambda w: (
            w.api.send(
                "alice",
                conversationId=PATTERN_CHAT,
                content="about your first question",
                replyTo={"messageId": message_id_for(PATTERN_CHAT, 1)},
            ),
            lambda: w.api.conversation("bob", PATTERN_CHAT),
        )[1],
    ),
    # Issue 18. Preferences live on the user's item: one GetItem, one UpdateItem; the unsubscribe is one conditional
    # UpdateItem. The sends above keep their 3: digests and webhooks are decided after the send, by the messages
    # table's stream consumer (tests/integration/test_email_digests.py, test_webhooks.py).
    "get notification preferences": (
        1,
        lambda w: lambda: w.api.call("GET", "/api/me/notification-preferences", "alice"),
    ),
    "put notification preferences": (
        1,
        lambda w: (
            lambda: w.api.call(
                "PUT",
                "/api/me/notification-preferences",
                "alice",
                {
                    "email": {"delayMinutes": 30},
                    "quietHours": {"start": "22:00", "end": "07:00", "timeZone": "Europe/Paris"},
                },
            )
        ),
    ),
    "one-click unsubscribe": (
        1,
        lambda w: (
            lambda: w.api.call(
                "POST",
                f"/api/notifications/unsubscribe?token={unsubscribe_token('alice', get_settings().cursor_secret)}",
            )
        ),
    ),
}


def _measure(world: World, operation: Operation, calls: DynamoCalls) -> int:
    measured = operation(world)
    calls.reset()
    response = measured()
    assert response.status in (200, 201), response.body
    return calls.total


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_round_trips_are_constant_and_within_budget(marketplace: Api, dynamo_calls: DynamoCalls, name: str) -> None:
    budget, operation = OPERATIONS[name]
    world = World(marketplace)
    seed_conversation("bob", "alice", SMALL_MESSAGES, "p1")
    seed_inbox("alice", SMALL_INBOX)

    small = _measure(world, operation, dynamo_calls)
    seed_conversation("bob", "alice", SMALL_MESSAGES * (GROWTH - 1), "p1")
    seed_inbox("alice", SMALL_INBOX * (GROWTH - 1), first_partner=SMALL_INBOX)
    large = _measure(world, operation, dynamo_calls)

    assert small == large, f"{name}: {small} round trips with small data, {large} with 100x"
    assert large <= budget, f"{name}: {large} round trips, budget {budget}"


# Message changes over the socket: (who, fields) of a change prepared unmeasured.
SOCKET_CHANGES: dict[str, Callable[[World], tuple[str, dict[str, object]]]] = {
    "edit_message": lambda w: ("bob", {"messageId": _quoted_twice(w), "content": "edited"}),
    "delete_message": lambda w: ("bob", {"messageId": _bobs_new_message(w)}),
    "add_reaction": lambda w: ("alice", {"messageId": _bobs_new_message(w), "emoji": "🧶"}),
    "remove_reaction": lambda w: ("alice", {"messageId": _yarn_from_alice(w), "emoji": "🧶"}),
}


@pytest.mark.parametrize("action", sorted(SOCKET_CHANGES))
def test_socket_changes_cost_three_round_trips_at_any_size(
    marketplace: Api, sockets: Sockets, dynamo_calls: DynamoCalls, action: str
) -> None:
    """The connection is read in the change's first BatchGetItem, so a socket change costs what its REST twin does
    (the edit or reaction limit's counter rides in the change's transaction)."""
    world = World(marketplace)
    seed_conversation("bob", "alice", SMALL_MESSAGES, "p1")
    witness = sockets.connect("alice")
    sockets.send(witness, "join_conversation", conversationId=PATTERN_CHAT)

    def measure() -> int:
        user, fields = SOCKET_CHANGES[action](world)
        connection = sockets.connect(user)
        sockets.clear()
        dynamo_calls.reset()
        sockets.send(connection, action, **fields)
        assert sockets.events(connection, "error") == [] and len(sockets.frames(connection)) == 1
        return dynamo_calls.total

    small = measure()
    seed_conversation("bob", "alice", SMALL_MESSAGES * (GROWTH - 1), "p1")
    seed_inbox("alice", SMALL_INBOX * GROWTH)
    large = measure()

    assert small == large <= 3, (small, large)


def test_sync_pages_are_constant_and_within_budget(marketplace: Api, dynamo_calls: DynamoCalls) -> None:
    """Query the timeline, the sync limit's UpdateItem, BatchGetItem messages + conversations, BatchGetItem profiles."""
    cursor = marketplace.call("GET", "/api/messages/sync", "alice").body["nextCursor"]
    seed_conversation("bob", "alice", SMALL_MESSAGES, "p1")

    def measure() -> int:
        dynamo_calls.reset()
        response = marketplace.call("GET", f"/api/messages/sync?since={cursor}&limit=5", "alice")
        assert response.status == 200 and len(response.body["messages"]) == 5, response.body
        return dynamo_calls.total

    small = measure()
    seed_conversation("bob", "alice", SMALL_MESSAGES * (GROWTH - 1), "p1")
    seed_inbox("alice", SMALL_INBOX * GROWTH)
    large = measure()

    assert small == large <= 4


@pytest.mark.parametrize("narrowed", [False, True], ids=["all conversations", "one conversation"])
def test_a_search_is_three_round_trips_at_any_size(
    marketplace: Api, dynamo_calls: DynamoCalls, message_stream: StreamDrain, narrowed: bool
) -> None:
    """The search limit's UpdateItem, one Query of the caller's index bucket, one BatchGetItem of the messages found,
    their conversations and the blocks with their other participants (named by the index items): the same with 100
    times the messages, all of them matching, in 100 times the conversations."""
    query = "/api/messages/search?q=messag&limit=20" + (f"&conversationId={PATTERN_CHAT}" if narrowed else "")

    def measure() -> int:
        message_stream.drain()
        dynamo_calls.reset()
        response = marketplace.call("GET", query, "alice")
        assert response.status == 200 and len(response.body["results"]) == 20, response.body
        assert response.body["nextCursor"]
        return dynamo_calls.total

    seed_conversation("bob", "alice", SMALL_MESSAGES * 3, "p1")
    seed_inbox("alice", SMALL_INBOX)
    small = measure()
    seed_conversation("bob", "alice", SMALL_MESSAGES * (GROWTH - 1), "p1")
    seed_inbox("alice", SMALL_INBOX * (GROWTH - 1), first_partner=SMALL_INBOX)
    large = measure()

    assert small == large <= 3, (small, large)


# Socket actions: name -> (budget, action, fields given the newest message's id, who sends it). Every frame first
# reads its connection (GetItem); then:
#   ping: the ping limit's UpdateItem;
#   join: GetItem conversation, TransactWriteItems (connection, room, watched profile, the room limit's counter);
#   leave: TransactWriteItems (the same items);
#   typing: GetItem conversation, the typing limit's UpdateItem (then posts only);
#   new_message, message_read: the REST cost (their limits' counters ride in their transactions);
#   watch_presence: BatchGetItem (contacts and profiles), TransactWriteItems (the connection's list, the watcher
#   sets, the presence limit's counter).
# The message changes (edit_message, ...) read their connection with the message instead: see above.
SOCKET_OPERATIONS: dict[str, tuple[int, str, Callable[[str], dict[str, object]], str]] = {
    "ping": (2, "ping", lambda m: {}, "bob"),
    "join_conversation": (3, "join_conversation", lambda m: {"conversationId": PATTERN_CHAT}, "bob"),
    "leave_conversation": (2, "leave_conversation", lambda m: {"conversationId": PATTERN_CHAT}, "alice"),
    "typing_start": (3, "typing_start", lambda m: {"conversationId": PATTERN_CHAT}, "bob"),
    "new_message": (4, "new_message", lambda m: {"conversationId": PATTERN_CHAT, "content": "measured"}, "bob"),
    "message_read": (4, "message_read", lambda m: {"messageId": m}, "alice"),
    "watch_presence": (3, "watch_presence", lambda m: {"userIds": ["alice"]}, "bob"),
}


def test_socket_actions_are_constant_and_within_budget(
    marketplace: Api, sockets: Sockets, dynamo_calls: DynamoCalls
) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1")
    seed_conversation("bob", "alice", SMALL_MESSAGES, "p1")
    seed_inbox("alice", SMALL_INBOX)

    def measure(name: str) -> int:
        _, action, fields, sender = SOCKET_OPERATIONS[name]
        newest = marketplace.send("bob", conversationId=PATTERN_CHAT).body["message"]["id"]
        connection = sockets.connect(sender)
        if action == "leave_conversation":
            sockets.send(connection, "join_conversation", conversationId=PATTERN_CHAT)
        sockets.clear()
        dynamo_calls.reset()
        sockets.send(connection, action, **fields(newest))
        cost = dynamo_calls.total
        assert not sockets.events(connection, "error"), (name, sockets.events(connection, "error"))
        sockets.disconnect(connection)  # within the connection cap, whatever the number of actions
        return cost

    small = {name: measure(name) for name in SOCKET_OPERATIONS}
    seed_conversation("bob", "alice", SMALL_MESSAGES * (GROWTH - 1), "p1")
    seed_inbox("alice", SMALL_INBOX * (GROWTH - 1), first_partner=SMALL_INBOX)
    large = {name: measure(name) for name in SOCKET_OPERATIONS}

    assert small == large, f"round trips with small data {small}, with 100x {large}"
    over = {
        name: (cost, SOCKET_OPERATIONS[name][0]) for name, cost in large.items() if cost > SOCKET_OPERATIONS[name][0]
    }
    assert over == {}, f"(round trips, budget) over budget: {over}"


def test_connect_and_disconnect_are_constant(marketplace: Api, sockets: Sockets, dynamo_calls: DynamoCalls) -> None:
    """``$connect``: UpdateItem profile (the connection cap is its condition), PutItem connection. ``$disconnect``:
    GetItem connection, TransactWriteItems (rooms, watched profiles, the item: one per 100), UpdateItem profile."""
    marketplace.send("bob", recipientId="alice", patternId="p1")
    sockets.connect("alice")  # bob's watchers are not what is measured: alice stays online throughout

    def measure() -> tuple[int, int]:
        dynamo_calls.reset()
        connection = sockets.connect("bob")
        connected = dynamo_calls.total
        sockets.send(connection, "join_conversation", conversationId=PATTERN_CHAT)
        dynamo_calls.reset()
        sockets.disconnect(connection)
        return connected, dynamo_calls.total

    small = measure()
    seed_conversation("bob", "alice", SMALL_MESSAGES * GROWTH, "p1")
    seed_inbox("bob", SMALL_INBOX * GROWTH)
    large = measure()

    assert small == large == (2, 3), (small, large)


def test_the_counter_sees_every_dynamodb_call(marketplace: Api, dynamo_calls: DynamoCalls) -> None:
    """Guard for the test above: a send is a BatchGetItem (state), a TransactWriteItems (the write) and a
    BatchGetItem (the two profiles delivery needs: connections, unread total), nothing hidden."""
    marketplace.send("bob", recipientId="alice", patternId="p1")
    dynamo_calls.reset()

    marketplace.send("bob", conversationId=PATTERN_CHAT)

    assert dict(dynamo_calls.operations) == {"BatchGetItem": 2, "TransactWriteItems": 1}
