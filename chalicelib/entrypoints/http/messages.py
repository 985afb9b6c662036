"""``/api/messages``: conversations, history, sending, edits, deletions, reactions, read receipts, pattern
conversations, sync."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.bootstrap import preload, services
from chalicelib.domain.folders import SettingsChange
from chalicelib.domain.ids import is_conversation_id, is_entity_id, parse_message_id
from chalicelib.domain.principal import Principal
from chalicelib.entrypoints.http.routing import Answer, path_id, query_params, read_json_body, route
from chalicelib.entrypoints.parsing import parse
from chalicelib.schemas.requests import (
    ConversationSettingsRequest,
    EditMessageRequest,
    HistoryQuery,
    MarkReadRequest,
    MessagesQuery,
    PageQuery,
    PatternConversationQuery,
    ReportRequest,
    SearchQuery,
    SendMessageRequest,
    SyncQuery,
)
from chalicelib.schemas.responses import (
    ConversationDetailOut,
    ConversationListOut,
    ConversationsOut,
    MessageChangeOut,
    PatternConversationOut,
    ReadOut,
    ReportCreatedOut,
    SearchOut,
    SendOut,
    SettingsOut,
    SyncOut,
)

# This function's init loads the use cases its handlers call (built on first use: bootstrap.preload).
preload("conversations", "lifecycle", "messaging", "moderation", "organizing", "search", "sync")

blueprint = Blueprint(__name__)
TAG = "messages"


def _message_id(value: str) -> str:
    """A message id path parameter: anything that cannot be one of ours is a missing message."""
    return path_id(value, lambda candidate: parse_message_id(candidate) is not None, "message")


@route(
    blueprint,
    "/messages",
    "GET",
    operation_id="listInbox",
    tag=TAG,
    query=PageQuery,
    responses={200: ConversationListOut},
    errors={429},  # with conversationId: a history page, counted like getConversation
)
def inbox(request: Any, principal: Principal) -> Answer:
    """The caller's conversations, most recent first (the seed's list).

    The seed's frontend also calls this path with `conversationId` (and `limit`, `before`, `after`): it then
    answers exactly like `getConversation`, which documents that form.
    """
    query = parse(MessagesQuery, query_params(request))
    if query.conversation_id is None:
        return services().conversations.inbox(principal, query.limit, query.cursor, query.folder)
    return services().conversations.detail(
        principal, query.conversation_id, limit=query.limit, before=query.before, after=query.after
    )


@route(
    blueprint,
    "/messages",
    "POST",
    operation_id="sendMessage",
    tag=TAG,
    body=SendMessageRequest,
    responses={201: SendOut, 200: SendOut},
    errors={409, 429},
)
def send(request: Any, principal: Principal) -> Answer:
    """Send a message; 201 when stored, 200 when a retry (same `clientMessageId`) returns the original."""
    body = parse(SendMessageRequest, read_json_body(request))
    sent = services().messaging.send(principal, body)
    return sent.out, 201 if sent.created else 200


@route(
    blueprint,
    "/messages/conversations",
    "GET",
    operation_id="listConversations",
    tag=TAG,
    query=PageQuery,
    responses={200: ConversationsOut},
)
def conversations(request: Any, principal: Principal) -> Answer:
    """One folder of the caller's conversations (paginated), their total unread count and their requests count.

    `folder`: `inbox` (the default), `archived` or `requests` (message requests waiting for the caller). `totalUnread`
    counts the unread messages of inbox conversations only; `requestsCount` the conversations in `requests`.
    """
    query = parse(PageQuery, query_params(request))
    return services().conversations.list(principal, query.limit, query.cursor, query.folder)


@route(
    blueprint,
    "/messages/conversations/{conversationId}",
    "GET",
    operation_id="getConversation",
    tag=TAG,
    query=HistoryQuery,
    responses={200: ConversationDetailOut},
    errors={429},
)
def conversation(request: Any, principal: Principal, conversationId: str) -> Answer:
    """A conversation of the caller with a page of its history (the newest, or `before`/`after` a message)."""
    query = parse(HistoryQuery, query_params(request))
    conversation_id = path_id(conversationId, is_conversation_id, "conversation")
    return services().conversations.detail(
        principal, conversation_id, limit=query.limit, before=query.before, after=query.after
    )


@route(
    blueprint,
    "/messages/conversations/{conversationId}/settings",
    "PUT",
    operation_id="updateConversationSettings",
    tag=TAG,
    body=ConversationSettingsRequest,
    responses={200: SettingsOut},
    errors={429},
)
def conversation_settings(request: Any, principal: Principal, conversationId: str) -> Answer:
    """Change the caller's own settings of a conversation: `archived`, `mutedUntil`, `accepted`.

    `archived: true` takes it out of the inbox into `folder=archived` (and its unread out of `totalUnread`) until the
    other participant sends a message. `mutedUntil` (ISO-8601 with a time zone; `null` unmutes): no
    `new_message_notification` until then; unread still counts. `accepted: true` accepts a message request waiting
    for the caller (replying accepts it too); declining is blocking (`PUT /api/me/blocks/{userId}`). The caller's
    connections get `conversation_updated`. Participants only: anyone else gets the 404 of a missing conversation.
    """
    body = parse(ConversationSettingsRequest, read_json_body(request))
    conversation_id = path_id(conversationId, is_conversation_id, "conversation")
    change = SettingsChange(
        archived=body.archived, mute=body.mutes, muted_until=body.muted_until_iso, accepted=bool(body.accepted)
    )
    return services().organizing.update_settings(principal, conversation_id, change)


@route(
    blueprint,
    "/messages/{messageId}/read",
    "PUT",
    operation_id="markRead",
    tag=TAG,
    body=MarkReadRequest,
    responses={200: ReadOut},
    errors={429},
)
def mark_read(request: Any, principal: Principal, messageId: str) -> Answer:
    """Mark a message (or, with `markConversation`, its whole conversation) read for the caller."""
    body = parse(MarkReadRequest, read_json_body(request))
    message_id = _message_id(messageId)
    return services().messaging.read(principal, message_id, whole_conversation=body.mark_conversation).out


@route(
    blueprint,
    "/messages/pattern/{patternId}",
    "GET",
    operation_id="getPatternConversation",
    tag=TAG,
    query=PatternConversationQuery,
    responses={200: PatternConversationOut, 201: PatternConversationOut},
    errors={429},
)
def pattern_conversation(request: Any, principal: Principal, patternId: str) -> Answer:
    """Get or create the caller's conversation with a pattern's creator (201 when created)."""
    query = parse(PatternConversationQuery, query_params(request))
    pattern_id = path_id(patternId, is_entity_id, "pattern")
    out, created = services().messaging.open_pattern_conversation(principal, pattern_id, query.creator_id)
    return out, 201 if created else 200


@route(
    blueprint,
    "/messages/sync",
    "GET",
    operation_id="syncChanges",
    tag=TAG,
    query=SyncQuery,
    responses={200: SyncOut},
    errors={429},
)
def sync(request: Any, principal: Principal) -> Answer:
    """What changed since `since` (the `nextCursor` of the previous sync): new messages and their conversations."""
    query = parse(SyncQuery, query_params(request))
    return services().sync.changes(principal, query.since, query.limit)


@route(
    blueprint,
    "/messages/search",
    "GET",
    operation_id="searchMessages",
    tag=TAG,
    query=SearchQuery,
    responses={200: SearchOut},
    errors={429},
)
def search(request: Any, principal: Principal) -> Answer:
    """Messages of the caller's conversations (or of one, `conversationId`: a stranger's is `404`) with every word
    of `q` (case- and accent-insensitive; the last word also as a prefix), newest first, with where the words are.
    Edited messages are found by their current words, deleted ones never; an attachment by its file name. `q`: 1-200
    characters with a word of two or more (`400 invalid_query`). Indexed asynchronously, about a second after a
    send. A page may hold fewer than `limit` results and still have a `nextCursor`."""
    query = parse(SearchQuery, query_params(request))
    return services().search.search(
        principal, query.q, conversation_id=query.conversation_id, limit=query.limit, cursor=query.cursor
    )


@route(
    blueprint,
    "/messages/{messageId}",
    "PATCH",
    operation_id="editMessage",
    tag=TAG,
    body=EditMessageRequest,
    responses={200: MessageChangeOut},
    errors={409, 429},
)
def edit(request: Any, principal: Principal, messageId: str) -> Answer:
    """Edit a message: its sender only (`403 not_sender`), within `MESSAGE_EDIT_WINDOW_SECONDS` of sending it (`403
    edit_window_passed`), never once deleted (`409 message_deleted`); the same content rules as a send. An attachment
    keeps its attachment. The same text again changes nothing."""
    body = parse(EditMessageRequest, read_json_body(request))
    return services().lifecycle.edit(principal, _message_id(messageId), body.content)


@route(
    blueprint,
    "/messages/{messageId}",
    "DELETE",
    operation_id="deleteMessage",
    tag=TAG,
    responses={200: MessageChangeOut},
    errors={429},
)
def delete(request: Any, principal: Principal, messageId: str) -> Answer:
    """Delete a message: its sender only (`403 not_sender`); it stays as a tombstone (`isDeleted`, no content, no
    attachment), its attachment's downloads end. Idempotent."""
    return services().lifecycle.delete(principal, _message_id(messageId))


@route(
    blueprint,
    "/messages/{messageId}/reactions/{emoji}",
    "PUT",
    operation_id="addReaction",
    tag=TAG,
    responses={200: MessageChangeOut},
    errors={409, 429},
)
def add_reaction(request: Any, principal: Principal, messageId: str, emoji: str) -> Answer:
    """React to a message (any participant; once per user and emoji; idempotent). `emoji` is one of `REACTION_EMOJI`,
    URL-encoded UTF-8 (`400 invalid_reaction` otherwise); a message carries at most `MESSAGE_MAX_REACTIONS` different
    ones (`409 too_many_reactions`), none once deleted (`409 message_deleted`)."""
    return services().lifecycle.react(principal, _message_id(messageId), emoji, add=True)


@route(
    blueprint,
    "/messages/{messageId}/reactions/{emoji}",
    "DELETE",
    operation_id="removeReaction",
    tag=TAG,
    responses={200: MessageChangeOut},
    errors={409, 429},
)
def remove_reaction(request: Any, principal: Principal, messageId: str, emoji: str) -> Answer:
    """Take back one's reaction (idempotent: a reaction that is not there is already removed)."""
    return services().lifecycle.react(principal, _message_id(messageId), emoji, add=False)


@route(
    blueprint,
    "/messages/{messageId}/report",
    "POST",
    operation_id="reportMessage",
    tag=TAG,
    body=ReportRequest,
    responses={201: ReportCreatedOut, 200: ReportCreatedOut},
    errors={409, 429},
)
def report(request: Any, principal: Principal, messageId: str) -> Answer:
    """Report a message to the moderators (a participant, not its sender: `403 own_message`; not a deleted one:
    `409 message_deleted`). 201 with a new report; the same reporter reporting the same message again gets 200 with
    the same report. The report keeps the message as it is now (text, earlier texts, attachment), whatever later
    edits or deletions do. Limited per user (`RATE_LIMIT_REPORT`)."""
    body = parse(ReportRequest, read_json_body(request))
    return services().moderation.report(principal, _message_id(messageId), body.reason, body.details)
