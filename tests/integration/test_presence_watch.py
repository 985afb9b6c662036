"""``watch_presence``: online dots for the whole inbox page, not only for the conversations a connection joined."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.adapters.dynamodb import Connection, Contact, UserProfile
from chalicelib.bootstrap import Services
from chalicelib.domain.clock import utc_now
from chalicelib.domain.connections import parse_connections
from chalicelib.domain.ids import conversation_id_for
from chalicelib.services import sessions
from infrastructure.backfill_contacts import backfill_contacts
from tests.integration.conftest import Api, DynamoCalls, token_for
from tests.integration.factories import seed_inbox
from tests.integration.sockets import Sockets

BLANKET = conversation_id_for("alice", "bob", "p1")


@pytest.fixture
def inbox(marketplace: Api) -> Api:
    """bob talks with alice (about p1) and with dave (directly); carol talks with nobody."""
    for body in ({"recipientId": "alice", "patternId": "p1"}, {"recipientId": "dave"}):
        assert marketplace.send("bob", content="hi", **body).status == 201
    return marketplace


def watch(sockets: Sockets, connection_id: str, *user_ids: str) -> dict[str, Any]:
    sockets.send(connection_id, "watch_presence", userIds=list(user_ids), requestId="w")
    [answer] = sockets.events(connection_id, "presence_watched")[-1:]
    return answer


def watchers_of(user_id: str) -> set[str]:
    """The connection ids a profile's watcher entries name (each entry also carries its token's expiry)."""
    return set(parse_connections(UserProfile.get(user_id).watcher_ids))


def test_only_users_one_shares_a_conversation_with_are_watched(inbox: Api, sockets: Sockets) -> None:
    alice = sockets.connect("alice")
    bob = sockets.connect("bob")

    answer = watch(sockets, bob, "alice", "carol", "dave", "bob", "nobody", "alice")

    assert answer["userIds"] == ["alice", "dave"]
    assert answer["presence"] == [
        {"userId": "alice", "online": True},
        {"userId": "dave", "online": False},
    ]
    assert answer["requestId"] == "w"
    assert set(Connection.get(bob).watching) == {"alice", "dave"}
    assert bob in watchers_of("alice") and bob in watchers_of("dave") and bob not in watchers_of("carol")
    assert alice not in watchers_of("bob")


def test_a_watching_connection_gets_presence_updates_without_joining(inbox: Api, sockets: Sockets) -> None:
    bob = sockets.connect("bob")
    watch(sockets, bob, "alice", "dave")
    sockets.clear()

    dave = sockets.connect("dave")
    sockets.disconnect(dave)

    assert [(u["userId"], u["online"]) for u in sockets.events(bob, "presence_update")] == [
        ("dave", True),
        ("dave", False),
    ]
    assert "lastSeenAt" in watch(sockets, bob, "dave")["presence"][0]


def test_a_new_list_replaces_the_old_one(inbox: Api, sockets: Sockets) -> None:
    bob = sockets.connect("bob")
    watch(sockets, bob, "alice", "dave")

    watch(sockets, bob, "dave")
    sockets.clear()
    sockets.connect("alice")

    assert sockets.events(bob, "presence_update") == []
    assert bob not in watchers_of("alice") and bob in watchers_of("dave")
    assert set(Connection.get(bob).watching) == {"dave"}
    watch(sockets, bob)
    assert Connection.get(bob).watching is None and bob not in watchers_of("dave")


def test_a_room_partner_stays_watched_through_the_room(inbox: Api, sockets: Sockets) -> None:
    bob = sockets.connect("bob")
    sockets.send(bob, "join_conversation", conversationId=BLANKET)
    watch(sockets, bob, "alice")

    watch(sockets, bob)
    assert bob in watchers_of("alice")  # the room still wants alice's presence

    watch(sockets, bob, "alice")
    sockets.send(bob, "leave_conversation", conversationId=BLANKET)
    assert bob in watchers_of("alice")  # and the watch list still does after leaving the room


def test_closing_a_connection_forgets_what_it_watched(inbox: Api, sockets: Sockets) -> None:
    bob = sockets.connect("bob")
    watch(sockets, bob, "alice", "dave")

    sockets.disconnect(bob)

    assert bob not in watchers_of("alice") and bob not in watchers_of("dave")


def test_a_watcher_whose_token_expired_is_closed_instead_of_told(
    inbox: Api, sockets: Sockets, install_services: Callable[..., Services]
) -> None:
    """Watch entries carry the token's expiry like the ones a join writes: no read is needed to tell."""
    bob = sockets.connect("bob", token=token_for("bob", ttl_seconds=3600))
    watch(sockets, bob, "dave")
    sockets.clear()
    install_services(clock=lambda: utc_now() + timedelta(hours=2))

    sockets.connect("dave", token=token_for("dave", ttl_seconds=10 * 3600))

    assert sockets.events(bob, "presence_update") == []
    assert [e["code"] for e in sockets.events(bob, "error")] == ["token_expired"]
    assert sockets.was_closed(bob) and bob not in watchers_of("dave")


def test_a_list_changed_by_a_concurrent_frame_is_read_again(inbox: Api, sockets: Sockets) -> None:
    """Frames of one socket run concurrently: a watch decided on a stale read of the connection retries."""
    bob = sockets.connect("bob")
    stale = sessions.get_connection(bob)
    watch(sockets, bob, "alice")  # another frame, after ``stale`` was read

    sessions.watch_presence(stale, ["dave"])

    assert set(Connection.get(bob).watching) == {"dave"}
    assert bob not in watchers_of("alice") and bob in watchers_of("dave")


def test_leaving_a_room_keeps_a_watch_made_by_a_concurrent_frame(inbox: Api, sockets: Sockets) -> None:
    bob = sockets.connect("bob")
    sockets.send(bob, "join_conversation", conversationId=BLANKET)
    stale = sessions.get_connection(bob)
    watch(sockets, bob, "alice")  # another frame, after ``stale`` was read

    sessions.leave_room(stale, BLANKET)

    assert bob in watchers_of("alice")  # the watch list still wants alice's presence


def test_the_list_is_capped(inbox: Api, sockets: Sockets) -> None:
    bob = sockets.connect("bob")

    sockets.send(bob, "watch_presence", userIds=[f"user{i}" for i in range(50)])

    [error] = sockets.events(bob, "error")
    assert (error["code"], error["details"][0]["field"]) == ("invalid_request", "userIds")


@pytest.mark.parametrize("user_ids", [None, "alice", [7], ["not an id!"]])
def test_a_malformed_list_is_refused(inbox: Api, sockets: Sockets, user_ids: Any) -> None:
    bob = sockets.connect("bob")

    sockets.send(bob, "watch_presence", **({} if user_ids is None else {"userIds": user_ids}))

    [error] = sockets.events(bob, "error")
    assert error["code"] == "invalid_request"


def test_every_way_of_opening_a_conversation_records_both_contacts(inbox: Api) -> None:
    inbox.purchase("p1", "carol")
    assert inbox.call("GET", "/api/messages/pattern/p1", "carol").status == 201  # opened without a message
    seed_inbox("dave", 1)  # the seeders' factories (dev/bulk.py)

    contacts = {(c.user_id, c.contact_id) for c in Contact.scan()}

    assert contacts == {
        ("bob", "alice"),
        ("alice", "bob"),
        ("bob", "dave"),
        ("dave", "bob"),
        ("carol", "alice"),
        ("alice", "carol"),
        ("dave-partner-0", "dave"),
        ("dave", "dave-partner-0"),
    }


def test_conversations_from_before_contacts_are_watched_once_backfilled(inbox: Api, sockets: Sockets) -> None:
    for contact in Contact.scan():
        contact.delete()  # as a stage deployed before the contacts table has them
    bob = sockets.connect("bob")
    assert watch(sockets, bob, "alice", "dave")["userIds"] == []

    assert backfill_contacts() == 4  # bob's and his partners' memberships
    assert watch(sockets, bob, "alice", "dave")["userIds"] == ["alice", "dave"]
    assert backfill_contacts() == 4  # again: the same items


def test_watching_costs_the_same_at_any_size(inbox: Api, sockets: Sockets, dynamo_calls: DynamoCalls) -> None:
    seed_inbox("bob", 3)
    bob = sockets.connect("bob")

    def measure(*user_ids: str) -> int:
        dynamo_calls.reset()
        answer = watch(sockets, bob, *user_ids)
        assert answer["userIds"] == list(user_ids)
        return dynamo_calls.total

    small = measure(*[f"bob-partner-{i}" for i in range(3)], "alice")
    seed_inbox("bob", 300, first_partner=3)
    large = measure(*[f"bob-partner-{i}" for i in range(3, 6)], "alice")
    longest = measure(*[f"bob-partner-{i}" for i in range(49)])

    # GetItem connection, BatchGetItem contacts + profiles + blocks (4 keys a user: one more past 25 users),
    # TransactWriteItems
    assert small == large == 3
    assert longest == 4
    assert len(Connection.get(bob).watching) == 49
