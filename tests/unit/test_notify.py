"""Who gets which server event (``services.notify.Notifier``), against a recording ``@connections`` fake."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from chalicelib import metrics
from chalicelib.adapters.dynamodb import UserProfile
from chalicelib.domain.connections import room_entry
from chalicelib.domain.conversations import ConversationState, new_conversation
from chalicelib.domain.delivery import Outcome
from chalicelib.schemas.events import MessageReadUpdate
from chalicelib.schemas.responses import ConversationOut, MessageOut
from chalicelib.services.directory import Directory
from chalicelib.services.notify import Notifier
from chalicelib.services.sessions import PresenceChange
from tests.fakes import RecordingConnections

NOW = "2026-12-01T10:00:00.000Z"


def chat(*room: tuple[str, str]) -> ConversationState:
    """alice and bob's conversation about p1, with these (connection, user) joined to it."""
    conversation = new_conversation("bob", "alice", "p1", "Granny Square Blanket", NOW)
    return replace(conversation, room=frozenset(room_entry(cid, user, None) for cid, user in room))


def directory(**connections: set[str]) -> Directory:
    users = {
        user: UserProfile(user, name=user.title(), total_unread=3, connection_ids=cids or None)
        for user, cids in connections.items()
    }
    return Directory(users=users)


def message(conversation: ConversationState) -> MessageOut:
    return MessageOut(
        id=f"msg_{conversation.id[5:]}_1",
        conversation_id=conversation.id,
        sender_id="bob",
        recipient_id="alice",
        content="which hook for the border?",
        is_read=False,
        sent_at=NOW,
    )


def test_a_message_goes_to_the_room_and_a_notification_to_each_of_the_recipients_devices() -> None:
    connections = RecordingConnections()
    conversation = chat(("alice-tab", "alice"), ("bob-phone", "bob"), ("bob-laptop", "bob"))

    Notifier(connections).message(
        message(conversation),
        conversation,
        directory(alice={"alice-tab", "alice-phone"}, bob={"bob-phone", "bob-laptop"}),
        recipient_unread=2,
        conversation_created=None,
        origin_connection_id="bob-laptop",
    )

    assert connections.events() == {
        "message_received": ["alice-tab", "bob-phone"],  # the room, not the sending connection
        "new_message_notification": ["alice-phone", "alice-tab"],  # every device of the recipient
    }
    [(_, notice)] = connections.received("alice-phone")
    assert (notice["unreadCount"], notice["totalUnread"], notice["sender"]) == (2, 3, {"id": "bob", "name": "Bob"})
    assert notice["preview"] == "which hook for the border?"


def test_a_new_conversation_is_announced_to_the_recipients_devices() -> None:
    connections = RecordingConnections()
    conversation = chat()
    opened = ConversationOut(
        id=conversation.id, participant_ids=["alice", "bob"], created_at=NOW, updated_at=NOW, is_active=True
    )

    Notifier(connections).message(
        message(conversation),
        conversation,
        directory(alice={"alice-tab"}, bob=set()),
        recipient_unread=1,
        conversation_created=opened,
    )

    assert [event for event, _ in connections.received("alice-tab")] == ["new_message_notification", "notification"]
    _, notification = connections.received("alice-tab")[1]
    assert (notification["type"], notification["by"]["id"]) == ("conversation_opened", "bob")


def test_a_failed_post_is_neither_retried_nor_allowed_to_stop_the_others() -> None:
    connections = RecordingConnections(outcomes={"alice-tab": Outcome.FAILED})
    conversation = chat(("alice-tab", "alice"), ("alice-phone", "alice"))

    Notifier(connections).message(
        message(conversation),
        conversation,
        directory(alice={"alice-tab", "alice-phone"}),
        recipient_unread=1,
        conversation_created=None,
    )

    assert connections.events()["message_received"] == ["alice-phone", "alice-tab"]
    assert connections.events()["new_message_notification"] == ["alice-phone", "alice-tab"]


def test_typing_reaches_the_room_but_never_the_typists_own_devices() -> None:
    connections = RecordingConnections()
    conversation = chat(("alice-tab", "alice"), ("bob-phone", "bob"), ("bob-laptop", "bob"))

    Notifier(connections).typing(conversation, "bob", typing=True)
    Notifier(connections).typing(conversation, "bob", typing=False)

    assert connections.received("alice-tab") == [
        ("user_typing", {"conversationId": conversation.id, "userId": "bob", "timeoutMs": 2000}),
        ("user_stopped_typing", {"conversationId": conversation.id, "userId": "bob"}),
    ]
    assert connections.received("bob-phone") == [] and connections.received("bob-laptop") == []


def test_a_read_receipt_reaches_the_room_and_the_senders_devices() -> None:
    connections = RecordingConnections()
    conversation = chat(("alice-tab", "alice"))
    update = MessageReadUpdate(
        conversation_id=conversation.id, reader_id="alice", last_read_message_id="m", read_at=NOW
    )
    bob = UserProfile("bob", connection_ids={"bob-phone"})

    Notifier(connections).read("alice", update, conversation, bob)

    assert connections.events() == {"message_read_update": ["alice-tab", "bob-phone"]}


def test_presence_reaches_the_watchers() -> None:
    connections = RecordingConnections()

    Notifier(connections).presence(PresenceChange("alice", False, NOW, dict.fromkeys({"bob-phone", "carol-tab"})))

    assert connections.events() == {"presence_update": ["bob-phone", "carol-tab"]}
    assert connections.received("bob-phone") == [
        ("presence_update", {"userId": "alice", "online": False, "lastSeenAt": NOW})
    ]


def test_nobody_to_tell_posts_nothing() -> None:
    connections = RecordingConnections()

    Notifier(connections).typing(chat(("bob-phone", "bob")), "bob", typing=True)

    assert connections.posted == []


def test_a_connection_whose_token_expired_is_told_and_closed_instead_of_posted_to() -> None:
    connections = RecordingConnections()
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    expired_at, valid_until = int(now.timestamp()) - 1, int(now.timestamp()) + 60
    conversation = replace(
        chat(),
        room=frozenset({room_entry("alice-old", "alice", expired_at), room_entry("alice-new", "alice", valid_until)}),
    )
    metrics.begin()

    Notifier(connections, clock=lambda: now).typing(conversation, "bob", typing=True)

    assert connections.received("alice-old") == [
        (
            "error",
            {
                "code": "token_expired",
                "message": "the token of this connection expired: reconnect with a fresh one",
                "action": None,
            },
        )
    ]
    assert connections.closed == ["alice-old"]
    assert [event for event, _ in connections.received("alice-new")] == ["user_typing"]
    counted = metrics.document("test") or {}
    assert counted[metrics.DELIVERED] == 2  # the typing event and the notice


def test_every_post_outcome_is_counted() -> None:
    connections = RecordingConnections(outcomes={"alice-tab": Outcome.FAILED})
    metrics.begin()

    Notifier(connections).typing(chat(("alice-tab", "alice"), ("alice-phone", "alice")), "bob", typing=True)

    counted = metrics.document("test") or {}
    assert (counted.get(metrics.DELIVERED), counted.get(metrics.FAILED), counted.get(metrics.GONE)) == (1, 1, None)
