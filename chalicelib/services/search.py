"""Message search: the index the messages stream keeps (``index``), and the search itself (``search``).

**Indexing** (a consumer of the messages stream, ``chalicelib/entrypoints/message_stream.py``): each change of a
message becomes index writes for both participants and its conversation
(``chalicelib/adapters/dynamodb/search.py``), the difference between what the message was indexed under before and
after it: a new message adds its buckets, an edit deletes the buckets its old words had and the new ones lack and
adds the new, a deletion (a tombstone, or an item removed) deletes them all. A batch's writes are folded per item
(the last change of an item wins, in stream order), then written with BatchWriteItem. Writing a put or a delete
again changes nothing, so a redelivered batch (at least once) leaves the same index; a record whose writes DynamoDB
kept refusing is reported failed, and retried.

**Searching** costs three round trips whatever the data: the ``search`` limit's UpdateItem, one Query of the
caller's index partition (or of the conversation's, with ``conversationId``: the caller's participation is checked
on the conversation read next, a stranger's answer is discarded for the 404 of a missing one) on the query's most
selective bucket (newest first, at most ``FETCH`` items), one BatchGetItem of the messages found, their
conversations and the blocks between the caller and the other participants the index items name (``pair``): a
conversation either of them blocked in is left out (issue 17). Items indexed before ``pair`` was written cost one
more BatchGetItem of their blocks. The messages read back are checked against the whole query (every word, the last
also as a prefix, on their current text and file name), against deletion and against the caller's participation,
so an index entry left from an older version of a message (an edit processed out of order, a redelivery) can never
show: edited messages are found by their new words only, deleted ones never.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from chalicelib.adapters.dynamodb import Conversation, Message
from chalicelib.adapters.dynamodb.batch import Key, batch_get
from chalicelib.adapters.dynamodb.blocks import block_keys, blocked_between
from chalicelib.adapters.dynamodb.rate_limits import spend
from chalicelib.adapters.dynamodb.records import conversation_state, message_record
from chalicelib.adapters.dynamodb.search import (
    DELETE,
    PUT,
    IndexWrite,
    conversation_scope,
    pair_of,
    partner_in,
    query_index,
    user_scope,
    write_index,
)
from chalicelib.domain.cursors import InvalidCursor, decode_cursor, encode_cursor
from chalicelib.domain.ids import is_conversation_id
from chalicelib.domain.messages import MessageRecord
from chalicelib.domain.principal import Principal
from chalicelib.domain.search import (
    InvalidQuery,
    Query,
    index_buckets,
    index_key,
    message_terms,
    parse_index_key,
    parse_query,
)
from chalicelib.errors import ErrorCode, InvalidRequest, NotFound
from chalicelib.schemas.responses import HighlightOut, SearchOut, SearchResultOut
from chalicelib.services.message_stream import MessageChange
from chalicelib.services.presenters import Presenter, conversation_out
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)

# Index items one search reads: with their conversations and the blocks with their other participants (2 each), at
# most 100 keys: one BatchGetItem.
FETCH = 25


def _attachment_name(message: MessageRecord) -> str | None:
    name = (message.attachment or {}).get("name")
    return name if isinstance(name, str) else None


def index_items(message: MessageRecord | None) -> set[tuple[str, str]]:
    """(scope, index key) of every index item a message in this state has (none once deleted): each bucket for
    both participants and for the conversation."""
    if message is None or message.is_deleted:
        return set()
    scopes = [
        *(user_scope(user) for user in dict.fromkeys((message.sender_id, message.recipient_id))),
        conversation_scope(message.conversation_id),
    ]
    return {
        (scope, index_key(bucket, message.sent_at, message.conversation_id, message.seq))
        for bucket in index_buckets(message.content, _attachment_name(message))
        for scope in scopes
    }


def index_writes(changes: Sequence[MessageChange]) -> tuple[list[IndexWrite], dict[tuple[str, str], set[str]]]:
    """The index writes of a batch of changes, one per item (the last change of each wins), and the records each
    write comes from (to report the records whose writes failed)."""
    last: dict[tuple[str, str], tuple[str, str | None]] = {}
    sources: dict[tuple[str, str], set[str]] = {}
    for change in changes:
        before, after = index_items(change.old), index_items(change.new)
        pair = pair_of(change.new.sender_id, change.new.recipient_id) if change.new is not None else None
        for item in before - after:
            last[item] = (DELETE, None)
            sources.setdefault(item, set()).add(change.sequence_number)
        for item in after - before:
            last[item] = (PUT, pair)
            sources.setdefault(item, set()).add(change.sequence_number)
    writes = [(action, scope, key, pair) for (scope, key), (action, pair) in last.items()]
    return writes, sources


class Search:
    """Search over the caller's conversations, and the index it reads."""

    def __init__(self, presenter: Presenter) -> None:
        self.presenter = presenter

    def index(self, changes: Sequence[MessageChange]) -> list[str]:
        """Bring the index up to date with a batch of changes; the sequence numbers of the records not done."""
        writes, sources = index_writes(changes)
        if not writes:
            return []
        failed = write_index(writes)
        if failed:
            logger.warning("index writes left unprocessed", extra={"items": len(failed)})
        return sorted({sequence for item in failed for sequence in sources[item]})

    def search(
        self,
        principal: Principal,
        text: str | None,
        *,
        conversation_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> SearchOut:
        """One page of the caller's messages that have every word of ``text``, newest first (3 round trips)."""
        settings = get_settings()
        try:
            query = parse_query(text or "")
        except InvalidQuery as exc:
            raise InvalidRequest(str(exc), code=ErrorCode.INVALID_QUERY) from exc
        if conversation_id is not None and not is_conversation_id(conversation_id):
            raise NotFound("conversation not found")
        limit = limit or settings.search_page_default
        user = principal.user_id
        scope = "search\x1f" + "\x1f".join((user, conversation_id or "", *query.words))
        start = None
        if cursor:
            try:
                start = decode_cursor(cursor, scope=scope, secret=settings.cursor_secret)
            except InvalidCursor as exc:
                raise InvalidRequest(str(exc), code=ErrorCode.INVALID_CURSOR) from exc
        spend(user, "search")
        scope_key = conversation_scope(conversation_id) if conversation_id else user_scope(user)
        page, more = query_index(scope_key, query.lookup, limit=FETCH, start=start)
        hits = [key for key, _ in page]
        found = [parse_index_key(key) for key in hits]
        partners = sorted({p for _, pair in page if (p := partner_in(pair, user)) is not None})
        conversations = list(
            dict.fromkeys([*(c for _, _, c, _ in found), *([conversation_id] if conversation_id else [])])
        )
        messages = list(dict.fromkeys((c, seq) for _, _, c, seq in found))
        keys: list[Key] = [(Conversation, c, None) for c in conversations]
        keys += [(Message, c, seq) for c, seq in messages]
        keys += [key for partner in partners for key in block_keys(user, partner)]
        batch = batch_get(keys)
        if conversation_id is not None:
            narrowed = batch.item(Conversation, conversation_id)
            if narrowed is None or user not in narrowed.participant_ids:
                raise NotFound("conversation not found")
        apart = {partner for partner in partners if blocked_between(batch, user, partner)}
        apart |= self._blocked_partners(user, [batch.item(Conversation, c) for c in conversations], set(partners))
        results: list[SearchResultOut] = []
        position = None
        for index, key in enumerate(hits):
            _, _, conversation, seq = found[index]
            item = batch.item(Conversation, conversation)
            partner = _partner(item, user) if item is not None else None
            result = (
                None if partner in apart else self._result(query, user, item, batch.item(Message, conversation, seq))
            )
            if result is not None:
                results.append(result)
            if len(results) == limit and (index + 1 < len(hits) or more):
                position = {"scope": {"S": scope_key}, "key": {"S": key}}
                break
        else:
            position = more
        next_cursor = encode_cursor(position, scope=scope, secret=settings.cursor_secret) if position else None
        return SearchOut(results=results, next_cursor=next_cursor)

    @staticmethod
    def _blocked_partners(user: str, conversations: Sequence[Conversation | None], known: set[str]) -> set[str]:
        """The other participants of ``conversations`` not ``known`` from the index items' pairs (items indexed
        before pairs were) either of whom blocked the other: one more BatchGetItem, only for those."""
        partners = sorted({p for c in conversations if c is not None and (p := _partner(c, user)) is not None} - known)
        if not partners:
            return set()
        found = batch_get([key for partner in partners for key in block_keys(user, partner)])
        return {partner for partner in partners if blocked_between(found, user, partner)}

    def _result(
        self, query: Query, user: str, conversation: Conversation | None, item: Message | None
    ) -> SearchResultOut | None:
        """The result for one index hit, or None when it no longer answers the query (a stale index entry)."""
        if conversation is None or item is None or user not in conversation.participant_ids:
            return None
        message = message_record(item)
        if message.is_deleted or user not in (message.sender_id, message.recipient_id):
            return None
        if not query.matches(message_terms(message.content, _attachment_name(message))):
            return None
        state = conversation_state(conversation)
        return SearchResultOut(
            message=self.presenter.committed_message(message, state.state_of(message.recipient_id)),
            conversation=conversation_out(state),
            highlights=[HighlightOut(start=start, end=end) for start, end in query.highlights(message.content)],
        )


def _partner(conversation: Conversation, user: str) -> str | None:
    """The other participant, when ``user`` takes part."""
    participants = {str(p) for p in conversation.participant_ids or ()}
    if user not in participants:
        return None
    others = sorted(participants - {user})
    return others[0] if others else None
