"""Wire timestamps: ISO-8601 UTC, milliseconds, a trailing Z, and sortable as text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.domain.clock import iso, now_iso, utc_now

ISO_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 11, 24, 10, 15, 30, 123456, tzinfo=UTC), "2026-11-24T10:15:30.123Z"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05.000Z"),
        (datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC), "2026-01-02T03:04:05.999Z"),  # truncated, not rounded
        (datetime(2026, 1, 2, 3, 4, 5, 1000, tzinfo=UTC), "2026-01-02T03:04:05.001Z"),
    ],
)
def test_iso_format(moment: datetime, expected: str) -> None:
    assert iso(moment) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # UTC+02:00, 01:30 local is 23:30 the previous day in UTC.
        (datetime(2026, 3, 1, 1, 30, 0, 250000, tzinfo=timezone(timedelta(hours=2))), "2026-02-28T23:30:00.250Z"),
        # UTC-05:00 across a year boundary.
        (datetime(2025, 12, 31, 22, 0, 0, tzinfo=timezone(timedelta(hours=-5))), "2026-01-01T03:00:00.000Z"),
        # Half-hour offset (India).
        (
            datetime(2026, 6, 1, 12, 0, 0, 7000, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2026-06-01T06:30:00.007Z",
        ),
    ],
)
def test_iso_converts_other_time_zones_to_utc(moment: datetime, expected: str) -> None:
    assert iso(moment) == expected


def test_lexicographic_order_is_time_order() -> None:
    base = datetime(2026, 12, 31, 23, 59, 59, 998000, tzinfo=UTC)
    offsets = [
        timedelta(0),
        timedelta(milliseconds=1),
        timedelta(milliseconds=2),  # crosses into the next year
        timedelta(seconds=9),
        timedelta(seconds=10),
        timedelta(minutes=1),
        timedelta(hours=1),
        timedelta(days=9),
        timedelta(days=10),
        timedelta(days=400),
        -timedelta(days=200),
        -timedelta(milliseconds=1),
    ]
    moments = [base + offset for offset in offsets]
    # Express half of them in other zones: the text must still sort by instant.
    zones = [UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-7))]
    shown = [moment.astimezone(zones[i % len(zones)]) for i, moment in enumerate(moments)]
    in_time_order = [iso(moment) for moment in sorted(shown)]
    assert len(set(in_time_order)) == len(in_time_order)
    assert in_time_order == sorted(in_time_order)


def test_utc_now_is_aware_utc() -> None:
    now = utc_now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)


def test_now_iso_is_current_and_well_formed() -> None:
    before = iso(datetime.now(UTC))
    value = now_iso()
    after = iso(datetime.now(UTC))
    assert ISO_FORMAT.fullmatch(value)
    assert before <= value <= after
