"""Catch-up after being offline: what changed since a cursor, a bounded page at a time.

Every message is also written to both participants' timelines (``FeedEntry``) in the send
transaction, so a sync is one Query of the caller's timeline plus two BatchGetItems, whatever the
history's length. Delivery is at least once: clients de-duplicate by message id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.auth import Principal
from chalicelib.domain.clock import iso, utc_now
from chalicelib.domain.cursors import InvalidCursor, decode_cursor, encode_cursor
from chalicelib.errors import InvalidRequest
from chalicelib.models import Conversation, FeedEntry, Message
from chalicelib.models.batch import batch_get
from chalicelib.schemas.responses import EnrichedConversationOut, MessageOut
from chalicelib.services.directory import Directory
from chalicelib.services.views import enriched_out, message_out, participant_states
from chalicelib.settings import get_settings


@dataclass
class SyncPage:
    conversations: list[EnrichedConversationOut]
    messages: list[MessageOut]
    next_cursor: str
    has_more: bool


def _scope(user_id: str) -> str:
    return f"sync:{user_id}"


def _moment(position: str) -> datetime:
    return datetime.fromisoformat(position.split("#", 1)[0].replace("Z", "+00:00"))


def _cursor(user_id: str, position: str, *, more: bool) -> str:
    """A cursor after ``position``. Near the present it looks back a few seconds on its next use: a
    message whose transaction committed late (timestamp older than what the client saw) is not skipped."""
    settings = get_settings()
    lookback = timedelta(milliseconds=settings.sync_lookback_ms)
    exact = more or _moment(position) < utc_now() - lookback
    return encode_cursor({"p": position, "x": exact}, scope=_scope(user_id), secret=settings.cursor_secret)


def _read_from(user_id: str, cursor: str) -> tuple[str, str]:
    """(the cursor's position, where to start reading)."""
    settings = get_settings()
    try:
        decoded = decode_cursor(cursor, scope=_scope(user_id), secret=settings.cursor_secret)
        position, exact = str(decoded["p"]), bool(decoded["x"])
        moment = _moment(position)
    except (InvalidCursor, KeyError, ValueError) as exc:
        raise InvalidRequest("invalid sync cursor", code="invalid_cursor") from exc
    return position, position if exact else iso(moment - timedelta(milliseconds=settings.sync_lookback_ms))


def sync(principal: Principal, cursor: str | None, limit: int | None) -> SyncPage:
    """Messages of the caller's conversations after ``cursor``, oldest first, with their conversations."""
    settings = get_settings()
    limit = limit or settings.sync_page_default
    user = principal.user_id
    if cursor is None:
        # No cursor yet: the client loads its state over REST; this marks "now" to sync from.
        return SyncPage([], [], _cursor(user, iso(utc_now()), more=False), False)
    position, start = _read_from(user, cursor)
    query = FeedEntry.query(
        user, FeedEntry.position > start, scan_index_forward=True, limit=limit + 1, consistent_read=True
    )
    entries = list(query)
    has_more = len(entries) > limit
    entries = entries[:limit]
    if not entries:
        return SyncPage([], [], _cursor(user, position, more=False), False)
    conversation_ids = sorted({e.conversation_id for e in entries})
    items = batch_get(
        [(Message, e.conversation_id, int(e.message_seq)) for e in entries]
        + [(Conversation, c, None) for c in conversation_ids]
    )
    conversations = {c: items[(Conversation, c, None)] for c in conversation_ids if items[(Conversation, c, None)]}
    users = {u for c in conversations.values() for u in c.participant_ids}
    patterns = {c.pattern_id for c in conversations.values() if c.pattern_id}
    directory = Directory.from_batch(batch_get(Directory.keys_for(users, patterns)), caller=principal)
    states = {c.id: participant_states(c) for c in conversations.values()}
    messages = [
        message_out(message, states[message.conversation_id][message.recipient_id])
        for e in entries
        if (message := items[(Message, e.conversation_id, int(e.message_seq))]) is not None
        and message.conversation_id in conversations
    ]
    return SyncPage(
        conversations=[enriched_out(c, user, states[c.id][user].unread, directory) for c in conversations.values()],
        messages=messages,
        next_cursor=_cursor(user, entries[-1].position, more=has_more),
        has_more=has_more,
    )
