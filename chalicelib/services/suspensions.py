"""Who is suspended now, as one container knows it: the REST check that costs no round trip per request.

Every user REST call asks ``check``. The container keeps the list of active suspensions (the moderation table's
sparse ``suspensions`` index, ``suspended_until > now``: one Query of the active ones only) and loads it again once
it is older than ``SUSPENSION_REFRESH_SECONDS`` (10 s): one Query per container per 10 s, whatever the traffic,
instead of a read per request. A suspension a moderator decides is noted at once in the deciding container; the
others see it within the refresh interval. ``$connect`` does not wait: its own conditional update of the profile
refuses a suspended user (``sessions``), and the user's live connections are closed when the suspension is decided.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chalicelib.adapters.dynamodb import ModerationItem
from chalicelib.domain.clock import iso, utc_now
from chalicelib.errors import AccountSuspended
from chalicelib.settings import get_settings


class Suspensions:
    """The active suspensions (user id → until), refreshed from the table when stale."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._until: dict[str, str] = {}
        self._loaded_at: float | None = None

    def check(self, user_id: str) -> None:
        """AccountSuspended while ``user_id``'s suspension lasts."""
        until = self.until(user_id)
        if until is not None:
            raise AccountSuspended(until)

    def until(self, user_id: str) -> str | None:
        now = iso(utc_now())
        if self._loaded_at is None or self._monotonic() - self._loaded_at >= get_settings().suspension_refresh_seconds:
            self.load()
        until = self._until.get(user_id)
        return until if until is not None and until > now else None

    def load(self) -> None:
        """Read the active suspensions (one Query; one more per MB of them)."""
        now = iso(utc_now())
        found = {
            item.data["userId"]: str(item.suspended_until)
            for item in ModerationItem.by_suspension.query("yes", ModerationItem.suspended_until > now)
        }
        self._until = found
        self._loaded_at = self._monotonic()

    def note(self, user_id: str, until: str) -> None:
        """A suspension this container just decided: effective here at once."""
        self._until[user_id] = until

    def reset(self, *, loaded: bool = True) -> None:
        """Forget everything (tests, on fresh tables: ``loaded`` says there is nothing to load)."""
        self._until = {}
        self._loaded_at = self._monotonic() if loaded else None


# One per container, like the settings: the use cases and the REST check share it.
ACTIVE = Suspensions()
