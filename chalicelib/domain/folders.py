"""Each participant's own view of a conversation: archived, muted, a message request; the folder it lands in and
the counters (total unread, requests) it moves. Pure: the plans of a send, a read and a settings change ask here.

A conversation is in exactly one of a user's folders:

- ``requests`` while it is a *message request* waiting for that user (a stranger wrote to a creator): until the
  creator replies or accepts it;
- ``archived`` when the user archived it (a new message from the *other* participant brings it back);
- ``inbox`` otherwise.

``totalUnread`` counts the unread messages of inbox conversations only; ``requestsCount`` counts the conversations
in the requests folder. Muted conversations stay where they are and still count unread: muting only silences
notifications (the socket's, and the offline ones of issue 18).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

INBOX, ARCHIVED, REQUESTS = "inbox", "archived", "requests"
FOLDERS = (INBOX, ARCHIVED, REQUESTS)


@dataclass(frozen=True)
class ParticipantSettings:
    """One participant's settings of one conversation (all defaults: an ordinary inbox conversation)."""

    archived: bool = False
    muted_until: str | None = None  # ISO-8601 UTC; muted while it lies in the future
    request: bool = False  # a message request waiting for this participant's acceptance

    @property
    def folder(self) -> str:
        if self.request:
            return REQUESTS
        return ARCHIVED if self.archived else INBOX

    def is_muted(self, now: str) -> bool:
        return self.muted_until is not None and self.muted_until > now

    @property
    def is_default(self) -> bool:
        return self == ParticipantSettings()

    def to_item(self) -> dict[str, Any]:
        return {"archived": self.archived, "mutedUntil": self.muted_until, "request": self.request}

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None) -> ParticipantSettings:
        if not item:
            return cls()
        return cls(
            archived=bool(item.get("archived")),
            muted_until=item.get("mutedUntil"),
            request=bool(item.get("request")),
        )


@dataclass(frozen=True)
class SettingsChange:
    """What a participant asked to change (None: leave as it is); ``muted_until`` may be set to None (unmute)."""

    archived: bool | None = None
    mute: bool = False  # whether ``muted_until`` was given at all
    muted_until: str | None = None
    accepted: bool = False


def apply_change(current: ParticipantSettings, change: SettingsChange) -> ParticipantSettings:
    after = current
    if change.archived is not None:
        after = replace(after, archived=change.archived)
    if change.mute:
        after = replace(after, muted_until=change.muted_until)
    if change.accepted:
        after = replace(after, request=False)
    return after


def inbox_unread(settings: ParticipantSettings, unread: int) -> int:
    """What one conversation adds to its participant's ``totalUnread``."""
    return unread if settings.folder == INBOX else 0


def is_request(settings: ParticipantSettings) -> int:
    """What one conversation adds to its participant's ``requestsCount``."""
    return 1 if settings.folder == REQUESTS else 0


@dataclass(frozen=True)
class Counters:
    """How a change moves one user's counters."""

    unread: int = 0
    requests: int = 0

    @property
    def is_zero(self) -> bool:
        return self.unread == 0 and self.requests == 0


def counter_change(before: tuple[ParticipantSettings, int] | None, after: tuple[ParticipantSettings, int]) -> Counters:
    """The change of a user's counters when one conversation goes from ``before`` (settings, unread; None: it did
    not exist) to ``after``."""
    old_unread, old_requests = (inbox_unread(*before), is_request(before[0])) if before else (0, 0)
    return Counters(inbox_unread(*after) - old_unread, is_request(after[0]) - old_requests)
