"""Catch-up after being offline: what changed since a cursor, a bounded page at a time.

Every message is also written to both participants' timelines (``FeedEntry``) in the send
transaction, and again with every change (edit, deletion, reaction), so a sync is one Query of the caller's
timeline plus two BatchGetItems, whatever the history's length, and returns changed messages in their current
state. Delivery is at least once: clients de-duplicate by message id and keep the highest ``version``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.adapters.dynamodb import Conversation, Message, TimelineEntry
from chalicelib.adapters.dynamodb.batch import Key, batch_get, batches
from chalicelib.adapters.dynamodb.rate_limits import spend
from chalicelib.adapters.dynamodb.records import conversation_state, message_record
from chalicelib.domain.clock import iso, utc_now
from chalicelib.domain.conversations import ConversationState
from chalicelib.domain.cursors import InvalidCursor, decode_cursor, encode_cursor
from chalicelib.domain.messages import MessageRecord
from chalicelib.domain.principal import Principal
from chalicelib.errors import ErrorCode, InvalidRequest
from chalicelib.schemas.responses import MessageOut, SyncOut
from chalicelib.services.directory import Directory
from chalicelib.services.presenters import Presenter, enriched_out, fitting
from chalicelib.settings import get_settings


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
        raise InvalidRequest("invalid sync cursor", code=ErrorCode.INVALID_CURSOR) from exc
    return position, position if exact else iso(moment - timedelta(milliseconds=settings.sync_lookback_ms))


def _second_read(page: list[MessageRecord], conversations: dict[str, ConversationState]) -> tuple[list[Key], list[Key]]:
    """What presenting ``page`` reads: the profiles and patterns of its conversations, and the messages its replies
    quote that are not on the page."""
    shown = [conversations[c] for c in sorted({m.conversation_id for m in page})]
    users = {u for c in shown for u in c.participant_ids}
    patterns = {c.pattern_id for c in shown if c.pattern_id}
    on_page = {(m.conversation_id, m.seq) for m in page}
    quoted = {(m.conversation_id, m.reply_to.seq) for m in page if m.reply_to and not m.is_deleted} - on_page
    return Directory.keys_for(users, patterns), [(Message, c, seq) for c, seq in sorted(quoted)]


def _quotes_cost_a_round_trip(page: list[MessageRecord], conversations: dict[str, ConversationState]) -> bool:
    directory, quoted = _second_read(page, conversations)
    return batches(len(directory) + len(quoted)) > batches(len(directory))


class Sync:
    """Catch-up: the caller's timeline after a cursor."""

    def __init__(self, presenter: Presenter) -> None:
        self.presenter = presenter

    def changes(self, principal: Principal, cursor: str | None, limit: int | None) -> SyncOut:
        """Messages of the caller's conversations after ``cursor``, oldest first, with their conversations.

        Counted against the caller's ``sync`` limit (one UpdateItem) once the cursor is known to be theirs."""
        settings = get_settings()
        limit = limit or settings.sync_page_default
        user = principal.user_id
        if cursor is None:
            # No cursor yet: the client loads its state over REST; this marks "now" to sync from.
            return SyncOut(
                conversations=[], messages=[], next_cursor=_cursor(user, iso(utc_now()), more=False), has_more=False
            )
        position, start = _read_from(user, cursor)
        spend(user, "sync")
        query = TimelineEntry.query(
            user, TimelineEntry.position > start, scan_index_forward=True, limit=limit + 1, consistent_read=True
        )
        entries = list(query)
        has_more = len(entries) > limit
        entries = entries[:limit]
        if not entries:
            return SyncOut(
                conversations=[], messages=[], next_cursor=_cursor(user, position, more=False), has_more=False
            )
        conversation_ids = sorted({e.conversation_id for e in entries})
        items = batch_get(
            [(Message, e.conversation_id, int(e.message_seq)) for e in entries]
            + [(Conversation, c, None) for c in conversation_ids]
        )
        conversations = {
            c: conversation_state(stored) for c in conversation_ids if (stored := items.item(Conversation, c))
        }
        # Each message once, in its current state, at its first entry (an edit or a reaction adds an entry).
        page: list[tuple[int, MessageRecord]] = []  # (index of its entry, the message)
        seen: set[tuple[str, int]] = set()
        for index, entry in enumerate(entries):
            key = (entry.conversation_id, int(entry.message_seq))
            item = items.item(Message, *key)
            if item is None or entry.conversation_id not in conversations or key in seen:
                continue
            seen.add(key)
            page.append((index, message_record(item)))
        kept = len(page)
        while kept > 1 and _quotes_cost_a_round_trip([m for _, m in page[:kept]], conversations):
            kept -= 1  # the originals replies quote are read with the profiles: the page ends before they cost more
        if kept < len(page):
            entries, page, has_more = entries[: page[kept - 1][0] + 1], page[:kept], True
        records = [m for _, m in page]
        directory_keys, quoted_keys = _second_read(records, conversations)
        second = batch_get(directory_keys + quoted_keys)
        directory = Directory.from_batch(second, caller=principal)
        originals = {(m.conversation_id, m.seq): m for m in records}
        for model, conversation_id, seq in second:
            if model is Message and (item := second.item(Message, conversation_id, seq)) is not None:
                originals[(conversation_id, seq)] = message_record(item)
        shown: list[tuple[int, MessageOut]] = []  # (index of its entry, the message as shown)
        for index, record in page:
            state = conversations[record.conversation_id].receipts_shown_to(user, record.recipient_id)
            original = originals.get((record.conversation_id, record.reply_to.seq)) if record.reply_to else None
            shown.append((index, self.presenter.message(record, state, original=original)))
        kept = fitting([message for _, message in shown], settings.page_max_bytes)
        if kept < len(shown):
            # Too big for one response: end the page after the last message that fits; the next sync goes on.
            entries, shown, has_more = entries[: shown[kept - 1][0] + 1], shown[:kept], True
        # In the order of their first entry on the page: the same answer every time.
        shown_ids = dict.fromkeys(e.conversation_id for e in entries)
        conversations = {c: conversations[c] for c in shown_ids if c in conversations}
        messages = [message for _, message in shown]
        return SyncOut(
            conversations=[enriched_out(c, user, c.state_of(user).unread, directory) for c in conversations.values()],
            messages=messages,
            next_cursor=_cursor(user, entries[-1].position, more=has_more),
            has_more=has_more,
        )
