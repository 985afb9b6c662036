"""Time as the wire format wants it: ISO-8601 UTC with milliseconds and a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``2026-11-24T10:15:30.123Z``: sorts lexicographically in time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(utc_now())


def parse_iso(value: str) -> datetime:
    """The moment an ``iso`` string names."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def epoch_seconds(timestamp: str) -> int:
    """Whole seconds since the epoch of an ``iso`` timestamp (rounded down)."""
    return int(parse_iso(timestamp).timestamp())
