"""Reading conversations (inbox, detail with history) and opening pattern conversations."""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import PynamoDBException

from chalicelib.auth import Principal
from chalicelib.domain.clock import now_iso
from chalicelib.domain.cursors import InvalidCursor, decode_cursor, encode_cursor
from chalicelib.domain.ids import conversation_id_for, is_conversation_id, parse_message_id
from chalicelib.errors import Forbidden, InvalidRequest, NotFound, ServiceUnavailable
from chalicelib.models import Conversation, Membership, Message, Pattern, Purchase, UserProfile
from chalicelib.models.batch import batch_get
from chalicelib.schemas.responses import EnrichedConversationOut, MessageOut, ParticipantOut
from chalicelib.services import rate_limits
from chalicelib.services.directory import Directory
from chalicelib.services.transactions import Contention, commit
from chalicelib.services.views import enriched_out, membership_for, message_out, participant_states
from chalicelib.settings import get_settings


@dataclass
class ConversationPage:
    conversations: list[EnrichedConversationOut]
    next_cursor: str | None
    total_unread: int


@dataclass
class ConversationDetail:
    conversation: EnrichedConversationOut
    messages: list[MessageOut]
    has_more_before: bool
    has_more_after: bool


def _storage_unavailable(exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable("storage is unavailable, retry the request", details={"cause": type(exc).__name__})


def get_conversation_by_id(conversation_id: str, viewer_id: str) -> Conversation:
    """The conversation, if ``viewer_id`` takes part in it; NotFound otherwise (missing or not theirs)."""
    if not is_conversation_id(conversation_id):
        raise NotFound("conversation not found")
    try:
        conversation = Conversation.get(conversation_id, consistent_read=True)
    except Conversation.DoesNotExist:
        raise NotFound("conversation not found") from None
    if viewer_id not in conversation.participant_ids:
        raise NotFound("conversation not found")
    return conversation


def get_conversations_by_user(principal: Principal, limit: int | None, cursor: str | None) -> ConversationPage:
    """The caller's conversations, most recent activity first, one page (2 DynamoDB round trips)."""
    settings = get_settings()
    limit = limit or settings.conversations_page_default
    scope = f"conversations:{principal.user_id}"
    start = None
    if cursor:
        try:
            start = decode_cursor(cursor, scope=scope, secret=settings.cursor_secret)
        except InvalidCursor as exc:
            raise InvalidRequest(str(exc), code="invalid_cursor") from exc
    try:
        results = Membership.by_activity.query(
            principal.user_id, scan_index_forward=False, limit=limit + 1, last_evaluated_key=start
        )
        memberships = list(results)
    except PynamoDBException as exc:
        raise _storage_unavailable(exc) from exc
    next_cursor = None
    if len(memberships) > limit:
        memberships = memberships[:limit]
        last = memberships[-1]
        position = {
            "user_id": {"S": last.user_id},
            "conversation_id": {"S": last.conversation_id},
            "activity_at": {"S": last.activity_at},
        }
        next_cursor = encode_cursor(position, scope=scope, secret=settings.cursor_secret)
    users = {principal.user_id} | {m.other_user_id for m in memberships}
    patterns = {m.pattern_id for m in memberships if m.pattern_id}
    directory = Directory.from_batch(batch_get(Directory.keys_for(users, patterns)), caller=principal)
    return ConversationPage(
        conversations=[enriched_out(m, principal.user_id, int(m.unread_count or 0), directory) for m in memberships],
        next_cursor=next_cursor,
        total_unread=directory.total_unread(principal.user_id),
    )


def get_unread_message_count(user_id: str) -> int:
    """Messages addressed to ``user_id`` that they have not read, across all conversations (1 GetItem)."""
    try:
        return max(int(UserProfile.get(user_id, consistent_read=True).total_unread or 0), 0)
    except UserProfile.DoesNotExist:
        return 0


def _history_position(cursor_message_id: str | None, conversation_id: str) -> int | None:
    if cursor_message_id is None:
        return None
    parsed = parse_message_id(cursor_message_id)
    if parsed is None or parsed[0] != conversation_id:
        raise InvalidRequest("before/after must be a message id of this conversation", code="invalid_cursor")
    return parsed[1]


def get_messages_by_conversation(
    conversation_id: str, *, limit: int, before: int | None = None, after: int | None = None
) -> tuple[list[Message], bool]:
    """One page of history in chronological order, and whether more lies beyond it (1 Query)."""
    if after is not None:
        query = Message.query(conversation_id, Message.seq > after, scan_index_forward=True, limit=limit + 1)
    elif before is not None:
        query = Message.query(conversation_id, Message.seq < before, scan_index_forward=False, limit=limit + 1)
    else:
        query = Message.query(conversation_id, scan_index_forward=False, limit=limit + 1)
    page = list(query)
    more = len(page) > limit
    page = page[:limit]
    if after is None:
        page.reverse()
    return page, more


def get_conversation_with_details(
    principal: Principal,
    conversation_id: str,
    *,
    limit: int | None = None,
    before: str | None = None,
    after: str | None = None,
) -> ConversationDetail:
    """A conversation the caller is in, enriched, with a page of its messages (3 round trips)."""
    settings = get_settings()
    limit = limit or settings.messages_page_default
    try:
        conversation = get_conversation_by_id(conversation_id, principal.user_id)
        before_seq = _history_position(before, conversation_id)
        after_seq = _history_position(after, conversation_id)
        messages, more = get_messages_by_conversation(conversation_id, limit=limit, before=before_seq, after=after_seq)
        patterns = {conversation.pattern_id} if conversation.pattern_id else set()
        directory = Directory.from_batch(
            batch_get(Directory.keys_for(set(conversation.participant_ids), patterns)), caller=principal
        )
    except PynamoDBException as exc:
        raise _storage_unavailable(exc) from exc
    states = participant_states(conversation)
    newest = conversation.message_count or 0
    if after_seq is not None:
        has_before, has_after = after_seq > 0, more
    elif before_seq is not None:
        has_before, has_after = more, before_seq <= newest
    else:
        has_before, has_after = more, False
    return ConversationDetail(
        conversation=enriched_out(conversation, principal.user_id, states[principal.user_id].unread, directory),
        messages=[message_out(m, states[m.recipient_id]) for m in messages],
        has_more_before=has_before,
        has_more_after=has_after,
    )


def new_conversation(user_a: str, user_b: str, pattern_id: str | None, title: str | None, at: str) -> Conversation:
    """A conversation not yet stored: two participants, no messages."""
    return Conversation(
        conversation_id_for(user_a, user_b, pattern_id),
        pattern_id=pattern_id,
        participant_ids=sorted([user_a, user_b]),
        title=title,
        created_at=at,
        updated_at=at,
        is_active=True,
        message_count=0,
        version=0,
        participant_states={},
    )


def remember_claims(transaction, principal: Principal) -> None:
    """Keep the caller's JWT name/picture so others see them when the platform sent no profile."""
    actions = []
    if principal.name:
        actions.append(UserProfile.claim_name.set(principal.name))
    if principal.picture:
        actions.append(UserProfile.claim_picture.set(principal.picture))
    if actions:
        transaction.update(UserProfile(principal.user_id), actions=actions)


@dataclass
class PatternConversation:
    conversation: EnrichedConversationOut
    created: bool
    creator: UserProfile | None  # as read (their connections: whom to tell about a new conversation)
    caller: ParticipantOut


def get_conversation_by_pattern_and_users(
    principal: Principal, pattern_id: str, creator_id: str | None = None
) -> PatternConversation:
    """Get or create the caller's conversation with a pattern's creator about it.

    A buyer needs a purchase (403 ``purchase_required``); the creator cannot open one with themself.
    """
    caller = principal.user_id
    try:
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
            ]
        )
    except PynamoDBException as exc:
        raise _storage_unavailable(exc) from exc
    pattern = snapshot[(Pattern, pattern_id, None)]
    if pattern is None:
        raise NotFound("pattern not found")
    if pattern.creator_id != creator_id:
        raise InvalidRequest("creatorId is not the creator of this pattern", code="creator_mismatch")
    if creator_id == caller:
        raise InvalidRequest("a creator cannot open a conversation with themself", code="self_conversation")
    directory = Directory.from_batch(snapshot, caller=principal)
    conversation = snapshot[(Conversation, conversation_id, None)]
    created = False
    if conversation is None:
        if snapshot[(Purchase, caller, pattern_id)] is None:
            raise Forbidden("buy this pattern to message its creator", code="purchase_required")
        conversation = new_conversation(caller, creator_id, pattern_id, pattern.title, now_iso())
        conversation.participant_states = {u: {} for u in conversation.participant_ids}

        def build(transaction) -> None:
            rate_limits.charge(transaction, caller, "conversation")
            transaction.save(conversation, condition=Conversation.id.does_not_exist())
            for user in conversation.participant_ids:
                transaction.save(membership_for(conversation, user))
            remember_claims(transaction, principal)

        try:
            commit(build)
            created = True
        except Contention:
            # The other side opened it at the same instant: theirs is ours.
            conversation = Conversation.get(conversation_id, consistent_read=True)
    states = participant_states(conversation)
    return PatternConversation(
        conversation=enriched_out(conversation, caller, states[caller].unread, directory),
        created=created,
        creator=snapshot[(UserProfile, creator_id, None)],
        caller=directory.participant(caller),
    )
