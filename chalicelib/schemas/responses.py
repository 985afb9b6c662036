"""Response shapes: the seed's Message and Conversation, and the enriched conversation views."""

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


class ConversationSettingsOut(ResponseModel):
    """The caller's own settings of a conversation: ``archived`` (out of the inbox until the other participant
    writes), ``mutedUntil`` (no notifications until then; null: not muted), ``isMuted`` (``mutedUntil`` is in the
    future now)."""

    archived: bool
    muted_until: Timestamp | None
    is_muted: bool


class EnrichedConversationOut(ConversationOut):
    unread_count: int
    last_message: LastMessageOut | None = None
    participants: list[ParticipantOut]
    other_participant: ParticipantPresenceOut
    pattern: PatternOut | None = None
    settings: ConversationSettingsOut


class SettingsOut(ResponseModel):
    """``PUT /api/messages/conversations/{id}/settings``: the caller's settings after the change."""

    settings: ConversationSettingsOut


class UserOut(ResponseModel):
    id: str
    name: str
    avatar_url: str | None = None
    accepts_direct_messages: bool = False


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
    """``GET /api/messages/conversations``: a page of one folder's conversations, the caller's total unread count
    (the unread messages of **inbox** conversations only: archived conversations and message requests are not
    counted) and ``requestsCount``, the message requests waiting for the caller (the requests badge)."""

    total_unread: int
    requests_count: int


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


class HighlightOut(ResponseModel):
    """Where a searched word is in the message's ``content``, in UTF-16 code units (``content.slice(start, end)``)."""

    start: int
    end: int


class SearchResultOut(ResponseModel):
    """One message found, its conversation (the seed's Conversation) and where the words are in its text (empty
    when only the attachment's file name matched)."""

    message: MessageOut
    conversation: ConversationOut
    highlights: list[HighlightOut]


class SearchOut(ResponseModel):
    """``GET /api/messages/search``: messages of the caller's conversations, newest first. A page may hold fewer
    than ``limit`` results and still have a ``nextCursor``: follow it until it is null."""

    results: list[SearchResultOut]
    next_cursor: str | None


class UploadFormOut(ResponseModel):
    url: str
    fields: dict[str, str]


class UploadTicketOut(ResponseModel):
    """``POST /api/attachments``: a presigned POST for exactly one file."""

    attachment_id: str
    upload: UploadFormOut
    expires_at: Timestamp
    max_bytes: int


class BlockOut(ResponseModel):
    """A user the caller blocked, and since when."""

    user_id: str
    blocked_at: Timestamp


class BlockedOut(ResponseModel):
    """``PUT /api/me/blocks/{userId}``: the block (201 when new, 200 when it already was)."""

    block: BlockOut


class BlockStateOut(ResponseModel):
    """``DELETE /api/me/blocks/{userId}``: the user is not blocked (any more)."""

    user_id: str
    blocked: bool


class BlocksOut(ResponseModel):
    """``GET /api/me/blocks``: one page of the users the caller blocked."""

    blocks: list[BlockOut]
    next_cursor: str | None


class ErrorBody(ResponseModel):
    code: ErrorCode
    message: str
    details: object | None = None


class ErrorOut(ResponseModel):
    """Every error: a stable machine-readable ``code`` and a human message."""

    error: ErrorBody


# --- reports and moderation (issue 16) ----------------------------------------------------------------------

ReportReasonOut = Literal["spam", "harassment", "scam", "off_platform_payment", "inappropriate", "other"]
ReportStatusOut = Literal["open", "resolved"]
ResolutionActionOut = Literal["dismiss", "delete_message", "suspend_user"]


class ReportOut(ResponseModel):
    """A report as its reporter sees it."""

    id: str
    message_id: str
    conversation_id: str
    reason: ReportReasonOut
    status: ReportStatusOut
    created_at: Timestamp


class ReportCreatedOut(ResponseModel):
    """``POST /api/messages/{id}/report``: 201 for a new report, 200 with the same report when made again."""

    report: ReportOut


class ResolutionOut(ResponseModel):
    action: ResolutionActionOut
    note: str
    moderator_id: str
    resolved_at: Timestamp
    suspend_days: int | None = None
    suspended_until: Timestamp | None = None


class ModerationReportOut(ReportOut):
    """A report as moderators see it: who reported whom, in the reporter's words, and how it was resolved."""

    reporter_id: str
    reported_user_id: str
    details: str | None = None
    resolution: ResolutionOut | None = None


class EarlierVersionOut(ResponseModel):
    content: str
    version: int
    since: Timestamp


class EvidenceAttachmentOut(ResponseModel):
    kind: str
    name: str | None = None
    content_type: str | None = None
    size: int | None = None


class SnapshotOut(ResponseModel):
    """The reported message as it was when reported (no later edit or deletion changes it): its text, the texts
    earlier edits replaced (oldest first), its attachment and the stored objects' keys."""

    message_id: str
    sender_id: str
    recipient_id: str
    content: str
    sent_at: Timestamp
    version: int
    edited_at: Timestamp | None = None
    earlier_versions: list[EarlierVersionOut]
    attachment: EvidenceAttachmentOut | None = None
    attachment_keys: list[str]


class ModeratedMessageOut(ResponseModel):
    """A message of the reported conversation as it is now (a deleted one is a tombstone)."""

    id: str
    sender_id: str
    recipient_id: str
    content: str
    sent_at: Timestamp
    version: int
    edited_at: Timestamp | None = None
    is_deleted: bool
    attachment: EvidenceAttachmentOut | None = None


class ReportsPageOut(ResponseModel):
    """``GET /api/moderation/reports``: one page; ``nextCursor`` null at the end."""

    reports: list[ModerationReportOut]
    next_cursor: str | None


class ReportDetailOut(ResponseModel):
    """``GET /api/moderation/reports/{id}``: the report, its evidence, and the messages around the reported one
    (oldest first, the reported one among them)."""

    report: ModerationReportOut
    snapshot: SnapshotOut
    messages: list[ModeratedMessageOut]


class ResolvedReportOut(ResponseModel):
    """``POST /api/moderation/reports/{id}/resolution``."""

    report: ModerationReportOut


class AuditEntryOut(ResponseModel):
    """One thing a moderator did or read, written before anything was shown."""

    id: str
    moderator_id: str
    action: Literal["list_reports", "read_report", "resolve_report", "read_audit"]
    at: Timestamp
    report_id: str | None = None
    conversation_id: str | None = None
    message_id: str | None = None
    details: dict[str, str | int | None]


class AuditPageOut(ResponseModel):
    """``GET /api/moderation/audit``: newest first; ``nextCursor`` null at the end."""

    entries: list[AuditEntryOut]
    next_cursor: str | None


# --- notification preferences (issue 18) ---------------------------------------------------------------


class EmailPreferencesOut(ResponseModel):
    enabled: bool
    delay_minutes: int


class PushPreferencesOut(ResponseModel):
    enabled: bool
    show_preview: bool


class QuietHoursOut(ResponseModel):
    start: str
    end: str
    time_zone: str


class NotificationPreferencesOut(ResponseModel):
    """The caller's notification preferences (defaults for what they never set); ``quietHours`` is null when off."""

    email: EmailPreferencesOut
    push: PushPreferencesOut
    quiet_hours: QuietHoursOut | None


class UnsubscribedOut(ResponseModel):
    """``POST /api/notifications/unsubscribe``: the token's user gets no more email digests (again: the same)."""

    unsubscribed: bool


class InternalUserOut(UserOut):
    """What the platform stored (its own copy, email included: only the service role ever sees this)."""

    email: str | None = None


class VapidPublicKeyOut(ResponseModel):
    """``GET /api/push/vapid-public-key``: the application server key browsers subscribe with
    (``PushManager.subscribe({userVisibleOnly: true, applicationServerKey})``)."""

    public_key: str


class PushSubscriptionOut(ResponseModel):
    """A push subscription of the caller: its id (the same for the same endpoint)."""

    id: str
