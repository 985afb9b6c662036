"""Notification preferences, quiet hours in the user's time zone, the digest's timing, and unsubscribe tokens.

Pure: no storage, no clock of its own (``now`` is always given, timezone-aware UTC).

* Preferences: ``email`` (enabled, delay in minutes, 1-1440, default 10), ``push`` (enabled, show a preview), and
  optional ``quietHours`` (``"22:00"``-``"07:00"`` in an IANA time zone; a window may span midnight).
* A digest window opens with the first message that reaches a user while no window is open; its digest is due
  ``delay`` after that message. SQS delays a message at most 900 s, so a longer delay is a chain of hops
  (``next_hop_seconds``). During quiet hours the digest waits until they end (``quiet_until``).
* Unsubscribe tokens: ``<base64url user id>.<base64url HMAC-SHA256>``, keyed by a secret of the service; they do not
  expire (a mail read months later still unsubscribes) and undoing them is setting the preference again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DELAY_MINUTES_MIN = 1
DELAY_MINUTES_MAX = 1440
DELAY_MINUTES_DEFAULT = 10
SQS_MAX_DELAY_SECONDS = 900  # SQS refuses DelaySeconds above 15 minutes
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_TIME_ZONE_MAX_CHARS = 64


class InvalidPreferences(ValueError):
    """A preference value outside its rules (the message says which)."""


def clock_time(value: str) -> time:
    """``"22:00"`` → 22:00 (24-hour ``HH:MM``)."""
    match = _CLOCK.fullmatch(value)
    if not match:
        raise InvalidPreferences(f"{value!r} is not a time of day as HH:MM (00:00-23:59)")
    return time(int(match.group(1)), int(match.group(2)))


def time_zone(name: str) -> ZoneInfo:
    """An IANA time zone by name (``Europe/Paris``); anything else is InvalidPreferences."""
    if not name or len(name) > _TIME_ZONE_MAX_CHARS or name.startswith(("/", ".")) or ".." in name:
        raise InvalidPreferences(f"{name!r} is not an IANA time zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidPreferences(f"{name!r} is not an IANA time zone") from None


@dataclass(frozen=True)
class QuietHours:
    """No mail between ``start`` and ``end``, local time of ``time_zone`` (``start > end`` spans midnight)."""

    start: str
    end: str
    time_zone: str

    def __post_init__(self) -> None:
        if clock_time(self.start) == clock_time(self.end):
            raise InvalidPreferences("quiet hours must not start and end at the same time")
        time_zone(self.time_zone)

    def quiet_until(self, now: datetime) -> datetime | None:
        """When the quiet hours ``now`` falls in end (UTC), or None when ``now`` is not in them."""
        zone = time_zone(self.time_zone)
        local = now.astimezone(zone)
        start, end = clock_time(self.start), clock_time(self.end)
        at = local.time()
        if start < end:
            quiet = start <= at < end
            end_day = local.date()
        else:  # spans midnight: quiet from start to 24:00 and from 00:00 to end
            quiet = at >= start or at < end
            end_day = local.date() + timedelta(days=1) if at >= start else local.date()
        if not quiet:
            return None
        # Wall-clock end on that day; a time skipped by a DST change resolves to the instant after the gap.
        ends = datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)
        return ends if ends > now else now


@dataclass(frozen=True)
class Preferences:
    """A user's notification preferences (every field has its default)."""

    email_enabled: bool = True
    email_delay_minutes: int = DELAY_MINUTES_DEFAULT
    push_enabled: bool = True
    push_show_preview: bool = True
    quiet_hours: QuietHours | None = None

    def __post_init__(self) -> None:
        if not DELAY_MINUTES_MIN <= self.email_delay_minutes <= DELAY_MINUTES_MAX:
            raise InvalidPreferences(f"email.delayMinutes must be between {DELAY_MINUTES_MIN} and {DELAY_MINUTES_MAX}")

    def digest_delay_seconds(self, override_seconds: int | None) -> int:
        """How long after a window's first message its digest is due (``NOTIFY_EMAIL_DELAY_SECONDS`` wins)."""
        return override_seconds if override_seconds is not None else self.email_delay_minutes * 60


def next_hop_seconds(now: datetime, due: datetime) -> int:
    """The SQS delay of the next hop towards ``due``: 0 when due, else at most 900 s (a chain for longer waits)."""
    remaining = (due - now).total_seconds()
    if remaining <= 0:
        return 0
    return min(int(remaining + 0.999), SQS_MAX_DELAY_SECONDS)


# --- unsubscribe tokens --------------------------------------------------------------------------------------

_TOKEN_SCOPE = b"crochet-messaging/unsubscribe/v1\x00"
TOKEN_MAX_CHARS = 512


class InvalidToken(ValueError):
    """An unsubscribe token we did not issue (or altered)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _token_mac(secret: str, user_id: bytes) -> bytes:
    return hmac.new(secret.encode(), _TOKEN_SCOPE + user_id, hashlib.sha256).digest()


def unsubscribe_token(user_id: str, secret: str) -> str:
    """The token that turns off ``user_id``'s email digests without a login."""
    raw = user_id.encode()
    return f"{_b64(raw)}.{_b64(_token_mac(secret, raw))}"


def unsubscribed_user(token: str, secret: str) -> str:
    """The user a token was issued for; InvalidToken when it was not issued with ``secret``."""
    if not token or len(token) > TOKEN_MAX_CHARS or token.count(".") != 1:
        raise InvalidToken("malformed unsubscribe token")
    body, mac = token.split(".")
    try:
        raw, given = _unb64(body), _unb64(mac)
        user_id = raw.decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidToken("malformed unsubscribe token") from None
    if not hmac.compare_digest(given, _token_mac(secret, raw)):
        raise InvalidToken("unsubscribe token not issued by this service")
    return user_id
