"""Structured JSON logs: one object per line, with the request's correlation ids bound once per request.

Handlers bind ``request_id`` / ``connection_id`` / ``user_id`` (and the route or action) through
``bind``; every log line below them carries those fields. Tokens and message bodies are never logged:
nothing here logs a request body, and ``extra`` keys that could hold them are dropped.
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


def configure() -> None:
    """Send every log line through the JSON formatter (Lambda's own root handler included)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    # botocore's debug chatter would log request payloads (message bodies): keep it quiet.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
