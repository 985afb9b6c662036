"""The one error hierarchy of the service and the closed list of its error codes.

Use cases raise these; the error boundary (``chalicelib.entrypoints.boundary``) turns them, and every storage
or AWS client failure, into the one JSON error shape. ``ErrorCode`` is what clients may switch on: the OpenAPI
document publishes it as an enum, so a new code is added here or nowhere.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Every ``error.code`` the API and the socket answer with."""

    INVALID_REQUEST = "invalid_request"
    INVALID_JSON = "invalid_json"
    INVALID_CURSOR = "invalid_cursor"
    INVALID_QUERY = "invalid_query"
    INVALID_FRAME = "invalid_frame"
    UNKNOWN_ACTION = "unknown_action"
    SELF_CONVERSATION = "self_conversation"
    CREATOR_MISMATCH = "creator_mismatch"
    ATTACHMENT_NOT_FOUND = "attachment_not_found"
    ATTACHMENT_NOT_UPLOADED = "attachment_not_uploaded"
    ATTACHMENT_REJECTED = "attachment_rejected"
    ATTACHMENT_TYPE_MISMATCH = "attachment_type_mismatch"
    ATTACHMENT_SIZE_MISMATCH = "attachment_size_mismatch"
    UNSUPPORTED_ATTACHMENT_TYPE = "unsupported_attachment_type"
    TOO_MANY_ROOMS = "too_many_rooms"
    INVALID_REPLY = "invalid_reply"
    INVALID_REACTION = "invalid_reaction"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    UNAUTHORIZED = "unauthorized"
    TOKEN_EXPIRED = "token_expired"  # nosec B105 # an error code, not a password
    FORBIDDEN = "forbidden"
    PURCHASE_REQUIRED = "purchase_required"
    NOT_PATTERN_CREATOR = "not_pattern_creator"
    NOT_RECIPIENT = "not_recipient"
    NOT_SENDER = "not_sender"
    EDIT_WINDOW_PASSED = "edit_window_passed"
    SERVICE_ROLE_REQUIRED = "service_role_required"
    USER_TOKEN_REQUIRED = "user_token_required"  # nosec B105 # an error code, not a password
    RECIPIENT_UNAVAILABLE = "recipient_unavailable"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    ATTACHMENT_ALREADY_USED = "attachment_already_used"
    MESSAGE_DELETED = "message_deleted"
    TOO_MANY_REACTIONS = "too_many_reactions"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    ATTACHMENT_TOO_LARGE = "attachment_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    CONTENTION = "contention"
    INTERNAL_ERROR = "internal_error"
    # Reports and moderation (issue 16).
    OWN_MESSAGE = "own_message"
    REPORT_RESOLVED = "report_resolved"
    MODERATION_WINDOW_PASSED = "moderation_window_passed"
    MODERATOR_ROLE_REQUIRED = "moderator_role_required"
    ACCOUNT_SUSPENDED = "account_suspended"
    AUDIT_UNAVAILABLE = "audit_unavailable"
    INVALID_UNSUBSCRIBE_TOKEN = "invalid_unsubscribe_token"  # nosec B105 # an error code, not a password
    PUSH_ENDPOINT_NOT_ALLOWED = "push_endpoint_not_allowed"
    TOO_MANY_PUSH_SUBSCRIPTIONS = "too_many_push_subscriptions"


class AppError(Exception):
    """An error a client can act on: an HTTP status, a stable machine-readable code, a message."""

    status = 400
    code: ErrorCode = ErrorCode.INVALID_REQUEST

    def __init__(self, message: str, *, code: ErrorCode | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_body(self) -> dict[str, Any]:
        """The wire shape: ``{"error": {"code", "message", "details"?}}``."""
        error: dict[str, Any] = {"code": str(self.code), "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class InvalidRequest(AppError):
    status = 400
    code = ErrorCode.INVALID_REQUEST


class Unauthorized(AppError):
    status = 401
    code = ErrorCode.UNAUTHORIZED


class Forbidden(AppError):
    status = 403
    code = ErrorCode.FORBIDDEN


class AccountSuspended(Forbidden):
    """A moderator suspended the caller (issue 16): REST answers 403 ``account_suspended``, ``$connect`` refuses."""

    code = ErrorCode.ACCOUNT_SUSPENDED

    def __init__(self, until: str) -> None:
        super().__init__(f"the account is suspended until {until}", details={"suspendedUntil": until})


class NotFound(AppError):
    """Missing, or not the caller's: the two are indistinguishable on purpose."""

    status = 404
    code = ErrorCode.NOT_FOUND


class Conflict(AppError):
    status = 409
    code = ErrorCode.CONFLICT


class PayloadTooLarge(AppError):
    status = 413
    code = ErrorCode.PAYLOAD_TOO_LARGE


class UnsupportedMediaType(AppError):
    status = 415
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


class RateLimited(AppError):
    """Too many requests of one kind by one user; ``retry_after`` seconds until the window reopens."""

    status = 429
    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retryAfter": retry_after})
        self.retry_after = retry_after


class TooManyConnections(AppError):
    """A user already holds ``MAX_CONNECTIONS_PER_USER`` open sockets: ``$connect`` refuses the upgrade with 429."""

    status = 429
    code = ErrorCode.TOO_MANY_CONNECTIONS


class ServiceUnavailable(AppError):
    """A transient failure (contention, throttling, a storage outage): the client may retry the same request."""

    status = 503
    code = ErrorCode.TEMPORARILY_UNAVAILABLE


class InternalError(AppError):
    """A bug: never raised on purpose; the boundary answers it for an exception nobody expected."""

    status = 500
    code = ErrorCode.INTERNAL_ERROR


class FileStorageError(Exception):
    """The attachments bucket (or signing, which needs credentials and an endpoint) failed; raised by the file
    adapter in place of boto3's errors, mapped by the boundary to 503 ``storage_unavailable``."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(type(cause).__name__)
        self.cause_name = type(cause).__name__
