"""Who gets which server event: the one delivery path that REST and socket use cases both call.

Use cases store first and deliver after; delivery never fails a request: a gone connection is forgotten
(``sessions.prune``), any other failure is logged, and the client catches up with ``/sync``. A connection whose
token expired is not posted to: it gets ``error`` ``token_expired``, is closed and forgotten like a gone one; its
expiry travels in the entries fan-out reads anyway (``domain.connections``), so checking costs no round trip.
"""

from __future__ import annotations

import logging

from chalicelib import metrics
from chalicelib.adapters.dynamodb import UserProfile
from chalicelib.domain.clock import utc_now
from chalicelib.domain.connections import Audience, expired
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
from chalicelib.services.ports import Clock, Connections
from chalicelib.services.sessions import PresenceChange, connections_of, end_expired, prune, room_audience
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)

_COUNTED = {Outcome.DELIVERED: metrics.DELIVERED, Outcome.GONE: metrics.GONE, Outcome.FAILED: metrics.FAILED}


def _gone(outcomes: dict[str, Outcome]) -> set[str]:
    return {cid for cid, outcome in outcomes.items() if outcome is Outcome.GONE}


def _without(audience: Audience, connection_ids: set[str]) -> dict[str, int | None]:
    return {cid: expiry for cid, expiry in audience.items() if cid not in connection_ids}


def _count(outcomes: dict[str, Outcome]) -> None:
    for outcome in outcomes.values():
        metrics.count(_COUNTED[outcome])


class Notifier:
    """Posts server events through ``@connections`` (the injected ``Connections``) and forgets gone connections."""

    def __init__(self, connections: Connections, clock: Clock = utc_now) -> None:
        self.connections = connections
        self.clock = clock

    def send(
        self,
        audience: Audience,
        event: str,
        data: ResponseModel,
        *,
        conversation: ConversationState | None = None,
        profiles: tuple[UserProfile, ...] = (),
        watched: str | None = None,
    ) -> dict[str, Outcome]:
        """Post one event to every connection of ``audience`` (id -> token expiry); forget the ones API Gateway
        reports gone, and close and forget the ones whose token expired (GONE in the answer, like the others).

        ``conversation``, ``profiles`` and ``watched`` (the user whose watchers these are) say where the audience
        was read, so that what is gone is removed from there too. Forgetting a user's last connection makes them
        offline: their watchers are told (each round removes connections, so this ends).
        """
        if not audience:
            return {}
        now = self.clock().timestamp()
        ended = {cid for cid, expiry in audience.items() if expired(expiry, now)}
        live = sorted(set(audience) - ended)
        outcomes = self.connections.post_many(live, frame(event, data)) if live else {}
        _count(outcomes)
        if ended:
            _count(end_expired(self.connections, ended))
            outcomes.update(dict.fromkeys(ended, Outcome.GONE))
        gone = {cid: audience[cid] for cid in _gone(outcomes)}
        if gone:
            try:
                changes = prune(
                    gone, conversation=conversation, profiles=list(profiles), watched=watched, closed=frozenset(ended)
                )
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
        room_after_send: ConversationState,
        directory: Directory,
        *,
        recipient_unread: int,
        conversation_created: ConversationOut | None,
        origin_connection_id: str | None = None,
        notify: bool = True,
    ) -> None:
        """``message_received`` to the room, ``new_message_notification`` (and ``notification`` for a new
        conversation) to every connection of the recipient, unless ``notify`` is False (the recipient muted the
        conversation, or it is a message request waiting for them: only the requests badge tells)."""
        sender, recipient = message.sender_id, message.recipient_id
        recipient_profile = directory.users.get(recipient)
        sender_profile = directory.users.get(sender)
        profiles = tuple(p for p in (recipient_profile, sender_profile) if p is not None)
        room = _without(room_audience(room_after_send), {origin_connection_id or ""})
        outcomes = self.send(room, "message_received", message, conversation=room_after_send, profiles=profiles)
        gone = _gone(outcomes)  # already forgotten: do not post to them again in this delivery
        if not notify:
            return
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
        recipient_connections = _without(connections_of(recipient_profile), gone)
        outcomes = self.send(
            recipient_connections,
            "new_message_notification",
            notice,
            conversation=room_after_send,
            profiles=profiles,
        )
        recipient_connections = _without(recipient_connections, _gone(outcomes))
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
        actor_too: bool = False,
    ) -> None:
        """The events of a message's change (``message_updated``, ``message_deleted``, ``reaction_updated``) to the
        room, except the connection that made the change (it gets its answer), and to every connection of the other
        participant. The actor's connections outside the room get nothing: it is not news to them (unless
        ``actor_too``: a moderator changed the actor's message)."""
        targets = {**_without(room_audience(conversation), {origin_connection_id or ""}), **connections_of(other)}
        if actor_too:
            targets.update(connections_of(actor))
        profiles = tuple(p for p in (other, actor) if p is not None)
        for name, data in events:
            outcomes = self.send(targets, name, data, conversation=conversation, profiles=profiles)
            targets = _without(targets, _gone(outcomes))

    def conversation_opened(self, audience: Audience, conversation: ConversationOut, by: ParticipantOut) -> None:
        """``notification`` of type ``conversation_opened`` to the other participant's connections."""
        opened = ConversationOpened(
            conversation_id=conversation.id, pattern_id=conversation.pattern_id, title=conversation.title, by=by
        )
        self.send(audience, "notification", opened)

    def read(
        self,
        reader_id: str,
        update: MessageReadUpdate,
        conversation: ConversationState,
        other: UserProfile | None,
    ) -> None:
        """``message_read_update`` to the room and to the other participant's (the senders') connections; to neither
        while the conversation is a message request waiting for the reader (no receipts flow to a requester), nor
        to the other participant once either has blocked the other (``other`` is None then)."""
        if conversation.is_request_for(reader_id):
            return
        targets = {**room_audience(conversation), **connections_of(other)}
        self.send(targets, "message_read_update", update, conversation=conversation, profiles=(other,) if other else ())

    def typing(self, conversation: ConversationState, typist_id: str, *, typing: bool) -> None:
        """``user_typing`` / ``user_stopped_typing`` to the room, not to the typist's own connections; nothing reaches
        a requester from the creator who has not accepted their request."""
        if conversation.is_request_for(typist_id):
            return
        targets = room_audience(conversation, except_user=typist_id)
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
        self.send(change.watchers, "presence_update", update, watched=change.user_id)

    def attachment_ready(self, message: MessageOut, conversation: ConversationState) -> None:
        """``attachment_ready`` to the room: the image's URLs (or its rejection)."""
        self.send(
            room_audience(conversation), "attachment_ready", AttachmentReady(message=message), conversation=conversation
        )
