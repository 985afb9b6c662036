"""Who gets which server event. The one delivery path: REST and WebSocket sends both come through here.

A message is stored before anything is delivered, and delivery never fails a request: a gone
connection is forgotten, any other failure is logged, and the client catches up with ``/sync``.
"""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.models import Conversation, UserProfile
from chalicelib.realtime.gateway import Gateway, Outcome, encode
from chalicelib.realtime.registry import PresenceChange, prune, room_of
from chalicelib.schemas.responses import ConversationOut
from chalicelib.services.directory import Directory
from chalicelib.services.messages import ReadResult, SendResult
from chalicelib.services.views import PREVIEW_CHARS
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)


def send_event(
    gateway: Gateway,
    connection_ids: set[str] | list[str],
    event: str,
    data: dict[str, Any],
    *,
    conversation: Conversation | None = None,
    profiles: tuple[UserProfile, ...] = (),
) -> dict[str, Outcome]:
    """Post one event to every connection; forget the ones API Gateway reports gone.

    Forgetting a user's last connection makes them offline: their watchers are told (each round
    removes connections, so this ends).
    """
    targets = sorted(set(connection_ids))
    if not targets:
        return {}
    outcomes = gateway.post_many(targets, encode(event, data))
    gone = {cid for cid, outcome in outcomes.items() if outcome is Outcome.GONE}
    if gone:
        for change in prune(gone, conversation=conversation, profiles=list(profiles)):
            deliver_presence(gateway, change)
    return outcomes


def _gone(outcomes: dict[str, Outcome]) -> set[str]:
    return {cid for cid, outcome in outcomes.items() if outcome is Outcome.GONE}


def _without_nones(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _connections(profile: UserProfile | None) -> set[str]:
    return set(profile.connection_ids or ()) if profile else set()


def deliver_message(
    gateway: Gateway,
    result: SendResult,
    room_before_send: Conversation,
    directory: Directory,
    *,
    origin_connection_id: str | None = None,
) -> None:
    """``message_received`` to the room, ``new_message_notification`` (and ``notification`` for a new
    conversation) to every connection of the recipient."""
    message = result.message
    sender, recipient = message.sender_id, message.recipient_id
    recipient_profile = directory.users.get(recipient)
    sender_profile = directory.users.get(sender)
    profiles = tuple(p for p in (recipient_profile, sender_profile) if p is not None)
    room = set(room_of(room_before_send)) - {origin_connection_id}
    outcomes = send_event(
        gateway, room, "message_received", message.wire(), conversation=room_before_send, profiles=profiles
    )
    gone = _gone(outcomes)  # already forgotten: do not post to them again in this delivery
    unread = result.recipient_unread
    notice = {
        "conversationId": message.conversation_id,
        "messageId": message.id,
        "preview": message.content[:PREVIEW_CHARS],
        "attachmentType": message.attachment_type,
        "sender": directory.participant(sender).wire(),
        "sentAt": message.sent_at,
        "unreadCount": unread,
        "totalUnread": directory.total_unread(recipient),
    }
    recipient_connections = _connections(recipient_profile) - gone
    outcomes = send_event(
        gateway,
        recipient_connections,
        "new_message_notification",
        _without_nones(notice),
        conversation=room_before_send,
        profiles=profiles,
    )
    recipient_connections -= _gone(outcomes)
    if result.conversation_created:
        deliver_conversation_opened(
            gateway, recipient_connections, result.conversation, directory.participant(sender).wire()
        )


def deliver_conversation_opened(
    gateway: Gateway, connection_ids: set[str], conversation: ConversationOut, by: dict[str, Any]
) -> None:
    """``notification`` of type ``conversation_opened`` to the other participant's connections."""
    opened = {
        "type": "conversation_opened",
        "conversationId": conversation.id,
        "patternId": conversation.pattern_id,
        "title": conversation.title,
        "by": by,
    }
    send_event(gateway, connection_ids, "notification", _without_nones(opened))


def deliver_read(
    gateway: Gateway, reader_id: str, result: ReadResult, conversation: Conversation, other: UserProfile | None
) -> None:
    """``message_read_update`` to the room and to the other participant's (the senders') connections."""
    data = {
        "conversationId": result.conversation_id,
        "readerId": reader_id,
        "lastReadMessageId": result.last_read_message_id,
        "readAt": result.read_at,
    }
    targets = set(room_of(conversation)) | _connections(other)
    send_event(
        gateway, targets, "message_read_update", data, conversation=conversation, profiles=(other,) if other else ()
    )


def deliver_typing(gateway: Gateway, conversation: Conversation, typist_id: str, *, typing: bool) -> None:
    """``user_typing`` / ``user_stopped_typing`` to the room, not to the typist's own connections."""
    targets = {cid for cid, user in room_of(conversation).items() if user != typist_id}
    data: dict[str, Any] = {"conversationId": conversation.id, "userId": typist_id}
    if typing:
        data["timeoutMs"] = get_settings().typing_timeout_ms
    send_event(gateway, targets, "user_typing" if typing else "user_stopped_typing", data, conversation=conversation)


def deliver_presence(gateway: Gateway, change: PresenceChange) -> None:
    """``presence_update`` to the connections joined to a conversation with that user."""
    data = {"userId": change.user_id, "online": change.online, "lastSeenAt": change.last_seen_at}
    send_event(gateway, change.watcher_ids, "presence_update", data)
