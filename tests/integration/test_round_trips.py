"""Cost does not grow with data: DynamoDB round trips per endpoint, at one size and at 100 times it.

Counts are deterministic (botocore calls), so equality is asserted exactly; speed belongs to
benchmarks, never to tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

import pytest

from chalicelib.domain.ids import conversation_id_for
from tests.integration.conftest import Api, DynamoCalls
from tests.integration.factories import seed_conversation, seed_inbox

SMALL_MESSAGES, SMALL_INBOX = 10, 3
GROWTH = 100
PATTERN_CHAT = conversation_id_for("alice", "bob", "p1")
_unique = count()


@dataclass
class World:
    api: Api

    def newest_for(self, user: str) -> str:
        """The newest message addressed to ``user`` in the pattern chat (read before measuring)."""
        page = self.api.conversation(user, PATTERN_CHAT, "&limit=4").body["messages"]
        return next(m["id"] for m in reversed(page) if m["recipientId"] == user)


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


def test_the_counter_sees_every_dynamodb_call(marketplace: Api, dynamo_calls: DynamoCalls) -> None:
    """Guard for the test above: a send is a BatchGetItem (state), a TransactWriteItems (the write) and a
    BatchGetItem (the two profiles delivery needs: connections, unread total), nothing hidden."""
    marketplace.send("bob", recipientId="alice", patternId="p1")
    dynamo_calls.reset()

    marketplace.send("bob", conversationId=PATTERN_CHAT)

    assert dict(dynamo_calls.operations) == {"BatchGetItem": 2, "TransactWriteItems": 1}
