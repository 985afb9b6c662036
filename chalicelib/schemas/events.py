"""Server events of the socket protocol: ``{"event": NAME, "data": {...}}``, one model per event's data.

``EVENTS`` is the single source for what the socket sends (``frame``), for ``docs/asyncapi.yaml`` (generated)
and for the examples in ``docs/websocket.md`` (generated from each event's example).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from chalicelib.errors import ErrorCode
from chalicelib.schemas.base import ResponseModel, Timestamp
from chalicelib.schemas.responses import (
    ConversationOut,
    ConversationSettingsOut,
    MessageOut,
    ParticipantOut,
    ReactionOut,
)

_CONV = "conv_qdkab7s7n6optsorjd52nty6dd"
_MSG = "msg_qdkab7s7n6optsorjd52nty6dd_2"
_AT = "2026-11-24T22:49:29.518Z"


class Reply(ResponseModel):
    """An answer to the sender's own frame: it echoes the frame's ``requestId``."""

    request_id: str | None = None


class Pong(Reply):
    pass


class ConversationJoined(Reply):
    conversation_id: str


class ConversationLeft(Reply):
    conversation_id: str


class MessageSent(Reply):
    """The stored message (the original one for a retry: ``duplicate``) and its conversation."""

    message: MessageOut
    conversation: ConversationOut
    client_message_id: str | None
    duplicate: bool


class ReadUpdated(Reply):
    """The reader's own read position and unread counts after ``message_read``."""

    conversation_id: str
    last_read_message_id: str | None
    read_at: Timestamp | None
    unread_count: int
    total_unread: int


class MessageChanged(Reply):
    """The message after the caller's own change (``edit_message``, ``delete_message``, ``add_reaction``,
    ``remove_reaction``): what the REST twin answers."""

    message: MessageOut


class WatchedPresence(ResponseModel):
    user_id: str
    online: bool
    last_seen_at: Timestamp | None = None


class PresenceWatched(Reply):
    """The users this connection now watches (those of the frame the caller shares a conversation with) and whether
    each is online now; ``presence_update`` follows their changes."""

    user_ids: list[str]
    presence: list[WatchedPresence]


class ErrorEvent(Reply):
    """A frame that was refused: the same codes as the REST API's errors."""

    code: ErrorCode
    message: str
    action: str | None
    details: object | None = None


class NewMessageNotification(ResponseModel):
    conversation_id: str
    message_id: str
    preview: str
    attachment_type: Literal["image", "file"] | None = None
    sender: ParticipantOut
    sent_at: Timestamp
    unread_count: int
    total_unread: int


class ConversationOpened(ResponseModel):
    """``notification``: someone opened a conversation with the receiver."""

    type: Literal["conversation_opened"] = "conversation_opened"
    conversation_id: str
    pattern_id: str | None = None
    title: str | None = None
    by: ParticipantOut


class MessageReadUpdate(ResponseModel):
    """The reader has read everything up to ``lastReadMessageId``."""

    conversation_id: str
    reader_id: str
    last_read_message_id: str | None
    read_at: Timestamp | None


class UserTyping(ResponseModel):
    """Expire the typing indicator after ``timeoutMs`` if no ``user_stopped_typing`` comes by then."""

    conversation_id: str
    user_id: str
    timeout_ms: int


class UserStoppedTyping(ResponseModel):
    conversation_id: str
    user_id: str


class PresenceUpdate(ResponseModel):
    user_id: str
    online: bool
    last_seen_at: Timestamp


class MessageUpdated(ResponseModel):
    """A message changed: edited, or its quoted original was edited or deleted. Keep it if its ``version`` is higher
    than the one you have."""

    message: MessageOut


class MessageDeleted(ResponseModel):
    """A message became a tombstone: show "message deleted" in its place."""

    conversation_id: str
    message_id: str
    deleted_at: Timestamp
    version: int


class ReactionUpdated(ResponseModel):
    """Someone added or removed a reaction; ``reactions`` is the message's whole list after it."""

    conversation_id: str
    message_id: str
    emoji: str
    user_id: str
    action: Literal["added", "removed"]
    reactions: list[ReactionOut]
    version: int


class AttachmentReady(ResponseModel):
    """An image sent before its processing finished now has its URLs, or ``attachmentStatus: "rejected"`` (not a
    readable image, over the image limits, changed after it was sent, or its processing failed or timed out)."""

    message: MessageOut


class ConversationUpdated(ResponseModel):
    """The caller changed their own settings of a conversation (archive, mute, accepting a request) on another
    device: ``settings`` as they are now."""

    conversation_id: str
    settings: ConversationSettingsOut


@dataclass(frozen=True)
class EventSpec:
    """One server event: its name, its data's model, who receives it, an example of its data."""

    name: str
    data: type[ResponseModel]
    audience: str
    example: Callable[[], ResponseModel]  # built on demand: models are not built at import (cold start)

    @property
    def is_reply(self) -> bool:
        return issubclass(self.data, Reply)


def _message() -> MessageOut:
    return MessageOut(
        id=_MSG,
        conversation_id=_CONV,
        sender_id="bob",
        recipient_id="alice",
        content="hello",
        is_read=False,
        sent_at=_AT,
        client_message_id="c1",
    )


def _conversation() -> ConversationOut:
    return ConversationOut(
        id=_CONV,
        pattern_id="granny-square-blanket",
        participant_ids=["alice", "bob"],
        last_message_id=_MSG,
        last_message_at=_AT,
        created_at="2026-11-24T22:40:02.101Z",
        updated_at=_AT,
        title="Granny Square Blanket",
        is_active=True,
    )


_LATER = "2026-11-24T22:51:02.733Z"
# Who gets the events of a change (edit, deletion, reaction): the acting connection only gets its answer.
_CHANGE_AUDIENCE = (
    "the room's connections (not the connection that made the change, which gets its answer) and every connection "
    "of the other participant"
)


def _edited() -> MessageOut:
    return _message().model_copy(update={"content": "hello, with a 4 mm hook", "version": 2, "edited_at": _LATER})


def _tombstone() -> MessageOut:
    return _message().model_copy(update={"content": "", "version": 3, "is_deleted": True, "deleted_at": _LATER})


def _reacted() -> MessageOut:
    reactions = [ReactionOut(emoji="🧶", count=2, user_ids=["bob", "alice"])]
    return _message().model_copy(update={"version": 2, "reactions": reactions})


def _bob() -> ParticipantOut:
    return ParticipantOut(id="bob", name="Bob Stitch")


EVENTS: dict[str, EventSpec] = {
    spec.name: spec
    for spec in (
        EventSpec("pong", Pong, "the sender of `ping`", lambda: Pong(request_id="p1")),
        EventSpec(
            "conversation_joined",
            ConversationJoined,
            "the sender of `join_conversation`",
            lambda: ConversationJoined(conversation_id=_CONV, request_id="j1"),
        ),
        EventSpec(
            "conversation_left",
            ConversationLeft,
            "the sender of `leave_conversation`",
            lambda: ConversationLeft(conversation_id=_CONV),
        ),
        EventSpec(
            "message_sent",
            MessageSent,
            "the sender of `new_message`",
            lambda: MessageSent(
                message=_message(), conversation=_conversation(), client_message_id="c1", duplicate=False
            ),
        ),
        EventSpec(
            "read_updated",
            ReadUpdated,
            "the sender of `message_read`",
            lambda: ReadUpdated(
                conversation_id=_CONV, last_read_message_id=_MSG, read_at=_AT, unread_count=0, total_unread=3
            ),
        ),
        EventSpec(
            "message_edited",
            MessageChanged,
            "the sender of `edit_message`",
            lambda: MessageChanged(message=_edited(), request_id="e1"),
        ),
        EventSpec(
            "message_removed",
            MessageChanged,
            "the sender of `delete_message`",
            lambda: MessageChanged(message=_tombstone(), request_id="d1"),
        ),
        EventSpec(
            "reaction_added",
            MessageChanged,
            "the sender of `add_reaction`",
            lambda: MessageChanged(message=_reacted(), request_id="r1"),
        ),
        EventSpec(
            "reaction_removed",
            MessageChanged,
            "the sender of `remove_reaction`",
            lambda: MessageChanged(message=_message().model_copy(update={"version": 3}), request_id="r2"),
        ),
        EventSpec(
            "presence_watched",
            PresenceWatched,
            "the sender of `watch_presence`",
            lambda: PresenceWatched(
                user_ids=["alice", "dave"],
                presence=[
                    WatchedPresence(user_id="alice", online=True, last_seen_at=_AT),
                    WatchedPresence(user_id="dave", online=False),
                ],
                request_id="w1",
            ),
        ),
        EventSpec(
            "message_received",
            MessageOut,
            "the room's connections (not the sending connection, which gets `message_sent`)",
            _message,
        ),
        EventSpec(
            "new_message_notification",
            NewMessageNotification,
            "every connection of the recipient, joined to the room or not",
            lambda: NewMessageNotification(
                conversation_id=_CONV,
                message_id=_MSG,
                preview="hello",
                sender=_bob(),
                sent_at=_AT,
                unread_count=2,
                total_unread=2,
            ),
        ),
        EventSpec(
            "notification",
            ConversationOpened,
            "the recipient's connections, when someone opens a conversation with them",
            lambda: ConversationOpened(
                conversation_id=_CONV, pattern_id="granny-square-blanket", title="Granny Square Blanket", by=_bob()
            ),
        ),
        EventSpec(
            "message_read_update",
            MessageReadUpdate,
            "the room and the other participant's connections",
            lambda: MessageReadUpdate(conversation_id=_CONV, reader_id="alice", last_read_message_id=_MSG, read_at=_AT),
        ),
        EventSpec(
            "user_typing",
            UserTyping,
            "the room minus the typist's connections",
            lambda: UserTyping(conversation_id=_CONV, user_id="bob", timeout_ms=2000),
        ),
        EventSpec(
            "user_stopped_typing",
            UserStoppedTyping,
            "the room minus the typist's connections",
            lambda: UserStoppedTyping(conversation_id=_CONV, user_id="bob"),
        ),
        EventSpec(
            "presence_update",
            PresenceUpdate,
            "connections joined to a conversation with that user or watching them (`watch_presence`); sent when a "
            "user's first connection opens and when their last one closes",
            lambda: PresenceUpdate(user_id="alice", online=True, last_seen_at=_AT),
        ),
        EventSpec(
            "message_updated",
            MessageUpdated,
            f"{_CHANGE_AUDIENCE}; also sent for each reply (up to 20 per message) whose quoted message was edited or "
            "deleted",
            lambda: MessageUpdated(message=_edited()),
        ),
        EventSpec(
            "message_deleted",
            MessageDeleted,
            _CHANGE_AUDIENCE,
            lambda: MessageDeleted(conversation_id=_CONV, message_id=_MSG, deleted_at=_LATER, version=3),
        ),
        EventSpec(
            "reaction_updated",
            ReactionUpdated,
            _CHANGE_AUDIENCE,
            lambda: ReactionUpdated(
                conversation_id=_CONV,
                message_id=_MSG,
                emoji="🧶",
                user_id="alice",
                action="added",
                reactions=_reacted().reactions,
                version=2,
            ),
        ),
        EventSpec(
            "attachment_ready",
            AttachmentReady,
            "the room",
            lambda: AttachmentReady(
                message=_message().model_copy(
                    update={
                        "content": "",
                        "attachment_id": "att_Qk3s9dLx0aP1bV7nE2rT5uYw",
                        "attachment_type": "image",
                        "attachment_name": "blanket.jpg",
                        "attachment_size": 48213,
                        "attachment_status": "ready",
                        "attachment_url": "https://…/display.jpg?X-Amz-Signature=…",
                        "thumbnail_url": "https://…/thumb.jpg?X-Amz-Signature=…",
                        "width": 1200,
                        "height": 900,
                    }
                )
            ),
        ),
        EventSpec(
            "conversation_updated",
            ConversationUpdated,
            "every connection of the user who changed their settings of the conversation "
            "(`PUT /api/messages/conversations/{id}/settings`): their other devices",
            lambda: ConversationUpdated(
                conversation_id=_CONV,
                settings=ConversationSettingsOut(archived=True, muted_until="2026-11-25T08:00:00.000Z", is_muted=True),
            ),
        ),
        EventSpec(
            "error",
            ErrorEvent,
            "the sender of a refused frame; a connection whose token expired (`token_expired`, `action` null), which "
            "is then closed",
            lambda: ErrorEvent(
                code=ErrorCode.UNKNOWN_ACTION,
                message="unknown action; use one of: ping, join_conversation, …",
                action="dance",
            ),
        ),
    )
}


def frame(name: str, data: ResponseModel) -> bytes:
    """A server frame: ``{"event": NAME, "data": {...}}`` (its data must be the event's model)."""
    spec = EVENTS[name]
    if not isinstance(data, spec.data):
        raise TypeError(f"{name} carries {spec.data.__name__}, not {type(data).__name__}")
    return json.dumps({"event": name, "data": data.wire()}, separators=(",", ":")).encode()
