"""Pagination cursors: they round-trip, and anything altered, foreign or malformed is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chalicelib.domain.cursors import MAX_CURSOR_CHARS, InvalidCursor, decode_cursor, encode_cursor

SECRET = "cursor-secret-0123456789-0123456789"
SCOPE = "conversations#alice"
POSITION: dict[str, Any] = {"userId": "alice", "lastMessageAt": "2026-01-01T00:00:00.000Z#conv_abc"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode(cursor: str, *, scope: str = SCOPE, secret: str = SECRET) -> dict[str, Any]:
    return decode_cursor(cursor, scope=scope, secret=secret)


@pytest.fixture
def cursor() -> str:
    return encode_cursor(POSITION, scope=SCOPE, secret=SECRET)


@pytest.mark.parametrize(
    "position",
    [
        POSITION,
        {},
        {"n": 42, "nested": {"list": [1, 2, 3]}, "unicode": "é✓"},
    ],
)
def test_round_trip(position: dict[str, Any]) -> None:
    assert decode(encode_cursor(position, scope=SCOPE, secret=SECRET)) == position


def test_cursor_is_opaque_url_safe_text(cursor: str) -> None:
    assert cursor.count(".") == 1
    assert all(ch.isalnum() or ch in "-_." for ch in cursor)
    assert "=" not in cursor


def test_encoding_does_not_depend_on_key_order() -> None:
    first = encode_cursor({"a": 1, "b": 2}, scope=SCOPE, secret=SECRET)
    second = encode_cursor({"b": 2, "a": 1}, scope=SCOPE, secret=SECRET)
    assert first == second


def test_tampered_payload_is_refused(cursor: str) -> None:
    body, mac = cursor.split(".")
    forged = dict(json.loads(unb64(body)), userId="bob")
    with pytest.raises(InvalidCursor):
        decode(f"{b64(json.dumps(forged, separators=(',', ':'), sort_keys=True).encode())}.{mac}")


def test_tampered_mac_is_refused(cursor: str) -> None:
    body, mac = cursor.split(".")
    flipped = bytearray(unb64(mac))
    flipped[0] ^= 0x01
    with pytest.raises(InvalidCursor):
        decode(f"{body}.{b64(bytes(flipped))}")


def test_truncated_mac_is_refused(cursor: str) -> None:
    body, mac = cursor.split(".")
    with pytest.raises(InvalidCursor):
        decode(f"{body}.{b64(unb64(mac)[:8])}")


def test_cursor_of_another_scope_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode(cursor, scope="conversations#bob")


def test_cursor_signed_with_another_secret_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode(cursor, secret="another-secret-0123456789-0123456789")


def test_scope_and_payload_cannot_be_shifted_into_each_other() -> None:
    # The MAC separates scope from payload, so moving bytes across the boundary breaks it.
    cursor = encode_cursor({"a": 1}, scope="s", secret=SECRET)
    with pytest.raises(InvalidCursor):
        decode(cursor, scope="s\x00")


def test_well_signed_non_object_is_refused() -> None:
    cursor = encode_cursor([1, 2, 3], scope=SCOPE, secret=SECRET)  # type: ignore[arg-type]
    with pytest.raises(InvalidCursor):
        decode(cursor)


@pytest.mark.parametrize(
    "value",
    [
        "",
        ".",
        "no-dot-at-all",
        "a.b.c",
        "....",
        "abc.",
        ".abc",
        "a.b",  # one base64 character is never a whole byte
        "é.é",
        "%%%.%%%",
        b64(b"not json") + "." + b64(b"x" * 16),
    ],
)
def test_malformed_is_refused(value: str) -> None:
    with pytest.raises(InvalidCursor):
        decode(value)


def test_oversized_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidCursor):
        decode("a" * (MAX_CURSOR_CHARS // 2) + "." + "a" * (MAX_CURSOR_CHARS // 2))


def test_oversized_is_refused_even_when_well_signed() -> None:
    cursor = encode_cursor({"pad": "x" * MAX_CURSOR_CHARS}, scope=SCOPE, secret=SECRET)
    assert len(cursor) > MAX_CURSOR_CHARS
    with pytest.raises(InvalidCursor):
        decode(cursor)


def test_a_cursor_at_the_size_limit_still_decodes() -> None:
    filler = "x" * (MAX_CURSOR_CHARS * 3 // 4 - 80)
    cursor = encode_cursor({"pad": filler}, scope=SCOPE, secret=SECRET)
    assert len(cursor) <= MAX_CURSOR_CHARS
    assert decode(cursor) == {"pad": filler}


def test_invalid_cursor_is_a_value_error() -> None:
    assert issubclass(InvalidCursor, ValueError)
