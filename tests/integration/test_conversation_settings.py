"""Per-user conversation settings (issue 16): archive, mute, the folders they file a conversation in, the counters they
move, and ``conversation_updated`` to the caller's devices."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamodb import Membership
from chalicelib.domain.ids import conversation_id_for
from tests.integration.conftest import Api
from tests.integration.sockets import Sockets

BLANKET = conversation_id_for("alice", "bob", "p1")
FUTURE, PAST = "2999-01-01T00:00:00.000Z", "2001-01-01T00:00:00.000Z"


def settings(api: Api, user: str, conversation_id: str, **body: Any) -> Any:
    return api.call("PUT", f"/api/messages/conversations/{conversation_id}/settings", user, body)


def folder(api: Api, user: str, name: str | None = None) -> list[str]:
    query = f"?folder={name}" if name else ""
    return [c["id"] for c in api.conversations(user, query).body["conversations"]]


@pytest.fixture
def chats(marketplace: Api) -> dict[str, str]:
    """bob -> alice about the blanket (two unread for alice), carol -> alice (one unread)."""
    marketplace.send("bob", recipientId="alice", patternId="p1", content="hook size?")
    marketplace.send("bob", conversationId=BLANKET, content="and the yarn?")
    carol = marketplace.send("carol", recipientId="alice", content="hi").body["conversation"]["id"]
    return {"blanket": BLANKET, "carol": carol}


def test_archiving_moves_a_conversation_out_of_the_inbox_and_its_unread_out_of_the_total(
    marketplace: Api, chats: dict[str, str]
) -> None:
    assert marketplace.conversations("alice").body["totalUnread"] == 3

    answer = settings(marketplace, "alice", BLANKET, archived=True)

    assert answer.status == 200
    assert answer.body == {"settings": {"archived": True, "mutedUntil": None, "isMuted": False}}
    assert folder(marketplace, "alice") == [chats["carol"]]
    assert folder(marketplace, "alice", "archived") == [BLANKET]
    listed = marketplace.conversations("alice").body
    assert listed["totalUnread"] == 1  # inbox conversations only
    archived = marketplace.conversations("alice", "?folder=archived").body["conversations"][0]
    assert archived["unreadCount"] == 2 and archived["settings"]["archived"] is True
    assert [
        c["id"] for c in marketplace.call("GET", "/api/messages?folder=archived", "alice").body["conversations"]
    ] == [BLANKET]
    # bob's side is untouched: the settings are alice's own
    assert folder(marketplace, "bob") == [BLANKET]


def test_unarchiving_brings_it_back_with_its_unread(marketplace: Api, chats: dict[str, str]) -> None:
    settings(marketplace, "alice", BLANKET, archived=True)

    settings(marketplace, "alice", BLANKET, archived=False)

    assert folder(marketplace, "alice") == [chats["carol"], BLANKET]
    assert folder(marketplace, "alice", "archived") == []
    assert marketplace.conversations("alice").body["totalUnread"] == 3


def test_a_message_from_the_other_participant_brings_an_archived_conversation_back(
    marketplace: Api, chats: dict[str, str]
) -> None:
    settings(marketplace, "alice", BLANKET, archived=True)

    marketplace.send("bob", conversationId=BLANKET, content="are you there?")

    assert folder(marketplace, "alice") == [BLANKET, chats["carol"]]
    assert marketplace.conversations("alice").body["totalUnread"] == 4
    detail = marketplace.conversation("alice", BLANKET).body["conversation"]
    assert detail["settings"]["archived"] is False


def test_the_archivers_own_message_keeps_it_archived(marketplace: Api, chats: dict[str, str]) -> None:
    settings(marketplace, "alice", BLANKET, archived=True)

    marketplace.send("alice", conversationId=BLANKET, content="4 mm")

    assert folder(marketplace, "alice", "archived") == [BLANKET]
    assert folder(marketplace, "bob") == [BLANKET]
    assert marketplace.conversations("bob").body["totalUnread"] == 1


def test_reading_an_archived_conversation_leaves_the_total_alone(marketplace: Api, chats: dict[str, str]) -> None:
    settings(marketplace, "alice", BLANKET, archived=True)
    newest = marketplace.conversation("alice", BLANKET).body["messages"][-1]["id"]

    read = marketplace.mark_read("alice", newest)

    assert read.body["unreadCount"] == 0 and read.body["totalUnread"] == 1
    settings(marketplace, "alice", BLANKET, archived=False)
    assert marketplace.conversations("alice").body["totalUnread"] == 1


def test_muting_keeps_the_unread_count_and_silences_notifications(
    marketplace: Api, chats: dict[str, str], sockets: Sockets
) -> None:
    muted = settings(marketplace, "alice", BLANKET, mutedUntil="2999-01-01T01:00:00+01:00")
    assert muted.body == {"settings": {"archived": False, "mutedUntil": FUTURE, "isMuted": True}}
    alice = sockets.connect("alice")
    sockets.clear()

    marketplace.send("bob", conversationId=BLANKET, content="ping")
    marketplace.send("carol", conversationId=chats["carol"], content="ping")

    notified = [n["conversationId"] for n in sockets.events(alice, "new_message_notification")]
    assert notified == [chats["carol"]]
    assert marketplace.conversations("alice").body["totalUnread"] == 5  # muted still counts
    assert Membership.get("alice", BLANKET).muted_until == FUTURE  # what offline notifications read (issue 18)


def test_a_mute_that_ended_notifies_again_and_null_unmutes(
    marketplace: Api, chats: dict[str, str], sockets: Sockets
) -> None:
    ended = settings(marketplace, "alice", BLANKET, mutedUntil=PAST)
    assert ended.body["settings"] == {"archived": False, "mutedUntil": PAST, "isMuted": False}
    alice = sockets.connect("alice")
    sockets.clear()
    marketplace.send("bob", conversationId=BLANKET, content="ping")
    assert len(sockets.events(alice, "new_message_notification")) == 1

    settings(marketplace, "alice", BLANKET, mutedUntil=FUTURE)
    unmuted = settings(marketplace, "alice", BLANKET, mutedUntil=None)

    assert unmuted.body["settings"] == {"archived": False, "mutedUntil": None, "isMuted": False}
    assert Membership.get("alice", BLANKET).muted_until is None


def test_every_enriched_conversation_carries_the_callers_settings(marketplace: Api, chats: dict[str, str]) -> None:
    cursor = marketplace.call("GET", "/api/messages/sync", "alice").body["nextCursor"]
    settings(marketplace, "alice", BLANKET, mutedUntil=FUTURE)
    marketplace.send("bob", conversationId=BLANKET, content="later")
    expected = {"archived": False, "mutedUntil": FUTURE, "isMuted": True}

    seen = {
        "list": marketplace.conversations("alice").body["conversations"][0]["settings"],
        "inbox": marketplace.call("GET", "/api/messages", "alice").body["conversations"][0]["settings"],
        "detail": marketplace.conversation("alice", BLANKET).body["conversation"]["settings"],
        # The sync holds every conversation with entries after the cursor (the fixture's too): pick this one.
        "sync": next(
            c["settings"]
            for c in marketplace.call("GET", f"/api/messages/sync?since={cursor}", "alice").body["conversations"]
            if c["id"] == BLANKET
        ),
        "pattern": marketplace.call("GET", "/api/messages/pattern/p1", "bob").body["conversation"]["settings"],
    }

    assert seen == {
        "list": expected,
        "inbox": expected,
        "detail": expected,
        "sync": expected,
        "pattern": {"archived": False, "mutedUntil": None, "isMuted": False},  # bob's own
    }


def test_the_callers_devices_get_conversation_updated(
    marketplace: Api, chats: dict[str, str], sockets: Sockets
) -> None:
    phone, laptop, bob = sockets.connect("alice"), sockets.connect("alice"), sockets.connect("bob")
    sockets.clear()

    settings(marketplace, "alice", BLANKET, archived=True)
    settings(marketplace, "alice", BLANKET, archived=True)  # no change: no event

    expected = [{"conversationId": BLANKET, "settings": {"archived": True, "mutedUntil": None, "isMuted": False}}]
    assert sockets.events(phone, "conversation_updated") == expected
    assert sockets.events(laptop, "conversation_updated") == expected
    assert sockets.names(bob) == []


def test_the_settings_of_a_conversation_are_its_participants_only(marketplace: Api, chats: dict[str, str]) -> None:
    missing = conversation_id_for("nobody", "no-one", None)

    stranger = settings(marketplace, "carol", BLANKET, archived=True)
    absent = settings(marketplace, "carol", missing, archived=True)
    malformed = settings(marketplace, "carol", "not-a-conversation", archived=True)

    assert stranger.status == absent.status == malformed.status == 404
    assert stranger.body == absent.body
    assert folder(marketplace, "alice", "archived") == [] and folder(marketplace, "bob", "archived") == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"archived": None},
        {"archived": "yes"},
        {"mutedUntil": "tomorrow"},
        {"mutedUntil": "2999-01-01T00:00:00"},  # no time zone
        {"accepted": False},
        {"folder": "archived"},
    ],
    ids=["empty", "archived null", "archived string", "not a time", "no zone", "accepted false", "unknown field"],
)
def test_invalid_settings_are_refused(marketplace: Api, chats: dict[str, str], body: dict[str, Any]) -> None:
    answer = settings(marketplace, "alice", BLANKET, **body)

    assert (answer.status, answer.body["error"]["code"]) == (400, "invalid_request")


def test_folders_page_with_their_own_cursors(marketplace: Api) -> None:
    for index in range(5):
        marketplace.user(f"fan{index}")
        conversation = marketplace.send(f"fan{index}", recipientId="alice", content="hi").body["conversation"]["id"]
        settings(marketplace, "alice", conversation, archived=True)

    seen, cursor = [], None
    while True:
        page = marketplace.conversations("alice", "?folder=archived&limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [c["otherParticipant"]["id"] for c in page.body["conversations"]]
        cursor = page.body["nextCursor"]
        if cursor is None:
            break
        inbox_with_it = marketplace.conversations("alice", f"?cursor={cursor}")
        assert inbox_with_it.body["error"]["code"] == "invalid_cursor"  # an archive cursor is not the inbox's

    assert seen == [f"fan{index}" for index in reversed(range(5))]
    assert folder(marketplace, "alice") == []


def test_an_unknown_folder_is_refused(marketplace: Api) -> None:
    answer = marketplace.conversations("alice", "?folder=spam")

    assert (answer.status, answer.body["error"]["code"]) == (400, "invalid_request")
