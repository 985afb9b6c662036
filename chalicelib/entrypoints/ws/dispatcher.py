"""The socket protocol's entry points: authenticate on ``$connect``, dispatch each frame by ``action``, clean up.

Chalice sends every frame to one ``$default`` handler, so dispatch happens here. A refused frame gets an
``error`` event (``{code, message, action}``) through the same error boundary as HTTP, never an unhandled
exception.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from chalicelib import logs, metrics
from chalicelib.auth import authenticate
from chalicelib.bootstrap import Services, preload, services
from chalicelib.domain.principal import Principal
from chalicelib.entrypoints.boundary import to_app_error
from chalicelib.entrypoints.parsing import loads_json, parse
from chalicelib.errors import AppError, ErrorCode, Forbidden, InternalError, InvalidRequest, PayloadTooLarge
from chalicelib.schemas.base import ResponseModel
from chalicelib.schemas.events import (
    ConversationJoined,
    ConversationLeft,
    ErrorEvent,
    MessageChanged,
    MessageSent,
    Pong,
    ReadUpdated,
    frame,
)
from chalicelib.schemas.frames import (
    ConversationFrame,
    EditFrame,
    MessageFrame,
    PingFrame,
    ReactionFrame,
    ReadFrame,
    RequestId,
    WatchPresenceFrame,
)
from chalicelib.schemas.requests import SendMessageRequest
from chalicelib.services import sessions
from chalicelib.services.sessions import Session
from chalicelib.settings import get_settings

# The three socket functions' inits load what every socket event calls (built on first use: bootstrap.preload);
# ``$default``'s function also loads what its frames call (``preload_frames``, from app.py).
preload("connections", "notifier")


def preload_frames() -> None:
    """What only ``$default``'s frames call (send, read, edit, delete, the suspension check), at its function's init."""
    preload("messaging", "lifecycle", "suspensions")


logger = logging.getLogger(__name__)

OK = {"statusCode": 200}


def _services(event: dict[str, Any]) -> Services:
    """The container's use cases; the socket event tells the ``@connections`` endpoint if configuration did not."""
    current = services()
    context = event.get("requestContext") or {}
    current.connections.learn_endpoint(context.get("apiId"), context.get("stage"))
    return current


def _bind(event: dict[str, Any]) -> None:
    context = event.get("requestContext") or {}
    logs.clear()
    logs.bind(
        request_id=context.get("requestId"), connection_id=context.get("connectionId"), route=context.get("routeKey")
    )


@contextmanager
def _measured() -> Iterator[None]:
    """One socket event's metrics: counted while it is handled, written as one EMF line when it ends."""
    metrics.begin()
    metrics.count(metrics.INVOCATIONS)
    try:
        yield
    finally:
        metrics.flush(get_settings().stage)


def _refusal(exc: Exception) -> dict[str, Any]:
    error = to_app_error(exc)
    if error is None:
        logger.exception("unhandled error")
        error = InternalError("internal error")
    metrics.answered(error.status)
    return {"statusCode": error.status}


def _tell_presence(current: Services, change: sessions.PresenceChange | None) -> None:
    """Deliver a presence change; a failure is logged: the connection is stored (or forgotten) all the same."""
    if change is None:
        return
    try:
        current.notifier.presence(change)
    except Exception:
        logger.exception("delivering a presence change failed")


def on_connect(event: dict[str, Any]) -> dict[str, Any]:
    """``$connect``: the JWT arrives as the ``token`` query parameter; refuse the upgrade (401) without one, and
    with 429 when the user already holds ``MAX_CONNECTIONS_PER_USER`` connections."""
    with _measured():
        return _connect(event)


def _connect(event: dict[str, Any]) -> dict[str, Any]:
    _bind(event)
    connection_id = event["requestContext"]["connectionId"]
    token = (event.get("queryStringParameters") or {}).get("token")
    try:
        principal = authenticate(token, keys=services().signing_keys)
        if principal.is_service:
            raise Forbidden("the service role does not open sockets", code=ErrorCode.USER_TOKEN_REQUIRED)
        if principal.is_moderator:
            raise Forbidden("the moderator role does not open sockets", code=ErrorCode.USER_TOKEN_REQUIRED)
        logs.bind(user_id=principal.user_id)
        current = _services(event)
        change = sessions.open_connection(connection_id, principal, current.connections)
    except Exception as exc:
        refused = _refusal(exc)
        logger.info("connect refused", extra={"status": refused["statusCode"]})
        return refused
    logger.info("connected")
    _tell_presence(current, change)
    return OK


def on_disconnect(event: dict[str, Any]) -> dict[str, Any]:
    """``$disconnect`` (best effort: gone connections are also pruned on 410 and expire by TTL)."""
    with _measured():
        return _disconnect(event)


def _disconnect(event: dict[str, Any]) -> dict[str, Any]:
    _bind(event)
    logger.info("disconnected")
    try:
        current = _services(event)
        change = sessions.close_connection(event["requestContext"]["connectionId"])
    except Exception as exc:
        return _refusal(exc)
    _tell_presence(current, change)
    return OK


class _Frame:
    """One frame being handled: where it came from and how to answer."""

    def __init__(self, event: dict[str, Any], current: Services) -> None:
        self.connection_id: str = event["requestContext"]["connectionId"]
        self.services = current
        self.action: str | None = None
        self.request_id: str | None = None
        self.prefetched: Any = None  # what was read with the connection (see PREFETCH), for the first attempt

    def reply(self, name: str, data: ResponseModel) -> None:
        if self.request_id is not None:
            data = data.model_copy(update={"request_id": self.request_id})
        self.services.connections.post(self.connection_id, frame(name, data))

    def error(self, error: AppError) -> None:
        self.reply(
            "error", ErrorEvent(code=error.code, message=error.message, action=self.action, details=error.details)
        )


Action = Callable[[_Frame, Session, Principal, dict[str, Any]], None]


def _join(ctx: _Frame, connection: Session, principal: Principal, fields: dict[str, Any]) -> None:
    request = parse(ConversationFrame, fields)
    sessions.join_room(connection, request.conversation_id)
    ctx.reply("conversation_joined", ConversationJoined(conversation_id=request.conversation_id))


def _leave(ctx: _Frame, connection: Session, principal: Principal, fields: dict[str, Any]) -> None:
    request = parse(ConversationFrame, fields)
    sessions.leave_room(connection, request.conversation_id)
    ctx.reply("conversation_left", ConversationLeft(conversation_id=request.conversation_id))


def _new_message(ctx: _Frame, connection: Session, principal: Principal, fields: dict[str, Any]) -> None:
    # The sender is the connection's user, whatever the frame claims.
    fields.pop("senderId", None)
    request = parse(SendMessageRequest, fields)
    sent = ctx.services.messaging.send(principal, request, origin_connection_id=ctx.connection_id)
    ctx.reply(
        "message_sent",
        MessageSent(
            message=sent.out.message,
            conversation=sent.out.conversation,
            client_message_id=request.client_message_id,
            duplicate=not sent.created,
        ),
    )


def _read(ctx: _Frame, connection: Session, principal: Principal, fields: dict[str, Any]) -> None:
    request = parse(ReadFrame, fields)
    out = ctx.services.messaging.read(principal, request.message_id, whole_conversation=request.mark_conversation).out
    ctx.reply(
        "read_updated",
        ReadUpdated(
            conversation_id=out.conversation_id,
            last_read_message_id=out.last_read_message_id,
            read_at=out.read_at,
            unread_count=out.unread_count,
            total_unread=out.total_unread,
        ),
    )


def _typing(typing: bool) -> Action:
    def handle(ctx: _Frame, connection: Session, principal: Principal, fields: dict[str, Any]) -> None:
        request = parse(ConversationFrame, fields)
        ctx.services.messaging.typing(principal, request.conversation_id, typing=typing)

    return handle


def _ping(ctx: _Frame, connection: Session, principal: Principal, fields: dict[str, Any]) -> None:
    parse(PingFrame, fields)
    sessions.heartbeat(connection)
    ctx.reply("pong", Pong())


def _edit(ctx: _Frame, connection: Session, principal: Principal, fields: dict[str, Any]) -> None:
    request = parse(EditFrame, fields)
    out = ctx.services.lifecycle.edit(
        principal,
        request.message_id,
        request.content,
        origin_connection_id=ctx.connection_id,
        prefetched=ctx.prefetched,
    )
    ctx.reply("message_edited", MessageChanged(message=out.message))


def _delete(ctx: _Frame, connection: Session, principal: Principal, fields: dict[str, Any]) -> None:
    request = parse(MessageFrame, fields)
    out = ctx.services.lifecycle.delete(
        principal, request.message_id, origin_connection_id=ctx.connection_id, prefetched=ctx.prefetched
    )
    ctx.reply("message_removed", MessageChanged(message=out.message))


def _reaction(add: bool) -> Action:
    def handle(ctx: _Frame, connection: Session, principal: Principal, fields: dict[str, Any]) -> None:
        request = parse(ReactionFrame, fields)
        out = ctx.services.lifecycle.react(
            principal,
            request.message_id,
            request.emoji,
            add=add,
            origin_connection_id=ctx.connection_id,
            prefetched=ctx.prefetched,
        )
        ctx.reply("reaction_added" if add else "reaction_removed", MessageChanged(message=out.message))

    return handle


def _watch_presence(ctx: _Frame, connection: Session, principal: Principal, fields: dict[str, Any]) -> None:
    request = parse(WatchPresenceFrame, fields)
    ctx.reply("presence_watched", sessions.watch_presence(connection, request.user_ids))


ACTIONS: dict[str, Action] = {
    "ping": _ping,
    "join_conversation": _join,
    "leave_conversation": _leave,
    "new_message": _new_message,
    "message_read": _read,
    "typing_start": _typing(True),
    "typing_stop": _typing(False),
    "edit_message": _edit,
    "delete_message": _delete,
    "add_reaction": _reaction(True),
    "remove_reaction": _reaction(False),
    "watch_presence": _watch_presence,
}

# Actions whose use case first reads items named by the frame (a message change reads the message and its
# conversation): the connection is read in the same BatchGetItem, one round trip fewer. An id that cannot be ours
# reads nothing more; validation stays the handler's.
PREFETCH: dict[str, Callable[[Services, dict[str, Any]], list[Any]]] = {
    action: lambda current, fields: (
        current.lifecycle.read_keys(fields["messageId"]) if isinstance(fields.get("messageId"), str) else []
    )
    for action in ("edit_message", "delete_message", "add_reaction", "remove_reaction")
}


def _frame_fields(event: dict[str, Any]) -> dict[str, Any]:
    """The frame's JSON object, within API Gateway's size limit."""
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8", "surrogatepass")
    if len(raw) > get_settings().max_frame_bytes:
        raise PayloadTooLarge("frames are limited to 128 KB")
    fields = loads_json(raw, what="frame")
    if not isinstance(fields, dict):
        raise InvalidRequest("a frame is a JSON object with an action", code=ErrorCode.INVALID_FRAME)
    return fields


def on_message(event: dict[str, Any]) -> dict[str, Any]:
    """``$default``: every client frame."""
    with _measured():
        started = time.perf_counter()
        answer = _dispatch(event)
        metrics.duration(metrics.FRAME_LATENCY, (time.perf_counter() - started) * 1000)
        return answer


def _dispatch(event: dict[str, Any]) -> dict[str, Any]:
    _bind(event)
    ctx = _Frame(event, _services(event))
    try:
        fields = _frame_fields(event)
        action, request_id = fields.pop("action", None), fields.pop("requestId", None)
        ctx.action = action if isinstance(action, str) else None
        if request_id is not None:
            ctx.request_id = parse_request_id(request_id)
        handler = ACTIONS.get(action) if isinstance(action, str) else None
        if handler is None:
            raise InvalidRequest(f"unknown action; use one of: {', '.join(ACTIONS)}", code=ErrorCode.UNKNOWN_ACTION)
        # Every frame, ping included, comes from a live connection whose token is still valid.
        prefetch = PREFETCH[action](ctx.services, fields) if action in PREFETCH else []
        if prefetch:
            connection, ctx.prefetched = sessions.get_connection_with(ctx.connection_id, prefetch)
        else:
            connection = sessions.get_connection(ctx.connection_id)
        logs.bind(user_id=connection.user_id, action=action)
        principal = sessions.principal_of(connection)
        ctx.services.suspensions.check(principal.user_id)  # a connection the suspension's close missed (no I/O)
        handler(ctx, connection, principal, fields)
        logger.info("frame handled")
    except Exception as exc:
        error = to_app_error(exc)
        if error is None:
            logger.exception("unhandled error in a frame")
            error = InternalError("internal error")
        logger.info("frame refused", extra={"error_code": str(error.code), "frame_action": ctx.action})
        metrics.answered(error.status)
        ctx.error(error)
        if error.code is ErrorCode.TOKEN_EXPIRED:
            # As for pushes: the client reconnects with a fresh token (API Gateway then runs $disconnect).
            ctx.services.connections.close(ctx.connection_id)
    return OK


_REQUEST_ID = TypeAdapter(RequestId, config=ConfigDict(defer_build=True))  # built on first use, not at import


def parse_request_id(value: Any) -> str:
    """A client's correlation id, echoed on the answer to its frame."""
    try:
        return _REQUEST_ID.validate_python(value)
    except ValidationError as exc:
        raise InvalidRequest(
            "requestId must be 1-64 characters of [A-Za-z0-9_.:-]", code=ErrorCode.INVALID_FRAME
        ) from exc
