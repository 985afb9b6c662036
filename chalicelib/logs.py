"""Structured JSON logs: one object per line, with the request's correlation ids bound once per request.

Handlers bind ``request_id`` / ``connection_id`` / ``user_id`` (and the route or action) through
``bind``; every log line below them carries those fields. Tokens and message bodies are never logged, at any
level: nothing here logs a request body, ``extra`` keys that could hold them are dropped, and the libraries that
log payloads at DEBUG (PynamoDB, botocore...) are kept at WARNING whatever ``LOG_LEVEL`` says.
"""

from __future__ import annotations

import json
import logging
import os
import time
from contextvars import ContextVar
from typing import Any

_context: ContextVar[dict[str, Any] | None] = ContextVar("log_context", default=None)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_NEVER = {"token", "authorization", "content", "body", "password", "secret"}


def bind(**fields: Any) -> None:
    """Add correlation fields to every following log line of this request."""
    _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})


def clear() -> None:
    _context.set({})


class JsonFormatter(logging.Formatter):
    """``{"timestamp", "level", "logger", "message", ...correlation ids, ...extra}``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **(_context.get() or {}),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key.lower() not in _NEVER and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


# Libraries whose DEBUG (and some INFO) lines carry request and response payloads: PynamoDB logs every call's
# arguments (message content, previews, idempotency keys), botocore / boto3 / s3transfer / urllib3 the HTTP
# bodies and headers (signed URLs, the SSM secret's value), PyJWT nothing today. Kept at WARNING or above,
# whatever LOG_LEVEL says: an operator debugging the app sees its own lines, never a body or a token.
QUIET_LOGGERS = ("pynamodb", "botocore", "boto3", "s3transfer", "urllib3", "jwt")


def configure() -> None:
    """Send every log line through the JSON formatter (Lambda's own root handler included)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    # A library's record is filtered by its own logger's level only (the root's level does not apply to records
    # that propagate up), so each is pinned at WARNING, or at the root's level when that is higher.
    quiet = max(logging.WARNING, root.level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
