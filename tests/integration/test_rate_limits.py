"""Per-user rate limits (OWASP API4): 429 + Retry-After on REST, an error frame on the socket, nothing written."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from chalicelib.adapters.dynamodb import (
    Attachment,
    Connection,
    Conversation,
    Message,
    RateCounter,
    UserProfile,
    rate_limits,
)
from chalicelib.bootstrap import Services
from chalicelib.domain.delivery import Outcome
from chalicelib.domain.ids import conversation_id_for, parse_message_id
from chalicelib.settings import get_settings
from tests.fakes import RecordingConnections
from tests.integration.conftest import Api, DynamoCalls, token_for
from tests.integration.sockets import Sockets

BLANKET = conversation_id_for("alice", "bob", "p1")


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Small, slow windows, so a test crosses them deterministically."""
    monkeypatch.setenv("RATE_LIMIT_SEND", "3/3600")
    monkeypatch.setenv("RATE_LIMIT_CONVERSATION", "2/3600")
    monkeypatch.setenv("RATE_LIMIT_PRESIGN", "2/3600")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_sends_over_the_limit_get_429_and_store_nothing(marketplace: Api, limits: None) -> None:
    statuses = [marketplace.send("bob", recipientId="alice", patternId="p1", content=f"m{i}").status for i in range(4)]

    refused = marketplace.send("bob", recipientId="alice", patternId="p1", content="one more")
    assert statuses == [201, 201, 201, 429]
    assert refused.status == 429
    assert refused.body["error"]["code"] == "rate_limited"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 3600 and refused.body["error"]["details"]["retryAfter"] == retry_after
    assert Conversation.get(BLANKET).message_count == 3
    assert marketplace.conversations("alice").body["totalUnread"] == 3


def test_limits_are_per_user(marketplace: Api, limits: None) -> None:
    for index in range(3):
        marketplace.send("bob", recipientId="alice", content=f"{index}")

    assert marketplace.send("bob", recipientId="alice").status == 429
    assert marketplace.send("alice", recipientId="bob").status == 201


def test_idempotent_retries_are_not_counted(marketplace: Api, limits: None) -> None:
    first = marketplace.send("bob", recipientId="alice", clientMessageId="same")
    retries = [marketplace.send("bob", recipientId="alice", clientMessageId="same").status for _ in range(5)]

    assert first.status == 201 and retries == [200] * 5
    assert marketplace.send("bob", recipientId="alice", content="new").status == 201


def test_opening_conversations_is_limited(marketplace: Api, limits: None) -> None:
    for user in ("u1", "u2", "u3"):
        marketplace.user(user)

    opened = [marketplace.send("dave", recipientId=user).status for user in ("u1", "u2", "u3")]
    pattern = marketplace.call("GET", "/api/messages/pattern/p1", "bob")

    assert opened == [201, 201, 429]
    assert pattern.status == 201  # bob's own budget
    assert marketplace.conversations("dave").body["conversations"].__len__() == 2


def test_presigns_are_limited(marketplace: Api, limits: None) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1")
    body = {"conversationId": BLANKET, "fileName": "a.png", "contentType": "image/png", "size": 10}

    statuses = [marketplace.call("POST", "/api/attachments", "bob", body).status for _ in range(3)]

    assert statuses == [201, 201, 429]
    assert Attachment.count() == 2


def test_the_socket_answers_with_an_error_frame(marketplace: Api, sockets: Sockets, limits: None) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1")
    bob = sockets.connect("bob")

    for index in range(3):
        sockets.send(bob, "new_message", conversationId=BLANKET, content=f"{index}")

    assert len(sockets.events(bob, "message_sent")) == 2
    [error] = sockets.events(bob, "error")
    assert error["code"] == "rate_limited" and error["action"] == "new_message"
    assert error["details"]["retryAfter"] >= 1


def test_limits_cost_no_extra_round_trip(marketplace: Api, dynamo_calls: DynamoCalls, limits: None) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1")
    dynamo_calls.reset()

    marketplace.send("bob", conversationId=BLANKET)

    assert dict(dynamo_calls.operations) == {"BatchGetItem": 2, "TransactWriteItems": 1}
    assert RateCounter.count() >= 1


def test_retry_after_points_at_the_end_of_the_window() -> None:
    from pynamodb.exceptions import CancellationReason

    full = CancellationReason(code="ConditionalCheckFailed", raw_item={"key": {"S": "rate#send#2#500#bob"}})

    limited = rate_limits.rate_limited([None, full], now=1000.5)

    assert limited is not None and limited.retry_after == 2  # window 500 covers [1000, 1002)
    other = CancellationReason(code="ConditionalCheckFailed", raw_item={"id": {"S": "conv_x"}})
    assert rate_limits.rate_limited([other]) is None


# --- socket actions, the expensive GETs, connections per user (red-team finding 5) ------------------------------


@pytest.fixture
def tight(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Two of each per hour: the third of a kind is refused."""
    for name in ("ROOM", "TYPING", "READ", "PING", "SYNC", "HISTORY", "EDIT", "REACTION", "PRESENCE"):
        monkeypatch.setenv(f"RATE_LIMIT_{name}", "2/3600")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def refused(sockets: Sockets, connection_id: str) -> list[tuple[str, str | None]]:
    return [(e["code"], e["action"]) for e in sockets.events(connection_id, "error")]


def test_pings_over_the_limit_get_an_error_frame(marketplace: Api, sockets: Sockets, tight: None) -> None:
    bob = sockets.connect("bob")

    for index in range(3):
        sockets.send(bob, "ping", requestId=f"p{index}")

    assert [f["event"] for f in sockets.frames(bob)] == ["pong", "pong", "error"]
    [error] = sockets.events(bob, "error")
    assert (error["code"], error["action"], error["requestId"]) == ("rate_limited", "ping", "p2")
    assert 1 <= error["details"]["retryAfter"] <= 3600


def test_joins_and_leaves_share_one_limit_and_a_refused_one_changes_nothing(
    marketplace: Api, sockets: Sockets, tight: None
) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1")
    bob = sockets.connect("bob")

    sockets.send(bob, "join_conversation", conversationId=BLANKET)
    sockets.send(bob, "leave_conversation", conversationId=BLANKET)
    sockets.send(bob, "join_conversation", conversationId=BLANKET)

    assert refused(sockets, bob) == [("rate_limited", "join_conversation")]
    assert not Conversation.get(BLANKET).room  # the refused join wrote nothing
    assert not Connection.get(bob).rooms


def test_joining_a_room_again_counts_like_a_join(marketplace: Api, sockets: Sockets, tight: None) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1")
    bob = sockets.connect("bob")

    for _ in range(3):
        sockets.send(bob, "join_conversation", conversationId=BLANKET)

    assert refused(sockets, bob) == [("rate_limited", "join_conversation")]


def test_typing_over_the_limit_reaches_nobody(marketplace: Api, sockets: Sockets, tight: None) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1")
    alice, bob = sockets.connect("alice"), sockets.connect("bob")
    sockets.send(alice, "join_conversation", conversationId=BLANKET)

    for action in ("typing_start", "typing_stop", "typing_start"):
        sockets.send(bob, action, conversationId=BLANKET)

    assert refused(sockets, bob) == [("rate_limited", "typing_start")]
    assert [f["event"] for f in sockets.frames(alice)] == ["conversation_joined", "user_typing", "user_stopped_typing"]


def test_read_receipts_are_limited_on_the_socket_and_over_rest_alike(
    marketplace: Api, sockets: Sockets, tight: None
) -> None:
    message_id = marketplace.send("bob", recipientId="alice", patternId="p1").body["message"]["id"]
    alice = sockets.connect("alice")

    sockets.send(alice, "message_read", messageId=message_id)  # moves the read position: counted in its write
    sockets.send(alice, "message_read", messageId=message_id)  # changes nothing: counted on its own
    over_rest = marketplace.mark_read("alice", message_id)

    assert [f["event"] for f in sockets.frames(alice)] == ["read_updated", "read_updated"]
    assert over_rest.status == 429 and int(over_rest.headers["Retry-After"]) >= 1


def test_sync_and_history_over_the_limit_get_429(marketplace: Api, tight: None) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1")
    cursor = marketplace.call("GET", "/api/messages/sync", "bob").body["nextCursor"]  # no cursor: nothing read

    syncs = [marketplace.call("GET", f"/api/messages/sync?since={cursor}", "bob") for _ in range(3)]
    pages = [
        marketplace.call("GET", f"/api/messages/conversations/{BLANKET}", "bob"),
        marketplace.conversation("bob", BLANKET),  # the seed's form of the same history
        marketplace.call("GET", f"/api/messages/conversations/{BLANKET}", "bob"),
    ]

    assert [r.status for r in syncs] == [200, 200, 429]
    assert [r.status for r in pages] == [200, 200, 429]
    for response in (syncs[-1], pages[-1]):
        assert response.body["error"]["code"] == "rate_limited"
        assert int(response.headers["Retry-After"]) == response.body["error"]["details"]["retryAfter"] >= 1
    assert marketplace.call("GET", f"/api/messages/conversations/{BLANKET}", "alice").status == 200  # per user


def _stored(message_id: str) -> Message:
    stored = parse_message_id(message_id)
    assert stored is not None
    return Message.get(*stored, consistent_read=True)


def test_edits_and_deletions_share_one_limit_on_the_socket_and_over_rest(
    marketplace: Api, sockets: Sockets, tight: None
) -> None:
    message_id = marketplace.send("bob", recipientId="alice", patternId="p1", content="hi").body["message"]["id"]
    bob = sockets.connect("bob")

    sockets.send(bob, "edit_message", messageId=message_id, content="hello")  # counted in its write
    edited = marketplace.call("PATCH", f"/api/messages/{message_id}", "bob", {"content": "hello!"})
    deleted = marketplace.call("DELETE", f"/api/messages/{message_id}", "bob")

    assert [f["event"] for f in sockets.frames(bob)] == ["message_edited"] and edited.status == 200
    assert deleted.status == 429 and deleted.body["error"]["code"] == "rate_limited"
    assert int(deleted.headers["Retry-After"]) >= 1
    stored = _stored(message_id)
    assert (stored.content, stored.is_deleted, stored.version) == ("hello!", None, 3)  # the refused one wrote nothing
    assert marketplace.call("PATCH", f"/api/messages/{message_id}", "alice", {"content": "x"}).status == 403  # per user


def test_reactions_that_change_nothing_count_too(marketplace: Api, sockets: Sockets, tight: None) -> None:
    message_id = marketplace.send("bob", recipientId="alice", patternId="p1", content="hi").body["message"]["id"]
    alice = sockets.connect("alice")

    sockets.send(alice, "add_reaction", messageId=message_id, emoji="🧶")  # counted in its write
    again = marketplace.call("PUT", f"/api/messages/{message_id}/reactions/%F0%9F%A7%B6", "alice")  # on its own
    sockets.send(alice, "remove_reaction", messageId=message_id, emoji="🧶")

    assert again.status == 200
    assert refused(sockets, alice) == [("rate_limited", "remove_reaction")]
    assert _stored(message_id).reactions == [{"emoji": "🧶", "userIds": ["alice"]}]


def test_watch_lists_over_the_limit_change_nothing(marketplace: Api, sockets: Sockets, tight: None) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1")
    bob = sockets.connect("bob")

    sockets.send(bob, "watch_presence", userIds=["alice"])  # counted in its write
    sockets.send(bob, "watch_presence", userIds=["alice"])  # the same list: counted on its own
    sockets.send(bob, "watch_presence", userIds=[])

    assert [f["event"] for f in sockets.frames(bob)] == ["presence_watched", "presence_watched", "error"]
    assert refused(sockets, bob) == [("rate_limited", "watch_presence")]
    assert Connection.get(bob).watching == {"alice"}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """``environment(NAME=value, ...)``: settings read again with these variables (restored after the test)."""

    def set_variables(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_variables
    get_settings.cache_clear()


def test_what_each_limit_costs_in_round_trips(
    marketplace: Api, sockets: Sockets, dynamo_calls: DynamoCalls, environment: Callable[..., None]
) -> None:
    """Join, leave and a moving read carry their counter in the write they make anyway; typing, ping and a read that
    changes nothing add one UpdateItem."""
    message_id = marketplace.send("bob", recipientId="alice", patternId="p1").body["message"]["id"]

    def measure() -> dict[str, int]:
        connection = sockets.connect("alice")
        frames = [
            ("join_conversation", {"conversationId": BLANKET}),
            ("typing_start", {"conversationId": BLANKET}),
            ("message_read", {"messageId": message_id}),
            ("ping", {}),
            ("leave_conversation", {"conversationId": BLANKET}),
        ]
        costs = {}
        for action, fields in frames:
            dynamo_calls.reset()
            sockets.send(connection, action, **fields)
            costs[action] = dynamo_calls.total
        assert not sockets.events(connection, "error")
        return costs

    unlimited = measure()
    environment(**{f"RATE_LIMIT_{name}": "100/3600" for name in ("ROOM", "TYPING", "READ", "PING")})
    marketplace.send("bob", conversationId=BLANKET)  # unread again, so that the read moves
    limited = measure()

    assert {a: limited[a] - unlimited[a] for a in limited} == {
        "join_conversation": 0,
        "typing_start": 1,
        "message_read": 0,
        "ping": 1,
        "leave_conversation": 0,
    }


@pytest.fixture
def cap(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MAX_CONNECTIONS_PER_USER", "3")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_user_over_the_connection_cap_is_refused_the_upgrade(marketplace: Api, sockets: Sockets, cap: None) -> None:
    opened = [sockets.connect("bob") for _ in range(3)]

    over = sockets.connect_status(token_for("bob"))
    someone_else = sockets.connect_status(token_for("alice"))
    sockets.disconnect(opened[0])
    after_closing_one = sockets.connect_status(token_for("bob"))

    assert (over, someone_else, after_closing_one) == (429, 200, 200)
    assert sorted(c.user_id for c in Connection.scan()) == ["alice", "bob", "bob", "bob"]
    assert len(UserProfile.get("bob").connection_ids) == 3


def test_connections_that_are_dead_hold_no_slot(
    marketplace: Api, sockets: Sockets, cap: None, install_services: Callable[..., Services]
) -> None:
    connections = RecordingConnections()
    install_services(connections=connections)
    lost, expired, alive = (sockets.connect("bob") for _ in range(3))
    connections.outcomes[lost] = Outcome.GONE  # its $disconnect was lost: API Gateway no longer knows it
    profile = UserProfile.get("bob")
    entries = {e for e in profile.connection_ids if not e.startswith(expired)} | {f"{expired} 946684800"}  # 2000
    UserProfile("bob").update(actions=[UserProfile.connection_ids.set(entries)])

    fresh = sockets.connect_status(token_for("bob"))

    assert fresh == 200
    assert connections.closed == [expired]  # told (token_expired) and closed; the lost one is gone already
    assert [event for event, _ in connections.received(expired)] == ["error"]
    assert {e.split(" ")[0] for e in UserProfile.get("bob").connection_ids} >= {alive}
    assert len(UserProfile.get("bob").connection_ids) == 2
    assert sockets.connect_status(token_for("bob")) == 200
    assert sockets.connect_status(token_for("bob")) == 429  # three live ones again


def test_connections_older_than_api_gateway_allows_hold_no_slot(marketplace: Api, sockets: Sockets, cap: None) -> None:
    for _ in range(3):
        sockets.connect("bob")  # none of their $disconnects will come
    UserProfile("bob").update(actions=[UserProfile.presence_expires_at.set("2000-01-01T00:00:00.000Z")])

    assert sockets.connect_status(token_for("bob")) == 200
    assert len(UserProfile.get("bob").connection_ids) == 1
