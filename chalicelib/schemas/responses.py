"""Response shapes: the seed's Message and Conversation, and the enriched conversation views."""

from __future__ import annotations

from typing import Literal

from chalicelib.schemas.base import ResponseModel


class MessageOut(ResponseModel):
    id: str
    conversation_id: str
    sender_id: str
    recipient_id: str
    content: str
    attachment_url: str | None = None
    attachment_type: Literal["image", "file"] | None = None
    attachment_name: str | None = None
    attachment_id: str | None = None
    attachment_size: int | None = None
    attachment_status: Literal["processing", "ready", "rejected"] | None = None
    width: int | None = None
    height: int | None = None
    thumbnail_url: str | None = None
    is_read: bool
    sent_at: str
    read_at: str | None = None
    client_message_id: str | None = None


class ParticipantOut(ResponseModel):
    id: str
    name: str
    avatar_url: str | None = None


class ParticipantPresenceOut(ParticipantOut):
    """A participant with presence: ``online`` and, once they have been seen, ``lastSeenAt``."""

    online: bool
    last_seen_at: str | None = None


class PatternOut(ResponseModel):
    id: str
    title: str
    thumbnail_url: str | None = None
    creator_id: str


class LastMessageOut(ResponseModel):
    id: str
    sender_id: str
    content: str
    sent_at: str
    attachment_type: Literal["image", "file"] | None = None


class ConversationOut(ResponseModel):
    id: str
    pattern_id: str | None = None
    participant_ids: list[str]
    last_message_id: str | None = None
    last_message_at: str | None = None
    created_at: str
    updated_at: str
    title: str | None = None
    is_active: bool


class EnrichedConversationOut(ConversationOut):
    unread_count: int
    last_message: LastMessageOut | None = None
    participants: list[ParticipantOut]
    other_participant: ParticipantPresenceOut
    pattern: PatternOut | None = None


class UserOut(ResponseModel):
    id: str
    name: str
    avatar_url: str | None = None


class PurchaseOut(ResponseModel):
    user_id: str
    pattern_id: str
    purchased_at: str


class AttachmentOut(ResponseModel):
    """``GET /api/attachments/{id}``: the attachment fields of a message, with fresh URLs."""

    attachment_id: str
    attachment_type: Literal["image", "file"]
    attachment_name: str
    attachment_size: int | None = None
    attachment_status: Literal["processing", "ready", "rejected"]
    attachment_url: str | None = None
    thumbnail_url: str | None = None
    width: int | None = None
    height: int | None = None
    conversation_id: str
    message_id: str | None = None
