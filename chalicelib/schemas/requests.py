"""Request bodies and query strings, validated before any service runs."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StrictBool, StringConstraints, field_validator, model_validator

from chalicelib.domain import profiles, push
from chalicelib.schemas.base import EntityId, OpaqueId, RequestModel
from chalicelib.settings import get_settings

ClientMessageId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
# The rules of domain.profiles (shared with the JWT's name / picture claims); the constraints document them.
ImageUrl = Annotated[
    str,
    StringConstraints(pattern=r"^https://\S+$", max_length=profiles.URL_MAX_CHARS),
    AfterValidator(profiles.image_url),
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
    def _one_target_and_something_to_say(self) -> SendMessageRequest:
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


class PageQuery(RequestModel):
    """``limit`` and ``cursor`` of a conversation list."""

    limit: int | None = _page_limit("conversations_page_max")
    cursor: Cursor | None = None

    @field_validator("limit")
    @classmethod
    def _within_page_max(cls, value: int | None) -> int | None:
        return _at_most(value, get_settings().conversations_page_max)


class HistoryQuery(RequestModel):
    """A page of a conversation's history: the newest, or the page ``before`` / ``after`` a message id."""

    limit: int | None = _page_limit("messages_page_max")
    before: OpaqueId | None = None
    after: OpaqueId | None = None

    @model_validator(mode="after")
    def _one_direction(self) -> HistoryQuery:
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

    @model_validator(mode="after")
    def _consistent(self) -> MessagesQuery:
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
    limit: int | None = _page_limit("sync_page_max")

    @field_validator("limit")
    @classmethod
    def _within_page_max(cls, value: int | None) -> int | None:
        return _at_most(value, get_settings().sync_page_max)


class PatternConversationQuery(RequestModel):
    """``GET /api/messages/pattern/{patternId}`` query string."""

    creator_id: EntityId | None = None


class UpsertUserRequest(RequestModel):
    """``PUT /api/internal/users/{userId}``."""

    name: DisplayName
    avatar_url: ImageUrl | None = None


class UpsertPatternRequest(RequestModel):
    """``PUT /api/internal/patterns/{patternId}``."""

    creator_id: EntityId
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    thumbnail_url: ImageUrl | None = None


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
