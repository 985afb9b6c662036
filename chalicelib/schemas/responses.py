"""Response shapes: the seed's Message and Conversation, and the enriched conversation views."""

from __future__ import annotations

from typing import Literal

from chalicelib.errors import ErrorCode
from chalicelib.schemas.base import ResponseModel, Timestamp


class ReactionOut(ResponseModel):
    """One emoji on a message: how many reacted with it, and who (in the order they did)."""

    emoji: str
    count: int
    user_ids: list[str]


class ReplyToOut(ResponseModel):
    """The message a reply quotes, as it is now: its content cut to 140 characters, "" once it was deleted
    (``isDeleted``); ``attachmentType`` when it carries one."""

    id: str
    sender_id: str
    content: str
    is_deleted: bool
    attachment_type: Literal["image", "file"] | None = None


class MessageOut(ResponseModel):
    """A message. ``version`` grows by one with every change (edit, deletion, reaction, a change of the message it
    quotes): keep the highest version per id. A deleted message is a tombstone: ``isDeleted``, ``content: ""``, no
    attachment, no reactions, no quote."""

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
    version: int = 1
    edited_at: Timestamp | None = None
    is_deleted: bool = False
    deleted_at: Timestamp | None = None
    reactions: list[ReactionOut] = []
    reply_to: ReplyToOut | None = None


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
    """The newest message's preview; it follows that message's edit (``editedAt``) and deletion (``isDeleted``,
    ``content: ""``)."""

    id: str
    sender_id: str
    content: str
    sent_at: Timestamp
    attachment_type: Literal["image", "file"] | None = None
    edited_at: Timestamp | None = None
    is_deleted: bool | None = None


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


class MessageChangeOut(ResponseModel):
    """``PATCH``/``DELETE /api/messages/{id}`` and its reactions: the message as it is after the change."""

    message: MessageOut


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


class VapidPublicKeyOut(ResponseModel):
    """``GET /api/push/vapid-public-key``: the application server key browsers subscribe with
    (``PushManager.subscribe({userVisibleOnly: true, applicationServerKey})``)."""

    public_key: str


class PushSubscriptionOut(ResponseModel):
    """A push subscription of the caller: its id (the same for the same endpoint)."""

    id: str
