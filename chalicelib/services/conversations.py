"""Reading conversations (inbox, detail with history) and opening pattern conversations."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters.dynamodb import Conversation, Membership, Message, Pattern, Purchase, UserProfile, blocks
from chalicelib.adapters.dynamodb.batch import batch_get
from chalicelib.adapters.dynamodb.rate_limits import spend
from chalicelib.adapters.dynamodb.records import (
    conversation_state,
    membership_view,
    message_record,
    write_new_conversation,
)
from chalicelib.adapters.dynamodb.transactions import Contention, commit
from chalicelib.domain.clock import iso
from chalicelib.domain.conversations import ConversationState, new_conversation
from chalicelib.domain.cursors import InvalidCursor, decode_cursor, encode_cursor
from chalicelib.domain.folders import INBOX
from chalicelib.domain.ids import conversation_id_for, is_conversation_id, parse_message_id
from chalicelib.domain.messages import MessageRecord
from chalicelib.domain.principal import Principal
from chalicelib.domain.sending import ProfileClaims
from chalicelib.errors import ErrorCode, Forbidden, InvalidRequest, NotFound
from chalicelib.schemas.responses import (
    ConversationDetailOut,
    ConversationListOut,
    ConversationsOut,
    EnrichedConversationOut,
    ParticipantOut,
)
from chalicelib.services.directory import Directory
from chalicelib.services.ports import Clock
from chalicelib.services.presenters import (
    Presenter,
    enriched_out,
    fitting,
    fitting_keys,
    original_in,
    originals_outside,
)
from chalicelib.settings import get_settings


def get_conversation_by_id(conversation_id: str, viewer_id: str) -> ConversationState:
    """The conversation, if ``viewer_id`` takes part in it; NotFound otherwise (missing or not theirs)."""
    if not is_conversation_id(conversation_id):
        raise NotFound("conversation not found")
    try:
        item = Conversation.get(conversation_id, consistent_read=True)
    except Conversation.DoesNotExist:
        raise NotFound("conversation not found") from None
    if viewer_id not in item.participant_ids:
        raise NotFound("conversation not found")
    return conversation_state(item)


def claims_of(principal: Principal) -> ProfileClaims | None:
    """The token's profile claims worth keeping for others to see."""
    if not principal.name and not principal.picture:
        return None
    return ProfileClaims(principal.user_id, principal.name, principal.picture)


def get_unread_message_count(user_id: str) -> int:
    """Messages addressed to ``user_id`` that they have not read, across all conversations (1 GetItem)."""
    try:
        return max(int(UserProfile.get(user_id, consistent_read=True).total_unread or 0), 0)
    except UserProfile.DoesNotExist:
        return 0


def get_messages_by_conversation(
    conversation_id: str, *, limit: int, before: int | None = None, after: int | None = None
) -> tuple[list[MessageRecord], bool]:
    """One page of history in chronological order, and whether more lies beyond it (1 Query)."""
    if after is not None:
        query = Message.query(conversation_id, Message.seq > after, scan_index_forward=True, limit=limit + 1)
    elif before is not None:
        query = Message.query(conversation_id, Message.seq < before, scan_index_forward=False, limit=limit + 1)
    else:
        query = Message.query(conversation_id, scan_index_forward=False, limit=limit + 1)
    page = [message_record(item) for item in query]
    more = len(page) > limit
    page = page[:limit]
    if after is None:
        page.reverse()
    return page, more


def _history_position(cursor_message_id: str | None, conversation_id: str) -> int | None:
    if cursor_message_id is None:
        return None
    parsed = parse_message_id(cursor_message_id)
    if parsed is None or parsed[0] != conversation_id:
        raise InvalidRequest("before/after must be a message id of this conversation", code=ErrorCode.INVALID_CURSOR)
    return parsed[1]


@dataclass
class PatternConversation:
    """A pattern conversation got or created, with who to tell about a new one."""

    conversation: EnrichedConversationOut
    created: bool
    creator: UserProfile | None  # as read (their connections: whom to tell about a new conversation)
    caller: ParticipantOut


class Conversations:
    """The caller's conversations: lists, one with its history, get-or-create with a pattern's creator."""

    def __init__(self, presenter: Presenter, clock: Clock) -> None:
        self.presenter = presenter
        self.clock = clock

    def list(
        self, principal: Principal, limit: int | None, cursor: str | None, folder: str = INBOX
    ) -> ConversationsOut:
        """One of the caller's folders (``inbox``, ``archived``, ``requests``), most recent activity first, one page,
        with their total unread (inbox conversations only) and requests count (2 DynamoDB round trips: each folder
        is a sparse index, never a filter)."""
        settings = get_settings()
        limit = limit or settings.conversations_page_default
        # The inbox keeps the scope its cursors always had; another folder's cursor is not the inbox's.
        scope = (
            f"conversations:{principal.user_id}" if folder == INBOX else f"conversations:{principal.user_id}:{folder}"
        )
        start = None
        if cursor:
            try:
                start = decode_cursor(cursor, scope=scope, secret=settings.cursor_secret)
            except InvalidCursor as exc:
                raise InvalidRequest(str(exc), code=ErrorCode.INVALID_CURSOR) from exc
        if folder == INBOX:
            results = Membership.by_activity.query(
                principal.user_id, scan_index_forward=False, limit=limit + 1, last_evaluated_key=start
            )
        else:
            results = Membership.by_folder.query(
                principal.user_id,
                Membership.folder_at.startswith(f"{folder}#"),
                scan_index_forward=False,
                limit=limit + 1,
                last_evaluated_key=start,
            )
        memberships = list(results)
        next_cursor = None
        if len(memberships) > limit:
            memberships = memberships[:limit]
            last = memberships[-1]
            sort_key = "activity_at" if folder == INBOX else "folder_at"
            position = {
                "user_id": {"S": last.user_id},
                "conversation_id": {"S": last.conversation_id},
                sort_key: {"S": (last.activity_at if folder == INBOX else last.folder_at) or ""},
            }
            next_cursor = encode_cursor(position, scope=scope, secret=settings.cursor_secret)
        users = {principal.user_id} | {m.other_user_id for m in memberships}
        patterns = {m.pattern_id for m in memberships if m.pattern_id}
        directory = Directory.load(users, patterns, caller=principal)
        return ConversationsOut(
            conversations=[
                enriched_out(membership_view(m), principal.user_id, int(m.unread_count or 0), directory)
                for m in memberships
            ],
            next_cursor=next_cursor,
            total_unread=directory.total_unread(principal.user_id),
            requests_count=directory.requests_count(principal.user_id),
        )

    def inbox(
        self, principal: Principal, limit: int | None, cursor: str | None, folder: str = INBOX
    ) -> ConversationListOut:
        """``GET /api/messages``: the same page without the totals (the seed's shape)."""
        page = self.list(principal, limit, cursor, folder)
        return ConversationListOut(conversations=page.conversations, next_cursor=page.next_cursor)

    def detail(
        self,
        principal: Principal,
        conversation_id: str,
        *,
        limit: int | None = None,
        before: str | None = None,
        after: str | None = None,
    ) -> ConversationDetailOut:
        """A conversation the caller is in, enriched, with a page of its messages (4 round trips: the ``history``
        limit's UpdateItem among them)."""
        limit = limit or get_settings().messages_page_default
        conversation = get_conversation_by_id(conversation_id, principal.user_id)
        spend(principal.user_id, "history")
        before_seq = _history_position(before, conversation_id)
        after_seq = _history_position(after, conversation_id)
        messages, more = get_messages_by_conversation(conversation_id, limit=limit, before=before_seq, after=after_seq)
        # A page grows away from where it starts: from `after` forwards, else from the newest (or `before`) back.
        forwards = after_seq is not None
        patterns = {conversation.pattern_id} if conversation.pattern_id else set()
        directory_keys = Directory.keys_for(set(conversation.participant_ids), patterns)
        # The originals that replies quote, where they are not on the page: read with the profiles (one round trip).
        kept = fitting_keys(messages if forwards else messages[::-1], len(directory_keys))
        if kept < len(messages):
            more = True
            messages = messages[:kept] if forwards else messages[len(messages) - kept :]
        outside = sorted(originals_outside(messages))
        batch = batch_get(directory_keys + [(Message, conversation_id, seq) for seq in outside])
        directory = Directory.from_batch(batch, caller=principal)
        originals = {m.seq: m for m in messages}
        originals.update(
            {seq: message_record(item) for seq in outside if (item := batch.item(Message, conversation_id, seq))}
        )
        viewer = principal.user_id
        shown = [
            self.presenter.message(
                m, conversation.receipts_shown_to(viewer, m.recipient_id), original=original_in(m, originals)
            )
            for m in messages
        ]
        kept = fitting(shown if forwards else shown[::-1], get_settings().page_max_bytes)
        if kept < len(shown):
            more = True
            shown = shown[:kept] if forwards else shown[len(shown) - kept :]
        newest = conversation.message_count
        if after_seq is not None:
            has_before, has_after = after_seq > 0, more
        elif before_seq is not None:
            has_before, has_after = more, before_seq <= newest
        else:
            has_before, has_after = more, False
        return ConversationDetailOut(
            conversation=enriched_out(
                conversation, principal.user_id, conversation.state_of(principal.user_id).unread, directory
            ),
            messages=shown,
            has_more_before=has_before,
            has_more_after=has_after,
        )

    def open_with_creator(
        self, principal: Principal, pattern_id: str, creator_id: str | None = None
    ) -> PatternConversation:
        """Get or create the caller's conversation with a pattern's creator about it.

        A buyer needs a purchase (403 ``purchase_required``); the creator cannot open one with themself; none can be
        opened while either has blocked the other (403 ``recipient_unavailable``: read with the snapshot, and a
        condition of the write).
        """
        caller = principal.user_id
        if creator_id is None:
            try:
                creator_id = Pattern.get(pattern_id, consistent_read=True).creator_id
            except Pattern.DoesNotExist:
                raise NotFound("pattern not found") from None
        conversation_id = conversation_id_for(caller, creator_id, pattern_id)
        snapshot = batch_get(
            [
                (Pattern, pattern_id, None),
                (Conversation, conversation_id, None),
                (Purchase, caller, pattern_id),
                (UserProfile, caller, None),
                (UserProfile, creator_id, None),
                *blocks.block_keys(caller, creator_id),
            ]
        )
        pattern = snapshot.item(Pattern, pattern_id)
        if pattern is None:
            raise NotFound("pattern not found")
        if pattern.creator_id != creator_id:
            raise InvalidRequest("creatorId is not the creator of this pattern", code=ErrorCode.CREATOR_MISMATCH)
        if creator_id == caller:
            raise InvalidRequest("a creator cannot open a conversation with themself", code=ErrorCode.SELF_CONVERSATION)
        directory = Directory.from_batch(snapshot, caller=principal)
        stored = snapshot.item(Conversation, conversation_id)
        created = False
        if stored is not None:
            conversation = conversation_state(stored)
        else:
            if snapshot.item(Purchase, caller, pattern_id) is None:
                raise Forbidden("buy this pattern to message its creator", code=ErrorCode.PURCHASE_REQUIRED)
            if blocks.blocked_between(snapshot, caller, creator_id):
                raise blocks.recipient_unavailable()
            conversation = new_conversation(caller, creator_id, pattern_id, pattern.title, iso(self.clock()))
            try:
                commit(
                    lambda transaction: write_new_conversation(
                        transaction, conversation, opener_id=caller, claims=claims_of(principal)
                    ),
                    refused=blocks.refusal,  # a block placed since the read
                )
                created = True
            except Contention:
                # The other side opened it at the same instant: theirs is ours.
                conversation = conversation_state(Conversation.get(conversation_id, consistent_read=True))
        return PatternConversation(
            conversation=enriched_out(conversation, caller, conversation.state_of(caller).unread, directory),
            created=created,
            creator=snapshot.item(UserProfile, creator_id),
            caller=directory.participant(caller),
        )
