"""Cost does not grow with data: DynamoDB round trips per endpoint, at one size and at 100 times it.

Counts are deterministic (botocore calls), so equality is asserted exactly; speed belongs to
benchmarks, never to tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

import pytest

from chalicelib.domain.ids import conversation_id_for, message_id_for
from tests.integration.conftest import Api, DynamoCalls
from tests.integration.factories import seed_conversation, seed_inbox
from tests.integration.sockets import Sockets

SMALL_MESSAGES, SMALL_INBOX = 10, 3
GROWTH = 100
PATTERN_CHAT = conversation_id_for("alice", "bob", "p1")
YARN = "%F0%9F%A7%B6"  # 🧶 in a path
_unique = count()


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


def _fresh_buyer(world: World) -> str:
    buyer = f"buyer{next(_unique)}"
    world.api.user(buyer)
    world.api.purchase("p1", buyer)
    return buyer


# name -> (budget, operation). Each operation prepares what it needs unmeasured, then returns the
# measured call, which must succeed.
Operation = Callable[[World], Callable[[], object]]

OPERATIONS: dict[str, tuple[int, Operation]] = {
    "list conversations": (3, lambda w: lambda: w.api.call("GET", "/api/messages", "alice")),
    "conversations + totalUnread": (3, lambda w: lambda: w.api.conversations("alice")),
    "conversation detail": (3, lambda w: lambda: w.api.conversation("alice", PATTERN_CHAT)),
    "history page (before)": (
        3,
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
    "send a reply": (
        3,
        lambda w: (
            lambda m: lambda: w.api.send("alice", conversationId=PATTERN_CHAT, content="4 mm", replyTo={"messageId": m})
        )(_bobs_new_message(w)),
    ),
    "history page quoting older messages": (
        3,
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


SOCKET_OPERATIONS: dict[str, Callable[[World], tuple[str, dict[str, object]]]] = {
    "edit_message": lambda w: ("bob", {"messageId": _quoted_twice(w), "content": "edited"}),
    "delete_message": lambda w: ("bob", {"messageId": _bobs_new_message(w)}),
    "add_reaction": lambda w: ("alice", {"messageId": _bobs_new_message(w), "emoji": "🧶"}),
    "remove_reaction": lambda w: ("alice", {"messageId": _yarn_from_alice(w), "emoji": "🧶"}),
}


@pytest.mark.parametrize("action", sorted(SOCKET_OPERATIONS))
def test_socket_changes_cost_three_round_trips_at_any_size(
    marketplace: Api, sockets: Sockets, dynamo_calls: DynamoCalls, action: str
) -> None:
    """The connection is read in the change's first BatchGetItem, so a socket change costs what its REST twin does."""
    world = World(marketplace)
    seed_conversation("bob", "alice", SMALL_MESSAGES, "p1")
    witness = sockets.connect("alice")
    sockets.send(witness, "join_conversation", conversationId=PATTERN_CHAT)

    def measure() -> int:
        user, fields = SOCKET_OPERATIONS[action](world)
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


def test_the_counter_sees_every_dynamodb_call(marketplace: Api, dynamo_calls: DynamoCalls) -> None:
    """Guard for the test above: a send is a BatchGetItem (state), a TransactWriteItems (the write) and a
    BatchGetItem (the two profiles delivery needs: connections, unread total), nothing hidden."""
    marketplace.send("bob", recipientId="alice", patternId="p1")
    dynamo_calls.reset()

    marketplace.send("bob", conversationId=PATTERN_CHAT)

    assert dict(dynamo_calls.operations) == {"BatchGetItem": 2, "TransactWriteItems": 1}
