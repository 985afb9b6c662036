"""``/api/messages``: conversations, history, sending, read receipts, pattern conversations."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.http import PUBLIC, json_response, parse, query_params, read_json_body, route
from chalicelib.auth import Principal
from chalicelib.realtime.gateway import Gateway, endpoint_url
from chalicelib.schemas.requests import (
    MarkReadRequest,
    MessagesQuery,
    PageQuery,
    PatternConversationQuery,
    SendMessageRequest,
    SyncQuery,
)
from chalicelib.schemas.responses import (
    ConversationDetailOut,
    ConversationListOut,
    ConversationsOut,
    PatternConversationOut,
    ReadOut,
    SendOut,
    SyncOut,
)
from chalicelib.services import conversations, live, sync

blueprint = Blueprint(__name__)


def _page_body(page: conversations.ConversationPage, *, with_total: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"conversations": [c.wire() for c in page.conversations], "nextCursor": page.next_cursor}
    if with_total:
        body["totalUnread"] = page.total_unread
    return body


@route(
    blueprint,
    "/messages",
    "GET",
    query=MessagesQuery,
    responses={200: (ConversationListOut, ConversationDetailOut)},
)
def list_or_open(request: Any, principal: Principal) -> Response:
    """The caller's conversations; with ``conversationId``, that conversation and a page of history."""
    query = parse(MessagesQuery, query_params(request))
    if query.conversation_id is None:
        page = conversations.get_conversations_by_user(principal, query.limit, query.cursor)
        return json_response(_page_body(page, with_total=False))
    detail = conversations.get_conversation_with_details(
        principal, query.conversation_id, limit=query.limit, before=query.before, after=query.after
    )
    return json_response(
        {
            "conversation": detail.conversation.wire(),
            "messages": [m.wire() for m in detail.messages],
            "hasMoreBefore": detail.has_more_before,
            "hasMoreAfter": detail.has_more_after,
        }
    )


@route(blueprint, "/messages", "POST", body=SendMessageRequest, responses={201: SendOut, 200: SendOut})
def send(request: Any, principal: Principal) -> Response:
    """Send a message; 201 when stored, 200 when a retry returns the original."""
    body = parse(SendMessageRequest, read_json_body(request))
    result = live.send_message(principal, body, Gateway(endpoint_url()))
    return json_response(
        {"message": result.message.wire(), "conversation": result.conversation.wire()},
        201 if result.created else 200,
    )


@route(blueprint, "/messages/conversations", "GET", query=PageQuery, responses={200: ConversationsOut})
def all_conversations(request: Any, principal: Principal) -> Response:
    """Every conversation of the caller (paginated) and their total unread count."""
    query = parse(PageQuery, query_params(request))
    page = conversations.get_conversations_by_user(principal, query.limit, query.cursor)
    return json_response(_page_body(page, with_total=True))


@route(blueprint, "/messages/{message_id}/read", "PUT", body=MarkReadRequest, responses={200: ReadOut})
def mark_read(request: Any, principal: Principal, message_id: str) -> Response:
    """Mark a message (or its whole conversation) read for the caller."""
    body = parse(MarkReadRequest, read_json_body(request))
    result = live.read_messages(
        principal, message_id, whole_conversation=body.mark_conversation, gateway=Gateway(endpoint_url())
    )
    return json_response(
        {
            "conversationId": result.conversation_id,
            "messageId": message_id,
            "lastReadMessageId": result.last_read_message_id,
            "readAt": result.read_at,
            "unreadCount": result.unread_count,
            "totalUnread": result.total_unread,
        }
    )


@route(
    blueprint,
    "/messages/pattern/{pattern_id}",
    "GET",
    query=PatternConversationQuery,
    responses={200: PatternConversationOut, 201: PatternConversationOut},
)
def pattern_conversation(request: Any, principal: Principal, pattern_id: str) -> Response:
    """Get or create the caller's conversation with a pattern's creator (201 when created)."""
    query = parse(PatternConversationQuery, query_params(request))
    result = live.open_pattern_conversation(principal, pattern_id, query.creator_id, Gateway(endpoint_url()))
    return json_response({"conversation": result.conversation.wire()}, 201 if result.created else 200)


@route(blueprint, "/messages/sync", "GET", query=SyncQuery, responses={200: SyncOut})
def catch_up(request: Any, principal: Principal) -> Response:
    """What changed since ``since`` (a cursor from the previous sync): new messages and their conversations."""
    query = parse(SyncQuery, query_params(request))
    page = sync.sync(principal, query.since, query.limit)
    return json_response(
        {
            "conversations": [c.wire() for c in page.conversations],
            "messages": [m.wire() for m in page.messages],
            "nextCursor": page.next_cursor,
            "hasMore": page.has_more,
        }
    )


@route(blueprint, "/openapi.json", "GET", auth=PUBLIC, responses={200: None})
def openapi_document(request: Any, principal: None) -> Response:
    """This API's OpenAPI 3.1 document."""
    from chalicelib.api.openapi import build_document  # built on demand: nothing at cold start

    return json_response(build_document())
