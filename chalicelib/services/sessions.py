"""Connections, rooms and presence in DynamoDB: who is connected, who watches which conversation.

Rooms are string sets on the conversation item ("<connection> <user>"), a user's connections and the
connections watching their presence are string sets on their profile: join, leave and presence are
single ADD/DELETE updates, and every fan-out reads only the items it already had to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.constants import ALL_NEW, ALL_OLD
from pynamodb.exceptions import DoesNotExist

from chalicelib.adapters.dynamodb import Connection, Contact, Conversation, UserProfile
from chalicelib.adapters.dynamodb.batch import Batch, Key, batch_get
from chalicelib.adapters.dynamodb.transactions import commit
from chalicelib.domain import presence
from chalicelib.domain.clock import iso, now_iso, utc_now
from chalicelib.domain.conversations import ConversationState, parse_room, room_entry
from chalicelib.domain.principal import Principal
from chalicelib.errors import ErrorCode, InvalidRequest, NotFound, Unauthorized
from chalicelib.schemas.events import PresenceWatched, WatchedPresence
from chalicelib.services.conversations import get_conversation_by_id
from chalicelib.settings import get_settings


def room_of(conversation: ConversationState) -> dict[str, str]:
    """connection id → user id of every connection joined to ``conversation`` (as read)."""
    return parse_room(conversation.room)


def rooms_of(connection: Connection) -> dict[str, str]:
    """conversation id → other participant of every room ``connection`` joined."""
    return dict(entry.split(" ", 1) for entry in (connection.rooms or set()) if " " in entry)


@dataclass(frozen=True)
class Session:
    """An open connection as the protocol sees it: whose it is, until when its token holds, what it joined."""

    connection_id: str
    user_id: str
    token_expires_at: str | None
    claim_name: str | None
    claim_picture: str | None
    rooms: dict[str, str]  # conversation id -> other participant
    watching: frozenset[str] = frozenset()  # the users whose presence it watches (watch_presence)

    @property
    def watched(self) -> set[str]:
        """Everyone whose profile lists this connection among its watchers: room partners and watched users."""
        return (set(self.rooms.values()) | set(self.watching)) - {self.user_id}


def _session(connection: Connection) -> Session:
    return Session(
        connection_id=connection.connection_id,
        user_id=connection.user_id,
        token_expires_at=connection.token_expires_at,
        claim_name=connection.claim_name,
        claim_picture=connection.claim_picture,
        rooms=rooms_of(connection),
        watching=frozenset(connection.watching or ()),
    )


@dataclass(frozen=True)
class PresenceChange:
    """A user came online (first connection) or went offline (last one closed)."""

    user_id: str
    online: bool
    last_seen_at: str
    watcher_ids: frozenset[str]


def is_online(profile: UserProfile | None, now: str) -> bool:
    """Whether a user has a connection that can still be open (a lost $disconnect heals within 2 h)."""
    return profile is not None and presence.is_online(profile.connection_ids, profile.presence_expires_at, now)


def _update_profile(user_id: str, actions: list[Any], return_values: str) -> UserProfile | None:
    response = UserProfile._get_connection().update_item(user_id, actions=actions, return_values=return_values)
    attributes = response.get("Attributes")
    return UserProfile.from_raw_data(attributes) if attributes else None


def _live(connection: Connection | None) -> Session:
    if connection is None or (connection.expires_at is not None and connection.expires_at < utc_now()):
        raise NotFound("connection not found")
    return _session(connection)


def get_connection(connection_id: str) -> Session:
    """The stored connection; NotFound when it is unknown (closed, expired, or never ours)."""
    try:
        connection = Connection.get(connection_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("connection not found") from None
    return _live(connection)


def get_connection_with(connection_id: str, keys: list[Key]) -> tuple[Session, Batch]:
    """The stored connection and the items of ``keys``, in one BatchGetItem: an action that reads those first
    anyway (a message change) saves the connection's own round trip."""
    found = batch_get([(Connection, connection_id, None), *keys])
    return _live(found.item(Connection, connection_id)), found


def principal_of(connection: Session) -> Principal:
    """Who speaks on ``connection``; Unauthorized once the token it opened with has expired."""
    if connection.token_expires_at and connection.token_expires_at <= now_iso():
        raise Unauthorized(
            "the token of this connection expired: reconnect with a fresh one", code=ErrorCode.TOKEN_EXPIRED
        )
    return Principal(connection.user_id, name=connection.claim_name, picture=connection.claim_picture)


def open_connection(connection_id: str, principal: Principal) -> PresenceChange | None:
    """Store a new connection of ``principal``; the presence change when it is their first (2 round trips)."""
    settings = get_settings()
    now = utc_now()
    token_expiry = datetime.fromtimestamp(principal.expires_at, UTC) if principal.expires_at else None
    Connection(
        connection_id,
        user_id=principal.user_id,
        connected_at=iso(now),
        token_expires_at=iso(token_expiry) if token_expiry else None,
        claim_name=principal.name,
        claim_picture=principal.picture,
        expires_at=timedelta(seconds=settings.connection_ttl_seconds),
    ).save()
    alive_until = iso(now + timedelta(seconds=settings.connection_ttl_seconds))
    before = _update_profile(
        principal.user_id,
        [UserProfile.connection_ids.add({connection_id}), UserProfile.presence_expires_at.set(alive_until)],
        ALL_OLD,
    )
    if is_online(before, iso(now)):
        return None
    stale = set(before.connection_ids or ()) if before else set()
    if stale:
        # Every earlier connection outlived API Gateway's maximum: they are gone without a $disconnect.
        UserProfile(principal.user_id).update(actions=[UserProfile.connection_ids.delete(stale)])
    watchers = frozenset(before.watcher_ids or ()) if before else frozenset()
    return PresenceChange(principal.user_id, True, iso(now), watchers)


def close_connection(connection_id: str) -> PresenceChange | None:
    """Forget a connection, its rooms and what it watched; the presence change when it was the user's last."""
    try:
        connection = Connection.get(connection_id, consistent_read=True)
    except DoesNotExist:
        return None
    session = _session(connection)

    def build(transaction: Any) -> None:
        transaction.delete(connection)
        for conversation_id in session.rooms:
            entry = room_entry(connection_id, connection.user_id)
            transaction.update(Conversation(conversation_id), actions=[Conversation.room.delete({entry})])
        for watched in session.watched:
            transaction.update(UserProfile(watched), actions=[UserProfile.watcher_ids.delete({connection_id})])

    commit(build)
    now = now_iso()
    after = _update_profile(
        connection.user_id,
        [UserProfile.connection_ids.delete({connection_id}), UserProfile.last_seen_at.set(now)],
        ALL_NEW,
    )
    if after is None or is_online(after, now):
        return None
    return PresenceChange(connection.user_id, False, now, frozenset(after.watcher_ids or ()))


def join_room(connection: Session, conversation_id: str) -> ConversationState:
    """Subscribe ``connection`` to a conversation its user takes part in (NotFound otherwise)."""
    conversation = get_conversation_by_id(conversation_id, connection.user_id)
    rooms = connection.rooms
    if conversation_id in rooms:
        return conversation
    if len(rooms) >= get_settings().max_rooms_per_connection:
        raise InvalidRequest(
            "this connection joined too many conversations; leave one first", code=ErrorCode.TOO_MANY_ROOMS
        )
    other = next((u for u in conversation.participant_ids if u != connection.user_id), connection.user_id)
    entry = room_entry(connection.connection_id, connection.user_id)

    def build(transaction: Any) -> None:
        transaction.update(
            Connection(connection.connection_id),
            actions=[Connection.rooms.add({f"{conversation_id} {other}"})],
            condition=Connection.connection_id.exists(),
        )
        transaction.update(Conversation(conversation_id), actions=[Conversation.room.add({entry})])
        transaction.update(UserProfile(other), actions=[UserProfile.watcher_ids.add({connection.connection_id})])

    commit(build)
    return conversation


def leave_room(connection: Session, conversation_id: str) -> None:
    """Unsubscribe ``connection`` from a conversation it joined (NotFound when it did not)."""
    rooms = dict(connection.rooms)
    if conversation_id not in rooms:
        raise NotFound("not joined to this conversation")
    other = rooms.pop(conversation_id)
    entry = room_entry(connection.connection_id, connection.user_id)

    def build(transaction: Any) -> None:
        transaction.update(
            Connection(connection.connection_id), actions=[Connection.rooms.delete({f"{conversation_id} {other}"})]
        )
        transaction.update(Conversation(conversation_id), actions=[Conversation.room.delete({entry})])
        # Still watching them through another room, or watch_presence, otherwise.
        if other not in rooms.values() and other not in connection.watching:
            transaction.update(UserProfile(other), actions=[UserProfile.watcher_ids.delete({connection.connection_id})])

    commit(build)


def watch_presence(connection: Session, user_ids: list[str]) -> PresenceWatched:
    """Make ``connection`` receive ``presence_update`` for ``user_ids`` (replacing what it watched before), keeping
    only the users its user shares a conversation with; the others are ignored, as if never asked for.

    Cost: one BatchGetItem (the caller's contact item and the profile of each user, <= 2 x 49 keys) and, when the
    list changes, one TransactWriteItems (the connection's list, the watcher sets of the users added and removed:
    <= 1 + 2 x 49 items).
    """
    me = connection.user_id
    asked = [user for user in dict.fromkeys(user_ids) if user != me]
    found = batch_get([(Contact, me, user) for user in asked] + [(UserProfile, user, None) for user in asked])
    accepted = [user for user in asked if found.item(Contact, me, user) is not None]
    watching = frozenset(accepted)
    partners = set(connection.rooms.values())  # watched through their room already (join_conversation)
    added = watching - connection.watching - partners
    removed = connection.watching - watching - partners
    if watching != connection.watching:
        cid = connection.connection_id

        def build(transaction: Any) -> None:
            transaction.update(
                Connection(cid),
                actions=[Connection.watching.set(set(watching)) if watching else Connection.watching.remove()],
                condition=Connection.connection_id.exists(),
            )
            for user in sorted(added):
                transaction.update(UserProfile(user), actions=[UserProfile.watcher_ids.add({cid})])
            for user in sorted(removed):
                transaction.update(UserProfile(user), actions=[UserProfile.watcher_ids.delete({cid})])

        commit(build)
    now = now_iso()
    presence = []
    for user in accepted:
        profile = found.item(UserProfile, user)
        presence.append(
            WatchedPresence(
                user_id=user, online=is_online(profile, now), last_seen_at=profile.last_seen_at if profile else None
            )
        )
    return PresenceWatched(user_ids=accepted, presence=presence)


def prune(
    connection_ids: set[str], *, conversation: ConversationState | None, profiles: list[UserProfile]
) -> list[PresenceChange]:
    """Remove connections that API Gateway says are gone, wherever this fan-out found them.

    Returns the presence changes this caused (a user whose last connection it was is now offline).
    """
    changes = []
    for connection_id in connection_ids:
        change = close_connection(connection_id)
        if change is not None:
            changes.append(change)
        if conversation is not None:
            stale = {e for e in (conversation.room or set()) if e.startswith(f"{connection_id} ")}
            if stale:
                Conversation(conversation.id).update(actions=[Conversation.room.delete(stale)])
        for profile in profiles:
            if connection_id in (profile.connection_ids or set()) | (profile.watcher_ids or set()):
                UserProfile(profile.id).update(
                    actions=[
                        UserProfile.connection_ids.delete({connection_id}),
                        UserProfile.watcher_ids.delete({connection_id}),
                    ]
                )
    return changes
