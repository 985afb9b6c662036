"""Request bodies and query strings, validated before any service runs."""

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Field, StrictBool, StringConstraints, field_validator, model_validator

from chalicelib.domain import notifications, profiles, push
from chalicelib.schemas.base import EntityId, OpaqueId, RequestModel
from chalicelib.settings import get_settings

ClientMessageId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
# The rules of domain.profiles (shared with the JWT's name / picture claims); the constraints document them.
ImageUrl = Annotated[
    str,
    StringConstraints(pattern=r"^https://\S+$", max_length=profiles.URL_MAX_CHARS),
    AfterValidator(profiles.image_url),
]
EmailAddress = Annotated[
    str,
    StringConstraints(max_length=profiles.EMAIL_MAX_CHARS + 2),
    AfterValidator(profiles.email_address),
]
DisplayName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=profiles.NAME_MAX_CHARS),
    AfterValidator(profiles.display_name),
]


class AttachmentRef(RequestModel):
    """An upload made through ``POST /api/attachments``, referenced by its id."""

    attachment_id: OpaqueId


def message_content(value: str) -> str:
    """A message's text: trimmed, at most ``MESSAGE_MAX_CHARS``, no control characters but line breaks and tabs."""
    value = value.strip()
    limit = get_settings().message_max_chars
    if len(value) > limit:
        raise ValueError(f"content must be at most {limit} characters")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t\r" for ch in value):
        raise ValueError("content must not contain control characters")
    return value


class ReplyRefRequest(RequestModel):
    """The message a new one quotes: a message of the same conversation."""

    message_id: OpaqueId


class SendMessageRequest(RequestModel):
    """``POST /api/messages`` and the socket's ``new_message``."""

    content: str = ""
    conversation_id: OpaqueId | None = None
    recipient_id: EntityId | None = None
    pattern_id: EntityId | None = None
    attachment: AttachmentRef | None = None
    client_message_id: ClientMessageId | None = None
    reply_to: ReplyRefRequest | None = None

    @field_validator("content")
    @classmethod
    def _trimmed_and_bounded(cls, value: str) -> str:
        return message_content(value)

    @model_validator(mode="after")
    def _one_target_and_something_to_say(self) -> Self:
        if (self.conversation_id is None) == (self.recipient_id is None):
            raise ValueError("give exactly one of conversationId or recipientId")
        if self.pattern_id is not None and self.recipient_id is None:
            raise ValueError("patternId goes with recipientId (a conversation already has its pattern)")
        if not self.content and self.attachment is None:
            raise ValueError("content must not be empty unless an attachment is sent")
        return self


class EditMessageRequest(RequestModel):
    """``PATCH /api/messages/{id}``: the new text, under the same rules as a send's (it may be empty only for a
    message with an attachment)."""

    content: str

    @field_validator("content")
    @classmethod
    def _trimmed_and_bounded(cls, value: str) -> str:
        return message_content(value)


class UploadRequest(RequestModel):
    """``POST /api/attachments``: what the client is about to upload, and where it will be sent."""

    conversation_id: OpaqueId
    file_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    content_type: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=100)]
    size: int = Field(ge=1)


class MarkReadRequest(RequestModel):
    """``PUT /api/messages/{id}/read``."""

    mark_conversation: StrictBool = False


Cursor = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


def _page_limit(setting: str) -> Any:
    """A ``limit`` field whose documented maximum is the configured one (read when the schema is generated)."""

    def document(schema: dict[str, Any]) -> None:
        schema["maximum"] = getattr(get_settings(), setting)

    return Field(default=None, ge=1, json_schema_extra=document)


def _at_most(limit: int | None, maximum: int) -> int | None:
    """``limit`` when within the page maximum (settings are read per request, so tests can vary them)."""
    if limit is not None and limit > maximum:
        raise ValueError(f"limit must be at most {maximum}")
    return limit


def _limited_by(setting: str) -> Any:
    """The per-request check of a ``limit`` against the configured page maximum ``setting``."""
    return AfterValidator(lambda limit: _at_most(limit, getattr(get_settings(), setting)))


# ``limit`` of a list: at least 1, at most the configured maximum (documented in the schema and checked per request).
ConversationsLimit = Annotated[int | None, _page_limit("conversations_page_max"), _limited_by("conversations_page_max")]
SearchLimit = Annotated[int | None, _page_limit("search_page_max"), _limited_by("search_page_max")]
SyncLimit = Annotated[int | None, _page_limit("sync_page_max"), _limited_by("sync_page_max")]
ModerationLimit = Annotated[int | None, _page_limit("moderation_page_max"), _limited_by("moderation_page_max")]


Folder = Literal["inbox", "archived", "requests"]


class PageQuery(RequestModel):
    """``limit`` and ``cursor`` of a conversation list, and which of the caller's folders it lists (``inbox``: not
    archived, not a message request waiting for the caller; ``archived``; ``requests``)."""

    limit: ConversationsLimit = None
    cursor: Cursor | None = None
    folder: Folder = "inbox"


class BlocksQuery(RequestModel):
    """``limit`` and ``cursor`` of ``GET /api/me/blocks``."""

    limit: ConversationsLimit = None
    cursor: Cursor | None = None


class SearchQuery(RequestModel):
    """``GET /api/messages/search``: ``q`` (1-200 characters with a word of two or more, else 400 ``invalid_query``),
    optionally one conversation, a page."""

    q: str | None = Field(default=None, description="the words to find (1-200 characters); the last one is a prefix")
    conversation_id: OpaqueId | None = None
    limit: SearchLimit = None
    cursor: Cursor | None = None


class HistoryQuery(RequestModel):
    """A page of a conversation's history: the newest, or the page ``before`` / ``after`` a message id."""

    limit: int | None = _page_limit("messages_page_max")
    before: OpaqueId | None = None
    after: OpaqueId | None = None

    @model_validator(mode="after")
    def _one_direction(self) -> Self:
        if self.before and self.after:
            raise ValueError("give at most one of before or after")
        _at_most(self.limit, get_settings().messages_page_max)
        return self


class MessagesQuery(RequestModel):
    """``GET /api/messages`` query string: the list, or (the seed's form) one conversation with a page of
    history."""

    conversation_id: OpaqueId | None = None
    limit: int | None = Field(default=None, ge=1)
    cursor: Cursor | None = None
    before: OpaqueId | None = None
    after: OpaqueId | None = None
    folder: Folder = "inbox"  # the list's folder (a conversation's history ignores it)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.before and self.after:
            raise ValueError("give at most one of before or after")
        settings = get_settings()
        if self.conversation_id is None:
            if self.before or self.after:
                raise ValueError("before/after page through one conversation: add conversationId")
            maximum = settings.conversations_page_max
        else:
            if self.cursor:
                raise ValueError("a conversation's history pages with before/after, not cursor")
            maximum = settings.messages_page_max
        _at_most(self.limit, maximum)
        return self


class SyncQuery(RequestModel):
    """``GET /api/messages/sync``: ``since`` is the ``nextCursor`` of the previous sync."""

    since: Cursor | None = None
    limit: SyncLimit = None


class PatternConversationQuery(RequestModel):
    """``GET /api/messages/pattern/{patternId}`` query string."""

    creator_id: EntityId | None = None


class UpsertUserRequest(RequestModel):
    """``PUT /api/internal/users/{userId}``. ``acceptsDirectMessages: true`` opens a creator to everyone (no message
    requests); left out, it stays as it was."""

    name: DisplayName
    avatar_url: ImageUrl | None = None
    accepts_direct_messages: StrictBool | None = None
    # Where email digests go (issue 18). Stored for this service only: no response to another user carries it.
    email: EmailAddress | None = None


class UpsertPatternRequest(RequestModel):
    """``PUT /api/internal/patterns/{patternId}``."""

    creator_id: EntityId
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    thumbnail_url: ImageUrl | None = None


def utc_timestamp(value: datetime) -> str:
    """An ISO-8601 moment with a time zone, as the API writes them (UTC, milliseconds, ``Z``)."""
    if value.tzinfo is None:
        raise ValueError("give a time zone (Z or an offset)")
    moment = value.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class ConversationSettingsRequest(RequestModel):
    """``PUT /api/messages/conversations/{id}/settings``: the caller's own settings of one conversation; what is not
    given stays as it is. ``mutedUntil``: muted until then (ISO-8601 with a time zone), ``null`` unmutes;
    ``accepted: true`` accepts a message request waiting for the caller."""

    archived: StrictBool | None = None
    muted_until: datetime | None = None
    accepted: Literal[True] | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if not self.model_fields_set & {"archived", "muted_until", "accepted"}:
            raise ValueError("give at least one of archived, mutedUntil, accepted")
        if "archived" in self.model_fields_set and self.archived is None:
            raise ValueError("archived is true or false")
        if self.muted_until is not None and self.muted_until.tzinfo is None:
            raise ValueError("mutedUntil needs a time zone (Z or an offset)")
        return self

    @property
    def mutes(self) -> bool:
        """Whether ``mutedUntil`` was given (null included: unmute)."""
        return "muted_until" in self.model_fields_set

    @property
    def muted_until_iso(self) -> str | None:
        return utc_timestamp(self.muted_until) if self.muted_until is not None else None


# --- reports and moderation (issue 16) ----------------------------------------------------------------------

ReportReason = Literal["spam", "harassment", "scam", "off_platform_payment", "inappropriate", "other"]


class ReportRequest(RequestModel):
    """``POST /api/messages/{id}/report``: why, and in the reporter's words (at most 1,000 characters)."""

    reason: ReportReason
    details: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None

    @field_validator("details")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and any(unicodedata.category(ch) == "Cc" and ch not in "\n\t\r" for ch in value):
            raise ValueError("details must not contain control characters")
        return value or None


class ReportsQuery(RequestModel):
    """``GET /api/moderation/reports``: open reports oldest first (the default), or resolved ones newest first."""

    status: Literal["open", "resolved"] = "open"
    limit: ModerationLimit = None
    cursor: Cursor | None = None


class AuditQuery(RequestModel):
    """``GET /api/moderation/audit``: newest first; everything, or one conversation's, one moderator's, or both."""

    conversation_id: OpaqueId | None = None
    moderator_id: EntityId | None = None
    limit: ModerationLimit = None
    cursor: Cursor | None = None


class ResolutionRequest(RequestModel):
    """``POST /api/moderation/reports/{id}/resolution``: what was decided and why; ``suspendDays`` with
    ``suspend_user`` only (1 to ``SUSPENSION_MAX_DAYS``)."""

    action: Literal["dismiss", "delete_message", "suspend_user"]
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    suspend_days: int | None = Field(default=None, ge=1)

    @field_validator("suspend_days")
    @classmethod
    def _at_most_max(cls, value: int | None) -> int | None:
        return _at_most(value, get_settings().suspension_max_days)


# --- notification preferences (issue 18) ---------------------------------------------------------------

ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class EmailPreferencesRequest(RequestModel):
    """Email digests: on or off, and how long a message waits unread before it is mailed."""

    enabled: StrictBool = True
    delay_minutes: Annotated[
        int,
        Field(strict=True, ge=notifications.DELAY_MINUTES_MIN, le=notifications.DELAY_MINUTES_MAX),
    ] = notifications.DELAY_MINUTES_DEFAULT


class PushPreferencesRequest(RequestModel):
    """Web Push: on or off, and whether notifications (and digests) show the message's text."""

    enabled: StrictBool = True
    show_preview: StrictBool = True


class QuietHoursRequest(RequestModel):
    """No digest between ``start`` and ``end`` (24-hour ``HH:MM``, local time of the IANA ``timeZone``); a window
    may span midnight (22:00-07:00). A digest due meanwhile is sent when they end."""

    start: ClockTime
    end: ClockTime
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64)]

    @model_validator(mode="after")
    def _a_real_window(self) -> Self:
        try:
            notifications.QuietHours(self.start, self.end, self.time_zone)
        except notifications.InvalidPreferences as exc:
            raise ValueError(str(exc)) from None
        return self


class NotificationPreferencesRequest(RequestModel):
    """``PUT /api/me/notification-preferences``: the whole set (what is left out takes its default)."""

    email: EmailPreferencesRequest = Field(default_factory=EmailPreferencesRequest)
    push: PushPreferencesRequest = Field(default_factory=PushPreferencesRequest)
    quiet_hours: QuietHoursRequest | None = None


class UnsubscribeQuery(RequestModel):
    """``POST /api/notifications/unsubscribe?token=...``: the token of an email digest's ``List-Unsubscribe``."""

    token: Annotated[str, StringConstraints(min_length=1, max_length=notifications.TOKEN_MAX_CHARS)]


def _p256dh(value: str) -> str:
    problem = push.p256_point_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _auth_secret(value: str) -> str:
    problem = push.auth_secret_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class PushKeysRequest(RequestModel):
    """A browser's ``PushSubscription.toJSON().keys``: its P-256 public key and its 16-byte auth secret."""

    p256dh: Annotated[str, StringConstraints(min_length=86, max_length=90), AfterValidator(_p256dh)] = Field(
        alias="p256dh", description="the subscription's uncompressed P-256 public key (65 bytes), base64url"
    )
    auth: Annotated[str, StringConstraints(min_length=22, max_length=24), AfterValidator(_auth_secret)] = Field(
        description="the subscription's authentication secret (16 bytes), base64url"
    )


class PushSubscriptionRequest(RequestModel):
    """``PUT /api/push/subscriptions``: what ``PushSubscription.toJSON()`` gives (``expirationTime`` is accepted and
    ignored: push services answer 404/410 once a subscription expired, and it is forgotten then)."""

    endpoint: Annotated[str, StringConstraints(min_length=8, max_length=push.ENDPOINT_MAX_CHARS)]
    keys: PushKeysRequest
    expiration_time: int | None = None
