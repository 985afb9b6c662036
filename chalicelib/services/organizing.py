"""What a user decides about their own conversations and contacts: settings (archive, mute, accepting a message
request) and blocks.

A settings change is read (the conversation and the caller's profile, one BatchGetItem), decided by
``domain.folders`` and written in one transaction conditioned on the conversation's version (the conversation's
settings, the caller's membership in its new folder, their unread total and requests count, the ``settings``
limit's counter): 2 round trips. The caller's connections are told ``conversation_updated``.

A block is one item (blocker, blocked) that every meeting of the two users checks: a condition of the send's and the
join's transactions, read with the snapshot of pattern conversations and presence watches. Placing one also declines
the direct message request it answers (out of the requests folder, archived) in the same transaction, then takes
both users' connections out of the rooms of their conversations and out of each other's presence watchers, so that
nothing of the blocker reaches the blocked user's open connections (nor the other way round).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import Block, Connection, Conversation, UserProfile
from chalicelib.adapters.dynamodb.batch import batch_get
from chalicelib.adapters.dynamodb.rate_limits import charge, spend
from chalicelib.adapters.dynamodb.records import (
    contact_items,
    conversation_state,
    membership_item,
    settings_change,
    write_counters,
)
from chalicelib.adapters.dynamodb.transactions import Write, commit, commit_in_chunks, with_retries
from chalicelib.domain.clock import iso
from chalicelib.domain.connections import connection_entries, room_entries
from chalicelib.domain.conversations import ConversationState, counters_of
from chalicelib.domain.cursors import InvalidCursor, decode_cursor, encode_cursor
from chalicelib.domain.folders import ParticipantSettings, SettingsChange, apply_change
from chalicelib.domain.ids import conversation_id_for, is_conversation_id
from chalicelib.domain.principal import Principal
from chalicelib.errors import ErrorCode, InvalidRequest, NotFound
from chalicelib.schemas.events import ConversationUpdated
from chalicelib.schemas.responses import BlockOut, BlocksOut, BlockStateOut, SettingsOut
from chalicelib.services.notify import Notifier
from chalicelib.services.ports import Clock
from chalicelib.services.presenters import settings_out
from chalicelib.services.sessions import connections_of, rooms_of
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Changed:
    conversation: ConversationState
    profile: UserProfile | None
    changed: bool


def _write_settings(
    transaction: TransactWrite, before: ConversationState, after: ConversationState, user_id: str
) -> None:
    """A participant's settings changed: the conversation (versioned), their membership (its folder), their counters,
    and the contacts when a request was accepted (presence flows from now on)."""
    transaction.update(
        Conversation(after.id),
        actions=[settings_change(after), Conversation.version.set(after.version)],
        condition=Conversation.version == before.version,
    )
    transaction.save(membership_item(after, user_id))
    change = counters_of(before, after)[user_id]
    write_counters(transaction, {user_id: change.unread}, {user_id: change.requests})
    if before.is_request_for(user_id) and not after.is_request_for(user_id):
        other = after.other_than(user_id)
        transaction.save(membership_item(after, other))  # no longer awaiting acceptance
        for contact in contact_items(after):
            transaction.save(contact)


def _with_settings(conversation: ConversationState, user_id: str, settings: ParticipantSettings) -> ConversationState:
    return replace(
        conversation, settings={**conversation.settings, user_id: settings}, version=conversation.version + 1
    )


class Organizing:
    """Conversation settings and blocks: the caller's own organisation of who and what reaches them."""

    def __init__(self, notifier: Notifier, clock: Clock) -> None:
        self.notifier = notifier
        self.clock = clock

    # --- settings ---------------------------------------------------------------------------------------

    def update_settings(self, principal: Principal, conversation_id: str, change: SettingsChange) -> SettingsOut:
        """``PUT /api/messages/conversations/{id}/settings``: archive or unarchive, mute until a moment or unmute,
        accept a message request. Participants only (anyone else: the 404 of a missing conversation). What changes
        nothing spends the ``settings`` limit alone (one UpdateItem)."""
        user = principal.user_id
        if not is_conversation_id(conversation_id):
            raise NotFound("conversation not found")

        def attempt() -> _Changed:
            found = batch_get([(Conversation, conversation_id, None), (UserProfile, user, None)])
            stored = found.item(Conversation, conversation_id)
            if stored is None or user not in stored.participant_ids:
                raise NotFound("conversation not found")
            before = conversation_state(stored)
            wanted = apply_change(before.settings_of(user), change)
            if wanted == before.settings_of(user):
                spend(user, "settings")
                return _Changed(before, found.item(UserProfile, user), changed=False)
            after = _with_settings(before, user, wanted)

            def build(transaction: TransactWrite) -> None:
                _write_settings(transaction, before, after, user)
                charge(transaction, user, "settings")

            commit(build)
            return _Changed(after, found.item(UserProfile, user), changed=True)

        result = with_retries(attempt, max_attempts=get_settings().send_max_attempts)
        out = settings_out(result.conversation.settings_of(user), iso(self.clock()))
        if result.changed:
            updated = ConversationUpdated(conversation_id=conversation_id, settings=out)
            try:
                self.notifier.send(connections_of(result.profile), "conversation_updated", updated)
            except Exception:  # delivery never fails a committed change
                logger.exception("delivering conversation_updated failed")
        return SettingsOut(settings=out)

    # --- blocks -----------------------------------------------------------------------------------------

    def block(self, principal: Principal, user_id: str) -> tuple[BlockOut, bool]:
        """``PUT /api/me/blocks/{userId}`` (idempotent: True when the block is new). Declines the direct message
        request from that user, if one is waiting, in the same transaction; then takes both users' connections out
        of the rooms they share and of each other's presence watchers."""
        me = principal.user_id
        if user_id == me:
            raise InvalidRequest("you cannot block yourself", code=ErrorCode.SELF_CONVERSATION)
        direct = conversation_id_for(me, user_id, None)
        now = iso(self.clock())

        def attempt() -> tuple[BlockOut, bool]:
            found = batch_get([(Block, me, user_id), (Conversation, direct, None)])
            existing = found.item(Block, me, user_id)
            if existing is not None:
                spend(me, "block")
                return BlockOut(user_id=user_id, blocked_at=existing.created_at), False
            stored = found.item(Conversation, direct)
            declined: tuple[ConversationState, ConversationState] | None = None
            if stored is not None:
                before = conversation_state(stored)
                if before.is_request_for(me):
                    settings = replace(before.settings_of(me), request=False, archived=True)
                    declined = (before, _with_settings(before, me, settings))

            def build(transaction: TransactWrite) -> None:
                transaction.save(Block(me, user_id, created_at=now), condition=Block.user_id.does_not_exist())
                if declined is not None:
                    _write_settings(transaction, declined[0], declined[1], me)
                charge(transaction, me, "block")

            commit(build)
            return BlockOut(user_id=user_id, blocked_at=now), True

        out, created = with_retries(attempt, max_attempts=get_settings().send_max_attempts)
        if created:
            self._separate(me, user_id)
        return out, created

    def _separate(self, me: str, other: str) -> None:
        """Both users' connections leave the rooms of their conversations with each other and stop watching each
        other's presence (2 BatchGetItems, then one transaction per 100 items: bounded by the connection and room
        caps, whatever the data). A join racing the block fails its condition; one that committed first is read."""
        profiles = batch_get([(UserProfile, me, None), (UserProfile, other, None)])
        owners = {
            cid: (user, expiry)
            for user in (me, other)
            for cid, expiry in connections_of(profiles.item(UserProfile, user)).items()
        }
        found = batch_get([(Connection, cid, None) for cid in sorted(owners)])
        rooms: dict[str, set[str]] = {}  # conversation id -> room entries to remove
        watchers: dict[str, set[str]] = {}  # user id -> watcher entries to remove from their profile
        writes: list[Write] = []
        for cid, (user, expiry) in sorted(owners.items()):
            partner = other if user == me else me
            watchers.setdefault(partner, set()).update(connection_entries(cid, expiry))
            connection = found.item(Connection, cid)
            if connection is None:
                continue
            shared = sorted(conv for conv, who in rooms_of(connection).items() if who == partner)
            for conversation_id in shared:
                rooms.setdefault(conversation_id, set()).update(room_entries(cid, user, expiry))
            watching = partner in set(connection.watching or ())
            if shared or watching:
                writes.append(_leave(cid, {f"{conv} {partner}" for conv in shared}, partner if watching else None))
        writes += [_delete_entries(Conversation(c), Conversation.room, e) for c, e in sorted(rooms.items())]
        writes += [_delete_entries(UserProfile(u), UserProfile.watcher_ids, e) for u, e in sorted(watchers.items())]
        if writes:
            commit_in_chunks(writes)

    def unblock(self, principal: Principal, user_id: str) -> BlockStateOut:
        """``DELETE /api/me/blocks/{userId}`` (idempotent): one transaction (the item's deletion, the ``block``
        limit's counter)."""
        me = principal.user_id

        def build(transaction: TransactWrite) -> None:
            transaction.delete(Block(me, user_id))
            charge(transaction, me, "block")

        commit(build)
        return BlockStateOut(user_id=user_id, blocked=False)

    def blocks(self, principal: Principal, limit: int | None, cursor: str | None) -> BlocksOut:
        """``GET /api/me/blocks``: the users the caller blocked, one page (1 Query), oldest user id first."""
        settings = get_settings()
        limit = limit or settings.conversations_page_default
        scope = f"blocks:{principal.user_id}"
        start = None
        if cursor:
            try:
                start = decode_cursor(cursor, scope=scope, secret=settings.cursor_secret)
            except InvalidCursor as exc:
                raise InvalidRequest(str(exc), code=ErrorCode.INVALID_CURSOR) from exc
        items = list(Block.query(principal.user_id, limit=limit + 1, last_evaluated_key=start, consistent_read=True))
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            last = items[-1]
            position = {"user_id": {"S": last.user_id}, "blocked_id": {"S": last.blocked_id}}
            next_cursor = encode_cursor(position, scope=scope, secret=settings.cursor_secret)
        return BlocksOut(
            blocks=[BlockOut(user_id=item.blocked_id, blocked_at=item.created_at) for item in items],
            next_cursor=next_cursor,
        )


def _delete_entries(item: Any, attribute: Any, entries: set[str]) -> Write:
    def write(transaction: TransactWrite) -> None:
        transaction.update(item, actions=[attribute.delete(entries)])

    return write


def _leave(connection_id: str, rooms: set[str], watched: str | None) -> Write:
    """The connection forgets its rooms with the blocked (or blocking) user and stops watching them."""

    def write(transaction: TransactWrite) -> None:
        actions: list[Any] = []
        if rooms:
            actions.append(Connection.rooms.delete(rooms))
        if watched is not None:
            actions.append(Connection.watching.delete({watched}))
        transaction.update(Connection(connection_id), actions=actions)

    return write
