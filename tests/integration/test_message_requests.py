"""Message requests (issue 16): who may reach a creator's inbox. A stranger's conversation with a creator waits in the
creator's ``requests`` folder, tells nothing of the creator to the stranger (presence, typing, read receipts), and
notifies no one; buyers go to the inbox; replying or ``accepted: true`` accepts; declining is blocking."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamodb import Membership
from chalicelib.domain.ids import conversation_id_for
from tests.integration.conftest import Api
from tests.integration.sockets import Sockets

DIRECT = conversation_id_for("gus", "erin", None)


@pytest.fixture
def requests_market(marketplace: Api) -> Api:
    """Erin creates p3 and takes no direct messages from strangers; Frank bought p3; Gus is a stranger."""
    marketplace.pattern("p3", "erin", "Lace Shawl")
    for user in ("erin", "frank", "gus"):
        marketplace.user(user)
    marketplace.purchase("p3", "frank")
    return marketplace


def ids(api: Api, user: str, folder: str = "inbox") -> list[str]:
    return [c["id"] for c in api.conversations(user, f"?folder={folder}").body["conversations"]]


def counters(api: Api, user: str) -> tuple[int, int]:
    body = api.conversations(user).body
    return body["totalUnread"], body["requestsCount"]


def settings(api: Api, user: str, conversation_id: str, **body: Any) -> Any:
    return api.call("PUT", f"/api/messages/conversations/{conversation_id}/settings", user, body)


def test_a_strangers_message_to_a_creator_is_a_request(requests_market: Api, sockets: Sockets) -> None:
    erin = sockets.connect("erin")
    sockets.clear()

    sent = requests_market.send("gus", recipientId="erin", content="do you take commissions?")
    requests_market.send("gus", conversationId=DIRECT, content="please?")

    assert sent.status == 201 and sent.body["conversation"]["id"] == DIRECT
    assert ids(requests_market, "erin") == []
    assert ids(requests_market, "erin", "requests") == [DIRECT]
    assert counters(requests_market, "erin") == (0, 1)  # the requests badge only; its unread is not in the total
    assert sockets.names(erin) == []  # no notification of any kind
    request = requests_market.conversations("erin", "?folder=requests").body["conversations"][0]
    assert request["unreadCount"] == 2 and request["settings"]["archived"] is False
    assert Membership.get("erin", DIRECT).request is True  # what offline notifications read (issue 18)
    assert ids(requests_market, "gus") == [DIRECT]  # the requester's own inbox


@pytest.mark.parametrize(
    "sender,body",
    [
        ("frank", {"recipientId": "erin"}),  # bought one of erin's patterns
        ("frank", {"recipientId": "erin", "patternId": "p3"}),
        ("gus", {"recipientId": "frank"}),  # frank is no creator
    ],
    ids=["buyer, direct", "buyer, about the pattern", "to a non-creator"],
)
def test_buyers_and_non_creators_go_straight_to_the_inbox(
    requests_market: Api, sockets: Sockets, sender: str, body: dict[str, Any]
) -> None:
    recipient = body["recipientId"]
    watcher = sockets.connect(recipient)
    sockets.clear()

    conversation = requests_market.send(sender, content="hi", **body).body["conversation"]["id"]

    assert ids(requests_market, recipient) == [conversation]
    assert counters(requests_market, recipient) == (1, 0)
    assert sockets.names(watcher)[:1] == ["new_message_notification"]


def test_a_purchase_recorded_later_makes_later_conversations_ordinary(requests_market: Api) -> None:
    requests_market.purchase("p3", "gus")

    requests_market.send("gus", recipientId="erin", content="I bought the shawl")

    assert ids(requests_market, "erin") == [DIRECT]


def test_the_platform_can_open_a_creator_to_everyone(requests_market: Api) -> None:
    opened = requests_market.user("erin", accepts_direct_messages=True)
    assert opened.body["acceptsDirectMessages"] is True

    requests_market.send("gus", recipientId="erin", content="hi")

    assert ids(requests_market, "erin") == [DIRECT]
    assert counters(requests_market, "erin") == (1, 0)


def test_the_requester_learns_nothing_of_the_creator(requests_market: Api, sockets: Sockets) -> None:
    first = requests_market.send("gus", recipientId="erin", content="hi").body["message"]["id"]
    gus = sockets.connect("gus")
    sockets.send(gus, "join_conversation", conversationId=DIRECT)
    erin = sockets.connect("erin")  # online now
    sockets.send(erin, "join_conversation", conversationId=DIRECT)
    sockets.clear()

    sockets.send(erin, "typing_start", conversationId=DIRECT)
    requests_market.mark_read("erin", first)
    sockets.disconnect(erin)

    assert sockets.names(gus) == []  # no typing, no read receipt, no presence_update
    detail = requests_market.conversation("gus", DIRECT).body
    assert detail["messages"][0]["isRead"] is False and "readAt" not in detail["messages"][0]
    assert detail["conversation"]["otherParticipant"]["online"] is False
    assert "lastSeenAt" not in detail["conversation"]["otherParticipant"]
    listed = requests_market.conversations("gus").body["conversations"][0]
    assert "lastSeenAt" not in listed["otherParticipant"]
    watched = sockets.connect("gus")
    sockets.send(watched, "watch_presence", userIds=["erin"])
    assert sockets.events(watched, "presence_watched")[0]["userIds"] == []


def test_the_creator_still_sees_the_requesters_typing(requests_market: Api, sockets: Sockets) -> None:
    requests_market.send("gus", recipientId="erin", content="hi")
    erin = sockets.connect("erin")
    sockets.send(erin, "join_conversation", conversationId=DIRECT)
    gus = sockets.connect("gus")
    sockets.clear()

    sockets.send(gus, "typing_start", conversationId=DIRECT)

    assert sockets.names(erin) == ["user_typing"]


def test_replying_accepts_the_request(requests_market: Api, sockets: Sockets) -> None:
    first = requests_market.send("gus", recipientId="erin", content="hi").body["message"]["id"]

    requests_market.send("erin", conversationId=DIRECT, content="hello Gus")

    assert ids(requests_market, "erin") == [DIRECT]
    assert ids(requests_market, "erin", "requests") == []
    assert counters(requests_market, "erin") == (1, 0)  # gus's unread message counts now
    assert Membership.get("erin", DIRECT).request is None
    gus = sockets.connect("gus")
    sockets.send(gus, "join_conversation", conversationId=DIRECT)
    sockets.clear()
    requests_market.mark_read("erin", first)
    assert sockets.names(gus) == ["message_read_update"]  # receipts flow once accepted
    assert requests_market.conversation("gus", DIRECT).body["messages"][0]["isRead"] is True
    watched = sockets.connect("gus")
    sockets.send(watched, "watch_presence", userIds=["erin"])
    assert sockets.events(watched, "presence_watched")[0]["userIds"] == ["erin"]


def test_accepting_with_the_settings_moves_it_to_the_inbox(requests_market: Api, sockets: Sockets) -> None:
    requests_market.send("gus", recipientId="erin", content="hi")
    erin = sockets.connect("erin")
    sockets.clear()

    accepted = settings(requests_market, "erin", DIRECT, accepted=True)

    assert accepted.status == 200
    assert ids(requests_market, "erin") == [DIRECT]
    assert counters(requests_market, "erin") == (1, 0)
    assert [e["conversationId"] for e in sockets.events(erin, "conversation_updated")] == [DIRECT]
    again = settings(requests_market, "erin", DIRECT, accepted=True)  # idempotent
    assert again.body == accepted.body and counters(requests_market, "erin") == (1, 0)


def test_the_requester_cannot_accept_their_own_request(requests_market: Api) -> None:
    requests_market.send("gus", recipientId="erin", content="hi")

    settings(requests_market, "gus", DIRECT, accepted=True)

    assert ids(requests_market, "erin", "requests") == [DIRECT]


def test_an_archived_request_is_still_a_request_until_accepted(requests_market: Api) -> None:
    requests_market.send("gus", recipientId="erin", content="hi")

    settings(requests_market, "erin", DIRECT, archived=True)
    assert ids(requests_market, "erin", "requests") == [DIRECT] and ids(requests_market, "erin", "archived") == []

    settings(requests_market, "erin", DIRECT, accepted=True)
    assert ids(requests_market, "erin", "archived") == [DIRECT]
    assert counters(requests_market, "erin") == (0, 0)


def test_declining_is_blocking(requests_market: Api) -> None:
    requests_market.send("gus", recipientId="erin", content="hi")

    blocked = requests_market.call("PUT", "/api/me/blocks/gus", "erin")

    assert blocked.status == 201
    assert ids(requests_market, "erin", "requests") == []
    assert ids(requests_market, "erin", "archived") == [DIRECT]
    assert counters(requests_market, "erin") == (0, 0)
    refused = requests_market.send("gus", conversationId=DIRECT, content="hello?")
    assert (refused.status, refused.body["error"]["code"]) == (403, "recipient_unavailable")


def test_a_catalog_from_before_requests_is_backfilled(requests_market: Api) -> None:
    from chalicelib.adapters.dynamodb import Purchase, UserProfile
    from infrastructure.backfill_requests import backfill_requests

    # As a stage deployed before message requests: no creator flags, no buyer markers.
    for user in ("alice", "dave", "erin"):
        UserProfile(user).update(actions=[UserProfile.is_creator.remove()])
    Purchase("frank", "creator#erin").delete()
    requests_market.send("gus", recipientId="erin", content="before the backfill")
    assert ids(requests_market, "erin") == [DIRECT]  # erin is not known as a creator yet

    assert backfill_requests() == (3, 2)  # alice, dave, erin; bob -> alice, frank -> erin
    assert backfill_requests() == (3, 2)  # again: the same items

    requests_market.send("frank", recipientId="erin", content="a buyer")
    requests_market.user("hal")
    requests_market.send("hal", recipientId="erin", content="a stranger")
    assert ids(requests_market, "erin") == [conversation_id_for("frank", "erin", None), DIRECT]
    assert ids(requests_market, "erin", "requests") == [conversation_id_for("hal", "erin", None)]
