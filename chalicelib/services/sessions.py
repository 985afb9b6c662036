"""Connections, rooms and presence in DynamoDB: who is connected, who watches which conversation.

Rooms are string sets on the conversation item, a user's connections and the connections watching their presence
are string sets on their profile; every entry names a connection and the expiry of its token
(``domain.connections``). Join, leave and presence are single ADD/DELETE updates, and every fan-out reads only the
items it already had to read.

Limits that hold under concurrency, because they are conditions of the writes themselves: a connection joins at
most ``MAX_ROOMS_PER_CONNECTION`` rooms (``size(rooms) <`` the cap, in the join's transaction), a user holds at most
``MAX_CONNECTIONS_PER_USER`` connections (``size(connection_ids) <`` the cap, in ``$connect``'s profile update).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.constants import ALL_NEW, ALL_OLD
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import Block, Connection, Contact, Conversation, UserProfile, blocks
from chalicelib.adapters.dynamodb.batch import Batch, Key, batch_get
from chalicelib.adapters.dynamodb.blocks import check_not_blocked
from chalicelib.adapters.dynamodb.rate_limits import charge, spend
from chalicelib.adapters.dynamodb.transactions import Contention, Write, commit, commit_in_chunks, with_retries
from chalicelib.domain import presence
from chalicelib.domain.clock import epoch_seconds, iso, now_iso, utc_now
from chalicelib.domain.connections import (
    Audience,
    RoomMember,
    connection_entries,
    connection_entry,
    entries_naming,
    expired,
    parse_connections,
    parse_room,
    room_entries,
    room_entry,
)
from chalicelib.domain.conversations import ConversationState
from chalicelib.domain.delivery import Outcome
from chalicelib.domain.principal import Principal
from chalicelib.errors import (
    AccountSuspended,
    ErrorCode,
    InvalidRequest,
    NotFound,
    TooManyConnections,
    Unauthorized,
)
from chalicelib.schemas.events import ErrorEvent, PresenceWatched, WatchedPresence, frame
from chalicelib.services.conversations import get_conversation_by_id
from chalicelib.services.ports import Connections
from chalicelib.settings import get_settings

TOKEN_EXPIRED_MESSAGE = "the token of this connection expired: reconnect with a fresh one"  # nosec B105 # a message to the client, not a password


def room_of(conversation: ConversationState) -> dict[str, RoomMember]:
    """connection id → member of every connection joined to ``conversation`` (as read)."""
    return parse_room(conversation.room)


def room_audience(conversation: ConversationState, *, except_user: str | None = None) -> dict[str, int | None]:
    """The room's connections with their tokens' expiry (without ``except_user``'s own)."""
    return {cid: m.token_expires_at for cid, m in room_of(conversation).items() if m.user_id != except_user}


def connections_of(profile: UserProfile | None) -> dict[str, int | None]:
    """A user's connections with their tokens' expiry."""
    return parse_connections(profile.connection_ids) if profile is not None else {}


def rooms_of(connection: Connection) -> dict[str, str]:
    """conversation id → other participant of every room ``connection`` joined."""
    return dict(entry.split(" ", 1) for entry in (connection.rooms or set()) if " " in entry)


def _size(attribute: Any) -> Any:
    """DynamoDB's ``size()`` of a set in a condition (PynamoDB leaves the function untyped)."""
    return size(attribute)  # type: ignore[no-untyped-call]


def _token_expiry(token_expires_at: str | None) -> int | None:
    return epoch_seconds(token_expires_at) if token_expires_at else None


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

    @property
    def token_expiry(self) -> int | None:
        """The token's expiry in epoch seconds, as room and presence entries record it."""
        return _token_expiry(self.token_expires_at)


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
    watchers: Mapping[str, int | None]  # connection id -> token expiry of everyone to tell


def is_online(profile: UserProfile | None, now: str) -> bool:
    """Whether a user has a connection that can still be open (a lost $disconnect heals within 2 h)."""
    return profile is not None and presence.is_online(profile.connection_ids, profile.presence_expires_at, now)


def _update_profile(
    user_id: str, actions: list[Any], return_values: str, condition: Condition | None = None
) -> UserProfile | None:
    response = UserProfile._get_connection().update_item(
        user_id, actions=actions, condition=condition, return_values=return_values
    )
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
        raise Unauthorized(TOKEN_EXPIRED_MESSAGE, code=ErrorCode.TOKEN_EXPIRED)
    return Principal(connection.user_id, name=connection.claim_name, picture=connection.claim_picture)


# --- opening and closing ------------------------------------------------------------------------------------


def open_connection(connection_id: str, principal: Principal, connections: Connections) -> PresenceChange | None:
    """Store a new connection of ``principal``; the presence change when it is their first (2 round trips).

    TooManyConnections when the user already holds ``MAX_CONNECTIONS_PER_USER``: before refusing, the recorded
    connections that are dead (token expired, or API Gateway says gone: a lost ``$disconnect``) are forgotten and
    the connection is tried once more (only then: one GetItem and a GetConnection per recorded connection).
    """
    try:
        return _open(connection_id, principal)
    except TooManyConnections:
        if not forget_dead_connections(principal.user_id, connections):
            raise  # counted as RateLimited by the entry point, from the 429 it answers
    return _open(connection_id, principal)


def _open(connection_id: str, principal: Principal) -> PresenceChange | None:
    settings = get_settings()
    now = utc_now()
    alive_until = iso(now + timedelta(seconds=settings.connection_ttl_seconds))
    entry = connection_entry(connection_id, principal.expires_at)
    cap = settings.max_connections_per_user
    # A suspended user (issue 16) is refused by the same conditional update: no extra round trip, no race.
    condition: Any = UserProfile.suspended_until.does_not_exist() | (UserProfile.suspended_until <= iso(now))
    if cap > 0:
        # Full only counts while the recorded connections can be open: after 2 h every one of them is stale.
        condition &= (
            UserProfile.connection_ids.does_not_exist()
            | (_size(UserProfile.connection_ids) < cap)
            | UserProfile.presence_expires_at.does_not_exist()
            | (UserProfile.presence_expires_at <= iso(now))
        )
    try:
        before = _update_profile(
            principal.user_id,
            [UserProfile.connection_ids.add({entry}), UserProfile.presence_expires_at.set(alive_until)],
            ALL_OLD,
            condition,
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        raise TooManyConnections(f"at most {cap} connections per user: close one first") from exc
    token_expiry = datetime.fromtimestamp(principal.expires_at, UTC) if principal.expires_at else None
    try:
        Connection(
            connection_id,
            user_id=principal.user_id,
            connected_at=iso(now),
            token_expires_at=iso(token_expiry) if token_expiry else None,
            claim_name=principal.name,
            claim_picture=principal.picture,
            expires_at=timedelta(seconds=settings.connection_ttl_seconds),
        ).save()
    except Exception:
        # The upgrade is refused: the slot just taken must not stay taken (no $disconnect will come).
        UserProfile(principal.user_id).update(actions=[UserProfile.connection_ids.delete({entry})])
        raise
    if is_online(before, iso(now)):
        return None
    stale = set(before.connection_ids or ()) if before else set()
    if stale:
        # Every earlier connection outlived API Gateway's maximum: they are gone without a $disconnect.
        UserProfile(principal.user_id).update(actions=[UserProfile.connection_ids.delete(stale)])
    watchers = parse_connections(before.watcher_ids) if before else {}
    return PresenceChange(principal.user_id, True, iso(now), watchers)


def forget_dead_connections(user_id: str, connections: Connections) -> bool:
    """Forget the user's recorded connections that cannot be in use; whether there were any.

    A connection whose token expired is told and closed; the others are asked about (GetConnection): the ones
    API Gateway says are gone lost their ``$disconnect``.
    """
    profile = batch_get([(UserProfile, user_id, None)]).item(UserProfile, user_id)
    if profile is None:
        return False
    if profile.suspended_until and profile.suspended_until > iso(utc_now()):
        raise AccountSuspended(profile.suspended_until)  # what refused the connection: not the cap
    recorded = connections_of(profile)
    now = utc_now().timestamp()
    expiring = {cid for cid, expiry in recorded.items() if expired(expiry, now)}
    end_expired(connections, expiring)
    dead = {cid: recorded[cid] for cid in recorded if cid in expiring or connections.probe(cid) is Outcome.GONE}
    if dead:
        # Their own presence: the user is connecting now.
        prune(dead, conversation=None, profiles=[profile], closed=frozenset(expiring))
    return bool(dead)


def end_expired(connections: Connections, connection_ids: set[str]) -> dict[str, Outcome]:
    """Tell each connection that its token expired (the protocol's ``error`` ``token_expired``), then close it.

    Returns how each notice was posted; the connections themselves are gone for the caller either way.
    """
    if not connection_ids:
        return {}
    notice = frame("error", ErrorEvent(code=ErrorCode.TOKEN_EXPIRED, message=TOKEN_EXPIRED_MESSAGE, action=None))
    posted = {}
    for connection_id in sorted(connection_ids):
        posted[connection_id] = connections.post(connection_id, notice)
        connections.close(connection_id)
    return posted


def close_connection(connection_id: str) -> PresenceChange | None:
    """Forget a connection, its rooms and what it watched; the presence change when it was the user's last.

    However many rooms it joined, each transaction holds at most DynamoDB's 100 items: the rooms and watched
    profiles first, the connection item last, so a failure part-way leaves it findable and a retry finishes it.
    """
    try:
        connection = Connection.get(connection_id, consistent_read=True)
    except DoesNotExist:
        return None
    return _close(connection)


def _close(connection: Connection) -> PresenceChange | None:
    connection_id = connection.connection_id
    session = _session(connection)
    expiry = session.token_expiry
    writes: list[Write] = []
    for conversation_id in sorted(session.rooms):
        entries = room_entries(connection_id, connection.user_id, expiry)
        writes.append(_delete_from(Conversation(conversation_id), Conversation.room, entries))
    for watched in sorted(session.watched):  # room partners and the users it watches (watch_presence)
        entries = connection_entries(connection_id, expiry)
        writes.append(_delete_from(UserProfile(watched), UserProfile.watcher_ids, entries))
    writes.append(lambda transaction: transaction.delete(connection))
    commit_in_chunks(writes)
    now = now_iso()
    after = _update_profile(
        connection.user_id,
        [
            UserProfile.connection_ids.delete(connection_entries(connection_id, expiry)),
            UserProfile.last_seen_at.set(now),
        ],
        ALL_NEW,
    )
    if after is None or is_online(after, now):
        return None
    return PresenceChange(connection.user_id, False, now, parse_connections(after.watcher_ids))


def _delete_from(item: Any, attribute: Any, entries: set[str]) -> Write:
    def write(transaction: TransactWrite) -> None:
        transaction.update(item, actions=[attribute.delete(entries)])

    return write


# --- rooms --------------------------------------------------------------------------------------------------


def join_room(connection: Session, conversation_id: str) -> ConversationState:
    """Subscribe ``connection`` to a conversation its user takes part in (NotFound otherwise; 403
    ``recipient_unavailable`` while either participant has blocked the other, a condition of the join's transaction).
    A requester's connection does not watch the presence of the creator who has not accepted the request.

    The room cap is a condition of the join's own transaction, so concurrent joins (one Lambda per frame) cannot
    pass it together; a join that lost a race reads the connection again and decides anew.
    """
    settings = get_settings()
    conversation = get_conversation_by_id(conversation_id, connection.user_id)
    other = next((u for u in conversation.participant_ids if u != connection.user_id), connection.user_id)
    joined = f"{conversation_id} {other}"
    cap = settings.max_rooms_per_connection
    room = room_entry(connection.connection_id, connection.user_id, connection.token_expiry)
    watcher = connection_entry(connection.connection_id, connection.token_expiry)
    current = connection

    def build(transaction: TransactWrite) -> None:
        transaction.update(
            Connection(connection.connection_id),
            actions=[Connection.rooms.add({joined})],
            condition=Connection.connection_id.exists()
            & (Connection.rooms.does_not_exist() | (_size(Connection.rooms) < cap)),
        )
        check_not_blocked(transaction, connection.user_id, other)  # first: the checks ``blocks.refusal`` reads
        transaction.update(Conversation(conversation_id), actions=[Conversation.room.add({room})])
        if not conversation.hides_from(connection.user_id):  # a requester does not watch the creator's presence
            transaction.update(UserProfile(other), actions=[UserProfile.watcher_ids.add({watcher})])
        charge(transaction, connection.user_id, "room")

    def attempt() -> None:
        nonlocal current
        if conversation_id in current.rooms:
            spend(connection.user_id, "room")  # joining again changes nothing, and counts like a join
            return
        if len(current.rooms) >= cap:
            raise InvalidRequest(
                "this connection joined too many conversations; leave one first", code=ErrorCode.TOO_MANY_ROOMS
            )
        try:
            commit(build, refused=blocks.refusal)  # either has blocked the other: 403 recipient_unavailable
        except Contention:
            current = get_connection(connection.connection_id)  # NotFound once it closed
            raise

    with_retries(attempt, max_attempts=settings.send_max_attempts)
    return conversation


def leave_room(connection: Session, conversation_id: str) -> None:
    """Unsubscribe ``connection`` from a conversation it joined (NotFound when it did not)."""
    expiry = connection.token_expiry
    current = connection

    def attempt() -> None:
        nonlocal current
        rooms = dict(current.rooms)
        if conversation_id not in rooms:
            raise NotFound("not joined to this conversation")
        other = rooms.pop(conversation_id)
        watching = current.watching

        def build(transaction: TransactWrite) -> None:
            transaction.update(
                Connection(connection.connection_id),
                actions=[Connection.rooms.delete({f"{conversation_id} {other}"})],
                # Whether it still watches them (below) depends on its watch list as read.
                condition=Connection.connection_id.exists() & _holds_exactly(Connection.watching, watching),
            )
            entries = room_entries(connection.connection_id, connection.user_id, expiry)
            transaction.update(Conversation(conversation_id), actions=[Conversation.room.delete(entries)])
            # Still watching them through another room, or watch_presence, otherwise.
            if other not in rooms.values() and other not in watching:
                watchers = connection_entries(connection.connection_id, expiry)
                transaction.update(UserProfile(other), actions=[UserProfile.watcher_ids.delete(watchers)])
            charge(transaction, connection.user_id, "room")

        try:
            commit(build)
        except Contention:
            current = get_connection(connection.connection_id)  # NotFound once it closed
            raise

    with_retries(attempt, max_attempts=get_settings().send_max_attempts)


def watch_presence(connection: Session, user_ids: list[str]) -> PresenceWatched:
    """Make ``connection`` receive ``presence_update`` for ``user_ids`` (replacing what it watched before), keeping
    only the users its user shares a conversation with; the others are ignored, as if never asked for.

    Cost: one BatchGetItem (the caller's contact item, the profile of each user and the blocks between them either
    way, <= 4 x 49 keys: two BatchGetItems past 25 users) and, when the
    list changes, one TransactWriteItems (the connection's list, the watcher sets of the users added and removed,
    the ``presence`` rate counter: <= 1 + 2 x 49 + 1 items); when it does not, the counter alone (one UpdateItem).
    Frames of one socket run concurrently: the transaction holds only while the connection's watch list and rooms
    are still as read, and a lost race reads the connection again and decides anew.
    """
    me = connection.user_id
    asked = [user for user in dict.fromkeys(user_ids) if user != me]
    found = batch_get(
        [(Contact, me, user) for user in asked]
        + [(UserProfile, user, None) for user in asked]
        + [key for user in asked for key in ((Block, me, user), (Block, user, me))]
    )
    accepted = [user for user in asked if _may_watch(found, me, user)]
    watching = frozenset(accepted)
    cid, expiry = connection.connection_id, connection.token_expiry
    watcher = connection_entry(cid, expiry)
    current = connection

    def attempt() -> None:
        nonlocal current
        if watching == current.watching:
            spend(me, "presence")  # the same list again changes nothing, and counts like a change
            return
        partners = set(current.rooms.values())  # watched through their room already (join_conversation)
        added = watching - current.watching - partners
        removed = current.watching - watching - partners
        read = current

        def build(transaction: TransactWrite) -> None:
            transaction.update(
                Connection(cid),
                actions=[Connection.watching.set(set(watching)) if watching else Connection.watching.remove()],
                condition=Connection.connection_id.exists()
                & _holds_exactly(Connection.watching, read.watching)
                & _holds_exactly(Connection.rooms, {f"{c} {u}" for c, u in read.rooms.items()}),
            )
            for user in sorted(added):
                transaction.update(UserProfile(user), actions=[UserProfile.watcher_ids.add({watcher})])
            for user in sorted(removed):
                entries = connection_entries(cid, expiry)
                transaction.update(UserProfile(user), actions=[UserProfile.watcher_ids.delete(entries)])
            charge(transaction, me, "presence")

        try:
            commit(build)
        except Contention:
            current = get_connection(cid)  # NotFound once it closed
            raise

    with_retries(attempt, max_attempts=get_settings().send_max_attempts)
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


def _may_watch(found: Batch, me: str, user: str) -> bool:
    """Whether ``me`` may see ``user``'s presence: they share a conversation, ``user`` is not a creator who has not
    accepted ``me``'s message request yet, and neither has blocked the other."""
    contact = found.item(Contact, me, user)
    if contact is None or contact.request:
        return False
    return found.item(Block, me, user) is None and found.item(Block, user, me) is None


def _holds_exactly(attribute: Any, values: Iterable[str]) -> Condition:
    """A condition that a string set holds exactly ``values`` (absent when empty, as these sets are stored)."""
    wanted = sorted(set(values))
    if not wanted:
        return attribute.does_not_exist()  # type: ignore[no-any-return]
    condition: Condition = _size(attribute) == len(wanted)
    for value in wanted:
        condition &= attribute.contains(value)
    return condition


# --- forgetting what API Gateway says is gone ---------------------------------------------------------------


def prune(
    gone: Audience,
    *,
    conversation: ConversationState | None,
    profiles: list[UserProfile],
    watched: str | None = None,
    closed: frozenset[str] = frozenset(),
) -> list[PresenceChange]:
    """Remove connections that API Gateway says are gone (or whose token expired, ``closed`` by this fan-out),
    wherever this fan-out found them: their own items, the conversation's room, the profiles read, the watcher set
    of ``watched``. A connection younger than ``CONNECT_GRACE_SECONDS`` that API Gateway calls gone is kept.

    Returns the presence changes this caused (a user whose last connection it was is now offline).
    """
    changes = []
    settled_before = iso(utc_now() - timedelta(seconds=get_settings().connect_grace_seconds))
    connecting = set()
    for connection_id in sorted(gone):
        try:
            connection = Connection.get(connection_id, consistent_read=True)
        except DoesNotExist:
            continue  # closed already ($disconnect): its entries below are what is left of it
        if connection_id not in closed and connection.connected_at > settled_before:
            # API Gateway answers 410 to a post before $connect has returned: a socket still connecting is not
            # gone, and forgetting it would leave a live client without its rooms.
            connecting.add(connection_id)
            continue
        change = _close(connection)
        if change is not None:
            changes.append(change)
    gone = {cid: expiry for cid, expiry in gone.items() if cid not in connecting}
    if not gone:
        return changes
    if conversation is not None:
        stale = entries_naming(conversation.room, gone)
        if stale:
            Conversation(conversation.id).update(actions=[Conversation.room.delete(stale)])
    for profile in profiles:
        stale_connections = entries_naming(profile.connection_ids, gone)
        stale_watchers = entries_naming(profile.watcher_ids, gone)
        if stale_connections or stale_watchers:
            actions: list[Action] = []
            if stale_connections:
                actions.append(UserProfile.connection_ids.delete(stale_connections))
            if stale_watchers:
                actions.append(UserProfile.watcher_ids.delete(stale_watchers))
            UserProfile(profile.id).update(actions=actions)
    if watched is not None and watched not in {profile.id for profile in profiles}:
        # Watchers are read from the watched user's profile: a watcher whose item already expired (its
        # $disconnect lost or failed) is known nowhere else.
        entries = set().union(*(connection_entries(cid, expiry) for cid, expiry in gone.items()))
        UserProfile(watched).update(actions=[UserProfile.watcher_ids.delete(entries)])
    return changes


def heartbeat(connection: Session) -> None:
    """A client's ``ping`` (it keeps the socket inside API Gateway's idle timeout): counted against the user's
    ``ping`` limit, one UpdateItem; RateLimited over it."""
    spend(connection.user_id, "ping")
