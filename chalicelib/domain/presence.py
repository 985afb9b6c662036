"""Whether a user is online, from what their profile records."""

from __future__ import annotations

from collections.abc import Collection


def is_online(connection_ids: Collection[str] | None, presence_expires_at: str | None, now: str) -> bool:
    """Online while a connection is recorded that can still be open.

    ``presence_expires_at`` is the latest connect time plus API Gateway's 2-hour connection limit, so a
    connection whose ``$disconnect`` was lost stops counting by then at the latest.
    """
    return bool(connection_ids) and presence_expires_at is not None and presence_expires_at > now
