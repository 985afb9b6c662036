"""The one error hierarchy of the service; ``api.http`` maps it to JSON responses in one place."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """An error a client can act on: an HTTP status, a stable machine-readable code, a message."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    def to_body(self) -> dict[str, Any]:
        """The wire shape: ``{"error": {"code", "message", "details"?}}``."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class InvalidRequest(AppError):
    status = 400
    code = "invalid_request"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    """Missing, or not the caller's: the two are indistinguishable on purpose."""

    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


class RateLimited(AppError):
    """Too many requests of one kind by one user; ``retry_after`` seconds until the window reopens."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retryAfter": retry_after})
        self.retry_after = retry_after


class ServiceUnavailable(AppError):
    """A transient failure (contention, throttling): the client may retry the same request."""

    status = 503
    code = "temporarily_unavailable"
