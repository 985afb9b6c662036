"""The socket protocol: authenticate on ``$connect``, dispatch each frame by ``action``, clean up.

Chalice sends every frame to one ``$default`` handler, so dispatch happens here. A bad frame gets an
``error`` event (``{code, message, action}``), never an unhandled exception.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from chalicelib import logs
from chalicelib.api.http import loads_json, parse
from chalicelib.auth import Principal, authenticate
from chalicelib.errors import AppError, Forbidden, InvalidRequest, PayloadTooLarge, Unauthorized
from chalicelib.models import Connection
from chalicelib.realtime import registry
from chalicelib.realtime.delivery import deliver_presence
from chalicelib.realtime.gateway import Gateway, encode, endpoint_url
from chalicelib.schemas.requests import SendMessageRequest
from chalicelib.services import live
from chalicelib.settings import get_settings
from chalicelib.ws.frames import ConversationFrame, PingFrame, ReadFrame, RequestId

logger = logging.getLogger(__name__)

OK = {"statusCode": 200}


def _gateway(event: dict[str, Any]) -> Gateway:
    return Gateway(endpoint_url(event.get("requestContext") or {}))


def _bind(event: dict[str, Any]) -> None:
    context = event.get("requestContext") or {}
    logs.clear()
    logs.bind(
        request_id=context.get("requestId"), connection_id=context.get("connectionId"), route=context.get("routeKey")
    )


def on_connect(event: dict[str, Any]) -> dict[str, Any]:
    """``$connect``: the JWT arrives as the ``token`` query parameter; refuse the upgrade (401) without one."""
    _bind(event)
    connection_id = event["requestContext"]["connectionId"]
    token = (event.get("queryStringParameters") or {}).get("token")
    try:
        principal = authenticate(token)
        if principal.is_service:
            raise Forbidden("the service role does not open sockets", code="user_token_required")
    except Unauthorized:
        logger.info("connect refused", extra={"status": 401})
        return {"statusCode": 401}
    except Forbidden:
        logger.info("connect refused", extra={"status": 403})
        return {"statusCode": 403}
    logs.bind(user_id=principal.user_id)
    change = registry.open_connection(connection_id, principal)
    logger.info("connected")
    if change is not None:
        deliver_presence(_gateway(event), change)
    return OK


def on_disconnect(event: dict[str, Any]) -> dict[str, Any]:
    """``$disconnect`` (best effort: gone connections are also pruned on 410 and expire by TTL)."""
    _bind(event)
    logger.info("disconnected")
    change = registry.close_connection(event["requestContext"]["connectionId"])
    if change is not None:
        deliver_presence(_gateway(event), change)
    return OK


class _Context:
    """One frame being handled: where it came from and how to answer."""

    def __init__(self, event: dict[str, Any], action: str | None, request_id: str | None) -> None:
        self.connection_id: str = event["requestContext"]["connectionId"]
        self.gateway = _gateway(event)
        self.action = action
        self.request_id = request_id

    def reply(self, event_name: str, data: dict[str, Any]) -> None:
        if self.request_id is not None:
            data = {**data, "requestId": self.request_id}
        self.gateway.post(self.connection_id, encode(event_name, data))

    def error(self, error: AppError) -> None:
        body = error.to_body()["error"]
        self.reply("error", {**body, "action": self.action})


Action = Callable[[_Context, Connection, Principal, dict[str, Any]], None]


def _join(ctx: _Context, connection: Connection, principal: Principal, fields: dict[str, Any]) -> None:
    frame = parse(ConversationFrame, fields)
    registry.join_room(connection, frame.conversation_id)
    ctx.reply("conversation_joined", {"conversationId": frame.conversation_id})


def _leave(ctx: _Context, connection: Connection, principal: Principal, fields: dict[str, Any]) -> None:
    frame = parse(ConversationFrame, fields)
    registry.leave_room(connection, frame.conversation_id)
    ctx.reply("conversation_left", {"conversationId": frame.conversation_id})


def _new_message(ctx: _Context, connection: Connection, principal: Principal, fields: dict[str, Any]) -> None:
    # The sender is the connection's user, whatever the frame claims.
    fields.pop("senderId", None)
    request = parse(SendMessageRequest, fields)
    result = live.send_message(principal, request, ctx.gateway, origin_connection_id=ctx.connection_id)
    ctx.reply(
        "message_sent",
        {
            "message": result.message.wire(),
            "conversation": result.conversation.wire(),
            "clientMessageId": request.client_message_id,
            "duplicate": not result.created,
        },
    )


def _read(ctx: _Context, connection: Connection, principal: Principal, fields: dict[str, Any]) -> None:
    frame = parse(ReadFrame, fields)
    result = live.read_messages(
        principal, frame.message_id, whole_conversation=frame.mark_conversation, gateway=ctx.gateway
    )
    ctx.reply(
        "read_updated",
        {
            "conversationId": result.conversation_id,
            "lastReadMessageId": result.last_read_message_id,
            "readAt": result.read_at,
            "unreadCount": result.unread_count,
            "totalUnread": result.total_unread,
        },
    )


def _typing(typing: bool) -> Action:
    def handle(ctx: _Context, connection: Connection, principal: Principal, fields: dict[str, Any]) -> None:
        frame = parse(ConversationFrame, fields)
        live.announce_typing(principal, frame.conversation_id, typing=typing, gateway=ctx.gateway)

    return handle


ACTIONS: dict[str, Action] = {
    "join_conversation": _join,
    "leave_conversation": _leave,
    "new_message": _new_message,
    "message_read": _read,
    "typing_start": _typing(True),
    "typing_stop": _typing(False),
}


def _frame(event: dict[str, Any]) -> dict[str, Any]:
    """The frame's JSON object, within API Gateway's size limit."""
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8", "surrogatepass")
    if len(raw) > get_settings().max_frame_bytes:
        raise PayloadTooLarge("frames are limited to 128 KB")
    frame = loads_json(raw, what="frame")
    if not isinstance(frame, dict):
        raise InvalidRequest("a frame is a JSON object with an action", code="invalid_frame")
    return frame


def on_message(event: dict[str, Any]) -> dict[str, Any]:
    """``$default``: every client frame."""
    _bind(event)
    ctx = _Context(event, None, None)
    try:
        frame = _frame(event)
        action, request_id = frame.pop("action", None), frame.pop("requestId", None)
        ctx.action = action if isinstance(action, str) else None
        if request_id is not None:
            ctx.request_id = parse_request_id(request_id)
        handler = ACTIONS.get(action) if isinstance(action, str) else None
        if handler is None and action != "ping":
            raise InvalidRequest(f"unknown action; use one of: ping, {', '.join(ACTIONS)}", code="unknown_action")
        # Every frame, ping included, comes from a live connection whose token is still valid.
        connection = registry.get_connection(ctx.connection_id)
        logs.bind(user_id=connection.user_id, action=action)
        principal = registry.principal_of(connection)
        if handler is None:
            parse(PingFrame, frame)
            ctx.reply("pong", {})
            return OK
        handler(ctx, connection, principal, frame)
        logger.info("frame handled")
    except AppError as error:
        logger.info("frame refused", extra={"error_code": error.code, "frame_action": ctx.action})
        ctx.error(error)
    return OK


_REQUEST_ID = TypeAdapter(RequestId, config=ConfigDict(defer_build=True))  # built on first use, not at import


def parse_request_id(value: Any) -> str:
    """A client's correlation id, echoed on the answer to its frame."""
    try:
        return _REQUEST_ID.validate_python(value)
    except ValidationError as exc:
        raise InvalidRequest("requestId must be 1-64 characters of [A-Za-z0-9_.:-]", code="invalid_frame") from exc
