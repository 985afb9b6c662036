"""Who gets which server event: the one delivery path that REST and socket use cases both call.

Use cases store first and deliver after; delivery never fails a request: a gone connection is forgotten
(``sessions.prune``), any other failure is logged, and the client catches up with ``/sync``.
"""

from __future__ import annotations

import logging

from chalicelib.adapters.dynamodb import UserProfile
from chalicelib.domain.conversations import PREVIEW_CHARS, ConversationState
from chalicelib.domain.delivery import Outcome
from chalicelib.schemas.base import ResponseModel
from chalicelib.schemas.events import (
    AttachmentReady,
    ConversationOpened,
    MessageReadUpdate,
    NewMessageNotification,
    PresenceUpdate,
    UserStoppedTyping,
    UserTyping,
    frame,
)
from chalicelib.schemas.responses import ConversationOut, MessageOut, ParticipantOut
from chalicelib.services.directory import Directory
from chalicelib.services.ports import Connections
from chalicelib.services.sessions import PresenceChange, prune, room_of
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)


def _connections(profile: UserProfile | None) -> set[str]:
    return set(profile.connection_ids or ()) if profile else set()


def _gone(outcomes: dict[str, Outcome]) -> set[str]:
    return {cid for cid, outcome in outcomes.items() if outcome is Outcome.GONE}


class Notifier:
    """Posts server events through ``@connections`` (the injected ``Connections``) and forgets gone connections."""

    def __init__(self, connections: Connections) -> None:
        self.connections = connections

    def send(
        self,
        connection_ids: set[str],
        event: str,
        data: ResponseModel,
        *,
        conversation: ConversationState | None = None,
        profiles: tuple[UserProfile, ...] = (),
    ) -> dict[str, Outcome]:
        """Post one event to every connection; forget the ones API Gateway reports gone.

        Forgetting a user's last connection makes them offline: their watchers are told (each round removes
        connections, so this ends).
        """
        targets = sorted(set(connection_ids))
        if not targets:
            return {}
        outcomes = self.connections.post_many(targets, frame(event, data))
        gone = _gone(outcomes)
        if gone:
            try:
                changes = prune(gone, conversation=conversation, profiles=list(profiles))
            except Exception:
                # Delivery never fails the request that caused it: what is not pruned now expires by TTL.
                logger.exception("forgetting gone connections failed", extra={"connections": len(gone)})
                changes = []
            for change in changes:
                self.presence(change)
        return outcomes

    def reply(self, connection_id: str, event: str, data: ResponseModel) -> Outcome:
        """The answer to a connection's own frame."""
        return self.connections.post(connection_id, frame(event, data))

    def message(
        self,
        message: MessageOut,
        room_before_send: ConversationState,
        directory: Directory,
        *,
        recipient_unread: int,
        conversation_created: ConversationOut | None,
        origin_connection_id: str | None = None,
    ) -> None:
        """``message_received`` to the room, ``new_message_notification`` (and ``notification`` for a new
        conversation) to every connection of the recipient."""
        sender, recipient = message.sender_id, message.recipient_id
        recipient_profile = directory.users.get(recipient)
        sender_profile = directory.users.get(sender)
        profiles = tuple(p for p in (recipient_profile, sender_profile) if p is not None)
        room = set(room_of(room_before_send)) - {origin_connection_id or ""}
        outcomes = self.send(room, "message_received", message, conversation=room_before_send, profiles=profiles)
        gone = _gone(outcomes)  # already forgotten: do not post to them again in this delivery
        notice = NewMessageNotification(
            conversation_id=message.conversation_id,
            message_id=message.id,
            preview=message.content[:PREVIEW_CHARS],
            attachment_type=message.attachment_type,
            sender=directory.participant(sender),
            sent_at=message.sent_at,
            unread_count=recipient_unread,
            total_unread=directory.total_unread(recipient),
        )
        recipient_connections = _connections(recipient_profile) - gone
        outcomes = self.send(
            recipient_connections,
            "new_message_notification",
            notice,
            conversation=room_before_send,
            profiles=profiles,
        )
        recipient_connections -= _gone(outcomes)
        if conversation_created is not None:
            self.conversation_opened(recipient_connections, conversation_created, directory.participant(sender))

    def changed(
        self,
        events: list[tuple[str, ResponseModel]],
        conversation: ConversationState,
        *,
        other: UserProfile | None,
        actor: UserProfile | None,
        origin_connection_id: str | None = None,
    ) -> None:
        """The events of a message's change (``message_updated``, ``message_deleted``, ``reaction_updated``) to the
        room, except the connection that made the change (it gets its answer), and to every connection of the other
        participant. The actor's connections outside the room get nothing: it is not news to them."""
        targets = (set(room_of(conversation)) - {origin_connection_id or ""}) | _connections(other)
        profiles = tuple(p for p in (other, actor) if p is not None)
        for name, data in events:
            outcomes = self.send(targets, name, data, conversation=conversation, profiles=profiles)
            targets -= _gone(outcomes)

    def conversation_opened(self, connection_ids: set[str], conversation: ConversationOut, by: ParticipantOut) -> None:
        """``notification`` of type ``conversation_opened`` to the other participant's connections."""
        opened = ConversationOpened(
            conversation_id=conversation.id, pattern_id=conversation.pattern_id, title=conversation.title, by=by
        )
        self.send(connection_ids, "notification", opened)

    def read(
        self,
        reader_id: str,
        update: MessageReadUpdate,
        conversation: ConversationState,
        other: UserProfile | None,
    ) -> None:
        """``message_read_update`` to the room and to the other participant's (the senders') connections."""
        targets = set(room_of(conversation)) | _connections(other)
        self.send(targets, "message_read_update", update, conversation=conversation, profiles=(other,) if other else ())

    def typing(self, conversation: ConversationState, typist_id: str, *, typing: bool) -> None:
        """``user_typing`` / ``user_stopped_typing`` to the room, not to the typist's own connections."""
        targets = {cid for cid, user in room_of(conversation).items() if user != typist_id}
        if typing:
            started = UserTyping(
                conversation_id=conversation.id, user_id=typist_id, timeout_ms=get_settings().typing_timeout_ms
            )
            self.send(targets, "user_typing", started, conversation=conversation)
        else:
            stopped = UserStoppedTyping(conversation_id=conversation.id, user_id=typist_id)
            self.send(targets, "user_stopped_typing", stopped, conversation=conversation)

    def presence(self, change: PresenceChange) -> None:
        """``presence_update`` to the connections joined to a conversation with that user."""
        update = PresenceUpdate(user_id=change.user_id, online=change.online, last_seen_at=change.last_seen_at)
        self.send(set(change.watcher_ids), "presence_update", update)

    def attachment_ready(self, message: MessageOut, conversation: ConversationState) -> None:
        """``attachment_ready`` to the room: the image's URLs (or its rejection)."""
        self.send(
            set(room_of(conversation)), "attachment_ready", AttachmentReady(message=message), conversation=conversation
        )
