"""Opaque, tamper-checked pagination cursors.

A cursor wraps DynamoDB's ``LastEvaluatedKey`` with the scope it was issued for (which list, which
user) and an HMAC, so a client can neither forge a position nor replay another user's cursor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

MAX_CURSOR_CHARS = 2048


class InvalidCursor(ValueError):
    """The cursor was not issued by us for this list and caller."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, scope: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), scope.encode() + b"\x00" + payload, hashlib.sha256).digest()[:16]


def encode_cursor(position: dict[str, Any], *, scope: str, secret: str) -> str:
    """An opaque cursor for ``position`` (a LastEvaluatedKey) valid only within ``scope``."""
    payload = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, scope, payload))}"


def decode_cursor(cursor: str, *, scope: str, secret: str) -> dict[str, Any]:
    """The position inside ``cursor``; raises InvalidCursor when it was altered or is foreign."""
    if len(cursor) > MAX_CURSOR_CHARS or cursor.count(".") != 1:
        raise InvalidCursor("malformed cursor")
    body, mac = cursor.split(".")
    try:
        payload, given = _unb64(body), _unb64(mac)
    except (ValueError, TypeError) as exc:
        raise InvalidCursor("malformed cursor") from exc
    if not hmac.compare_digest(given, _mac(secret, scope, payload)):
        raise InvalidCursor("cursor does not belong to this list")
    try:
        position = json.loads(payload)
    except ValueError as exc:
        raise InvalidCursor("malformed cursor") from exc
    if not isinstance(position, dict):
        raise InvalidCursor("malformed cursor")
    return position
