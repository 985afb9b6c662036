"""Quiet hours in the user's time zone, the digest's hops, unsubscribe tokens (chalicelib.domain.notifications)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.notifications import (
    InvalidPreferences,
    InvalidToken,
    Preferences,
    QuietHours,
    next_hop_seconds,
    unsubscribe_token,
    unsubscribed_user,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


PARIS_NIGHT = QuietHours("22:00", "07:00", "Europe/Paris")


@pytest.mark.parametrize(
    ("now", "until"),
    [
        ("2026-12-02T20:59:00", None),  # 21:59 in Paris (UTC+1 in winter)
        ("2026-12-02T21:00:00", "2026-12-03T06:00:00"),  # 22:00: quiet until 07:00 the next morning
        ("2026-12-02T23:30:00", "2026-12-03T06:00:00"),  # past midnight in Paris
        ("2026-12-03T05:59:00", "2026-12-03T06:00:00"),
        ("2026-12-03T06:00:00", None),  # 07:00: over
        ("2026-07-02T20:30:00", "2026-07-03T05:00:00"),  # summer: UTC+2
    ],
)
def test_quiet_hours_spanning_midnight_in_the_users_zone(now: str, until: str | None) -> None:
    assert PARIS_NIGHT.quiet_until(utc(now)) == (utc(until) if until else None)


def test_quiet_hours_within_a_day() -> None:
    lunch = QuietHours("12:00", "14:00", "America/New_York")
    assert lunch.quiet_until(utc("2026-12-02T17:30:00")) == utc("2026-12-02T19:00:00")
    assert lunch.quiet_until(utc("2026-12-02T19:00:00")) is None


def test_quiet_hours_across_a_dst_change_end_at_the_local_time() -> None:
    # Europe/Paris moves to summer time on 2026-03-29 at 02:00: the night before is an hour shorter in UTC.
    assert PARIS_NIGHT.quiet_until(utc("2026-03-28T22:00:00")) == utc("2026-03-29T05:00:00")


@pytest.mark.parametrize(
    ("start", "end", "zone"),
    [("22:00", "22:00", "UTC"), ("25:00", "07:00", "UTC"), ("22:00", "07:00", "Nowhere/City"), ("1:00", "2:00", "UTC")],
)
def test_invalid_quiet_hours(start: str, end: str, zone: str) -> None:
    with pytest.raises(InvalidPreferences):
        QuietHours(start, end, zone)


@pytest.mark.parametrize("minutes", [0, 1441, -5])
def test_delay_bounds(minutes: int) -> None:
    with pytest.raises(InvalidPreferences):
        Preferences(email_delay_minutes=minutes)


def test_the_override_wins_over_every_users_delay() -> None:
    assert Preferences(email_delay_minutes=30).digest_delay_seconds(None) == 1800
    assert Preferences(email_delay_minutes=30).digest_delay_seconds(2) == 2


def test_hops_of_at_most_900_seconds() -> None:
    now = utc("2026-12-02T10:00:00")
    assert next_hop_seconds(now, now + timedelta(hours=24)) == 900
    assert next_hop_seconds(now, now + timedelta(seconds=61.2)) == 62
    assert next_hop_seconds(now, now) == 0
    assert next_hop_seconds(now, now - timedelta(seconds=5)) == 0


def test_unsubscribe_tokens_name_their_user_and_cannot_be_forged() -> None:
    token = unsubscribe_token("bob@shop", "secret-1")
    assert unsubscribed_user(token, "secret-1") == "bob@shop"
    for forged in (unsubscribe_token("bob@shop", "secret-2"), token + "x", "x" + token, "", "a.b.c", "%%%.%%%"):
        with pytest.raises(InvalidToken):
            unsubscribed_user(forged, "secret-1")
