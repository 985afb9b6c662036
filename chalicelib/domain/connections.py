"""How rooms and presence sets name a connection: its id, its user, and until when its token holds.

Fan-out reads nothing but these entries (a conversation's room, a profile's connection and watcher sets), so each
entry carries the expiry of the token its connection opened with: delivery tells a connection whose token expired
and closes it instead of posting to it, without reading anything more.

Spellings (ids never contain a space):

- a room entry: ``"<connection id> <user id> <token expiry>"``;
- a connection or watcher entry (on a profile): ``"<connection id> <token expiry>"``;

the expiry in whole seconds since the epoch. Entries written before expiries were recorded (``"<connection id>
<user id>"``, ``"<connection id>"``) still parse, with no expiry: they keep working and age out with their
connections (API Gateway closes every connection within 2 hours). Removing a connection removes every spelling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Audience = Mapping[str, int | None]  # connection id -> its token's expiry (epoch seconds; None: not recorded)


@dataclass(frozen=True)
class RoomMember:
    """A connection joined to a conversation."""

    user_id: str
    token_expires_at: int | None


def room_entry(connection_id: str, user_id: str, token_expires_at: int | None) -> str:
    if token_expires_at is None:
        return f"{connection_id} {user_id}"
    return f"{connection_id} {user_id} {token_expires_at}"


def connection_entry(connection_id: str, token_expires_at: int | None) -> str:
    """How a profile's ``connection_ids`` and ``watcher_ids`` name a connection."""
    return connection_id if token_expires_at is None else f"{connection_id} {token_expires_at}"


def room_entries(connection_id: str, user_id: str, token_expires_at: int | None) -> set[str]:
    """Every spelling a room may hold for this connection (to remove it, whenever it was written)."""
    return {room_entry(connection_id, user_id, None), room_entry(connection_id, user_id, token_expires_at)}


def connection_entries(connection_id: str, token_expires_at: int | None) -> set[str]:
    """Every spelling a profile's sets may hold for this connection."""
    return {connection_id, connection_entry(connection_id, token_expires_at)}


def _expiry(raw: str) -> int | None:
    return int(raw) if raw.isdigit() else None


def parse_room(entries: Iterable[str] | None) -> dict[str, RoomMember]:
    """connection id -> member, for every entry of a room."""
    members: dict[str, RoomMember] = {}
    for entry in entries or ():
        parts = entry.split(" ")
        if len(parts) >= 2:
            members[parts[0]] = RoomMember(parts[1], _expiry(parts[2]) if len(parts) > 2 else None)
    return members


def parse_connections(entries: Iterable[str] | None) -> dict[str, int | None]:
    """connection id -> token expiry, for every entry of a profile's connection or watcher set."""
    found: dict[str, int | None] = {}
    for entry in entries or ():
        connection_id, _, expiry = entry.partition(" ")
        if connection_id:
            found[connection_id] = _expiry(expiry)
    return found


def entries_naming(entries: Iterable[str] | None, connection_ids: Iterable[str]) -> set[str]:
    """The entries of a set (room, connections, watchers) that name one of ``connection_ids``, as stored."""
    wanted = set(connection_ids)
    return {entry for entry in entries or () if entry.split(" ", 1)[0] in wanted}


def expired(token_expires_at: int | None, now: float) -> bool:
    """Whether a token with this expiry no longer holds at ``now`` (epoch seconds); unknown expiries hold."""
    return token_expires_at is not None and token_expires_at <= now
