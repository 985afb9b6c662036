"""Response shapes: the seed's Message and Conversation, and the enriched conversation views."""

from __future__ import annotations

from typing import Literal

from chalicelib.errors import ErrorCode
from chalicelib.schemas.base import ResponseModel, Timestamp


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
    sent_at: Timestamp
    read_at: Timestamp | None = None
    client_message_id: str | None = None


class ParticipantOut(ResponseModel):
    id: str
    name: str
    avatar_url: str | None = None


class ParticipantPresenceOut(ParticipantOut):
    """A participant with presence: ``online`` and, once they have been seen, ``lastSeenAt``."""

    online: bool
    last_seen_at: Timestamp | None = None


class PatternOut(ResponseModel):
    id: str
    title: str
    thumbnail_url: str | None = None
    creator_id: str


class LastMessageOut(ResponseModel):
    id: str
    sender_id: str
    content: str
    sent_at: Timestamp
    attachment_type: Literal["image", "file"] | None = None


class ConversationOut(ResponseModel):
    id: str
    pattern_id: str | None = None
    participant_ids: list[str]
    last_message_id: str | None = None
    last_message_at: Timestamp | None = None
    created_at: Timestamp
    updated_at: Timestamp
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
    purchased_at: Timestamp


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


class ConversationListOut(ResponseModel):
    """``GET /api/messages``: one page of the caller's conversations."""

    conversations: list[EnrichedConversationOut]
    next_cursor: str | None


class ConversationsOut(ConversationListOut):
    """``GET /api/messages/conversations``: a page of conversations and the caller's total unread count."""

    total_unread: int


class ConversationDetailOut(ResponseModel):
    """``GET /api/messages?conversationId=…``: a conversation and one page of its history."""

    conversation: EnrichedConversationOut
    messages: list[MessageOut]
    has_more_before: bool
    has_more_after: bool


class SendOut(ResponseModel):
    """``POST /api/messages``: the stored message and its conversation."""

    message: MessageOut
    conversation: ConversationOut


class ReadOut(ResponseModel):
    """``PUT /api/messages/{id}/read``: the caller's read position and unread counts after it."""

    conversation_id: str
    message_id: str
    last_read_message_id: str | None
    read_at: Timestamp | None
    unread_count: int
    total_unread: int


class PatternConversationOut(ResponseModel):
    conversation: EnrichedConversationOut


class SyncOut(ResponseModel):
    """``GET /api/messages/sync``: what changed since the cursor."""

    conversations: list[EnrichedConversationOut]
    messages: list[MessageOut]
    next_cursor: str
    has_more: bool


class UploadFormOut(ResponseModel):
    url: str
    fields: dict[str, str]


class UploadTicketOut(ResponseModel):
    """``POST /api/attachments``: a presigned POST for exactly one file."""

    attachment_id: str
    upload: UploadFormOut
    expires_at: Timestamp
    max_bytes: int


class ErrorBody(ResponseModel):
    code: ErrorCode
    message: str
    details: object | None = None


class ErrorOut(ResponseModel):
    """Every error: a stable machine-readable ``code`` and a human message."""

    error: ErrorBody
