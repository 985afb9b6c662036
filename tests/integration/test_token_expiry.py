"""A connection whose token expired receives nothing more: it is told (``error`` ``token_expired``) and closed.

Frames were refused after the token's expiry, but pushes went on for as long as the socket stayed open (red-team
finding 8). The expiry travels with the entries delivery reads anyway (rooms, connection and watcher sets), so the
check costs no round trip. Time moves by the injected clock, never by sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from chalicelib.adapters.dynamodb import Connection, Conversation, UserProfile
from chalicelib.bootstrap import Services
from chalicelib.domain.clock import utc_now
from chalicelib.domain.ids import conversation_id_for
from chalicelib.settings import get_settings
from tests.integration.conftest import Api, DynamoCalls, token_for
from tests.integration.sockets import Sockets

BLANKET = conversation_id_for("alice", "bob", "p1")
HOUR = 3600


def named(entries: set[str] | None) -> set[str]:
    """The connection ids a room or a presence set holds (each entry starts with one)."""
    return {entry.split(" ")[0] for entry in entries or ()}


def forgotten(connection_id: str) -> bool:
    """Nothing remembers the connection: its item, the room, alice's connections, bob's watchers."""
    return (
        Connection.count(connection_id) == 0
        and connection_id not in named(Conversation.get(BLANKET, consistent_read=True).room)
        and connection_id not in named(UserProfile.get("alice", consistent_read=True).connection_ids)
        and connection_id not in named(UserProfile.get("bob", consistent_read=True).watcher_ids)
    )


@pytest.fixture
def later(install_services: Callable[..., Services]) -> Callable[[float], None]:
    """``later(hours)``: the services' clock runs that far ahead of the real one from now on."""

    def move(hours: float) -> None:
        offset = timedelta(hours=hours)
        install_services(clock=lambda: utc_now() + offset)

    return move


@pytest.fixture
def chat(marketplace: Api) -> Api:
    assert marketplace.send("bob", recipientId="alice", patternId="p1", content="hello").status == 201
    return marketplace


def test_a_room_member_whose_token_expired_is_told_and_closed_instead_of_getting_the_message(
    chat: Api, sockets: Sockets, later: Callable[[float], None]
) -> None:
    expiring = sockets.connect("alice", token=token_for("alice", ttl_seconds=HOUR))
    lasting = sockets.connect("alice", token=token_for("alice", ttl_seconds=10 * HOUR))
    for connection_id in (expiring, lasting):
        sockets.send(connection_id, "join_conversation", conversationId=BLANKET)
    sockets.clear()
    later(2)

    sent = chat.send("bob", conversationId=BLANKET, content="a secret after alice's token expired")

    assert sent.status == 201, sent.body
    assert sockets.frames(expiring) == [
        {
            "event": "error",
            "data": {
                "code": "token_expired",
                "message": "the token of this connection expired: reconnect with a fresh one",
                "action": None,
            },
        }
    ]
    assert sockets.was_closed(expiring) and forgotten(expiring)
    assert [e["content"] for e in sockets.events(lasting, "message_received")] == [
        "a secret after alice's token expired"
    ]
    assert len(sockets.events(lasting, "new_message_notification")) == 1


def test_a_device_that_only_gets_notifications_is_closed_too(
    chat: Api, sockets: Sockets, later: Callable[[float], None]
) -> None:
    alice = sockets.connect("alice", token=token_for("alice", ttl_seconds=HOUR))  # not joined to any room
    later(2)

    chat.send("bob", conversationId=BLANKET, content="notified?")

    assert [e["code"] for e in sockets.events(alice, "error")] == ["token_expired"]
    assert sockets.events(alice, "new_message_notification") == []
    assert sockets.was_closed(alice) and forgotten(alice)


def test_a_watcher_whose_token_expired_gets_no_presence(
    chat: Api, sockets: Sockets, later: Callable[[float], None]
) -> None:
    alice = sockets.connect("alice", token=token_for("alice", ttl_seconds=HOUR))
    sockets.send(alice, "join_conversation", conversationId=BLANKET)  # she now watches bob's presence
    sockets.clear()
    later(2)

    sockets.connect("bob", token=token_for("bob", ttl_seconds=10 * HOUR))

    assert sockets.events(alice, "presence_update") == []
    assert [e["code"] for e in sockets.events(alice, "error")] == ["token_expired"]
    assert sockets.was_closed(alice) and forgotten(alice)


def test_a_frame_after_the_expiry_is_refused_and_closes_the_connection(chat: Api, sockets: Sockets) -> None:
    alice = sockets.connect("alice", token=token_for("alice", ttl_seconds=HOUR))
    Connection(alice).update(actions=[Connection.token_expires_at.set("2000-01-01T00:00:00.000Z")])

    sockets.send(alice, "ping", requestId="p1")

    assert [(e["code"], e["requestId"]) for e in sockets.events(alice, "error")] == [("token_expired", "p1")]
    assert sockets.was_closed(alice)


def test_checking_expiries_costs_no_round_trip(
    chat: Api, sockets: Sockets, dynamo_calls: DynamoCalls, later: Callable[[float], None]
) -> None:
    alice = sockets.connect("alice", token=token_for("alice", ttl_seconds=10 * HOUR))
    sockets.send(alice, "join_conversation", conversationId=BLANKET)
    later(2)  # alice's token still holds: delivery reads what it always read
    dynamo_calls.reset()

    chat.send("bob", conversationId=BLANKET, content="delivered")

    assert dict(dynamo_calls.operations) == {"BatchGetItem": 2, "TransactWriteItems": 1}
    assert [e["content"] for e in sockets.events(alice, "message_received")] == ["delivered"]


def legacy_spelling(connection_id: str) -> None:
    """Rewrite alice's entries as they were stored before expiries were recorded."""
    room = Conversation.get(BLANKET, consistent_read=True).room or set()
    alice = UserProfile.get("alice", consistent_read=True)
    bob = UserProfile.get("bob", consistent_read=True)
    Conversation(BLANKET).update(
        actions=[
            Conversation.room.set({e for e in room if not e.startswith(connection_id)} | {f"{connection_id} alice"})
        ]
    )
    UserProfile("alice").update(actions=[UserProfile.connection_ids.set({connection_id})])
    watchers = {e for e in bob.watcher_ids or set() if not e.startswith(connection_id)} | {connection_id}
    UserProfile("bob").update(actions=[UserProfile.watcher_ids.set(watchers)])
    assert alice.connection_ids and named(alice.connection_ids) == {connection_id}


def test_entries_written_before_expiries_were_recorded_keep_working_until_closed(
    chat: Api, sockets: Sockets, later: Callable[[float], None]
) -> None:
    alice = sockets.connect("alice", token=token_for("alice", ttl_seconds=HOUR))
    sockets.send(alice, "join_conversation", conversationId=BLANKET)
    legacy_spelling(alice)
    later(2)  # an entry without an expiry is never taken for expired: it ages out with its connection

    chat.send("bob", conversationId=BLANKET, content="still delivered")
    sockets.disconnect(alice)

    assert [e["content"] for e in sockets.events(alice, "message_received")] == ["still delivered"]
    assert forgotten(alice)


def test_expiries_are_the_tokens_own(chat: Api, sockets: Sockets) -> None:
    token = token_for("alice", ttl_seconds=HOUR)
    alice = sockets.connect("alice", token=token)
    sockets.send(alice, "join_conversation", conversationId=BLANKET)

    stored = Connection.get(alice).token_expires_at
    expiry = int(datetime.fromisoformat(stored.replace("Z", "+00:00")).timestamp())
    assert abs(expiry - (time.time() + HOUR)) < 60 + get_settings().jwt_leeway_seconds
    for entries in (
        Conversation.get(BLANKET).room,
        UserProfile.get("alice").connection_ids,
        UserProfile.get("bob").watcher_ids,
    ):
        assert [e.split(" ")[-1] for e in entries or ()] == [str(expiry)]
