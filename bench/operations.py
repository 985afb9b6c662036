"""The measured operations: each one prepares what it needs (unmeasured) and returns the one request to time.

``OPERATIONS`` are timed at every size; ``COST_OPERATIONS`` (connecting, pinging, sending over the socket, a photo
from upload request to processing) only at the largest, for ``bench/cost.py``.

Requests go through ``chalice.test.Client`` exactly as the integration tests send them (REST through the HTTP
client, socket frames as API Gateway-shaped events to the app's three WebSocket handlers), so a measurement
covers routing, JWT verification, validation, the services, DynamoDB on moto and delivery through moto's
``@connections`` API. The floor is a bare Chalice handler doing one GetItem on the same moto.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import requests
from chalice import Chalice
from chalice.test import Client
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID

from bench.meter import Meter
from bench.seed import BUYER, CREATOR, PATTERN, World, write_all
from chalicelib.adapters.dynamodb import Purchase, UserProfile
from chalicelib.auth.tokens import issue_token
from chalicelib.domain.cursors import encode_cursor
from chalicelib.domain.ids import message_id_for
from chalicelib.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
TOKEN_TTL_SECONDS = 6 * 3600
HISTORY_BEFORE_SEQ = 61  # "before" of the history page: the oldest page of every size (seqs 60..10, 51 read)
SYNC_BACK = 60  # the sync cursor sits this many seeded chat messages before the end: a full page of 50 follows

_ids = count(1)


class RequestFailed(Exception):
    """A measured request did not succeed: its numbers would mean nothing."""


@dataclass
class Measured:
    """One prepared request: ``call`` is timed; ``cleanup`` runs after it, unmeasured."""

    call: Callable[[], Any]
    cleanup: Callable[[], None] | None = None


@dataclass
class Operation:
    name: str
    note: str
    prepare: Callable[[Harness], Measured]
    setup: Callable[[Harness], None] | None = None
    teardown: Callable[[Harness], None] | None = None


def floor_app() -> Chalice:
    """The floor: a bare handler doing one GetItem (PynamoDB, the same botocore client and moto)."""
    app = Chalice(app_name="bench-floor", configure_logs=False)

    @app.route("/floor")
    def floor() -> dict[str, Any]:
        return {"id": UserProfile.get(CREATOR, consistent_read=True).id}

    return app


def ws_event(route_key: str, connection_id: str, body: str | None = None, token: str | None = None) -> dict[str, Any]:
    """An API Gateway WebSocket proxy event (the shape ``tests/integration/sockets.py`` builds)."""
    settings = get_settings()
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
    domain = f"{settings.websocket_api_id}.execute-api.{settings.region}.amazonaws.com"
    event: dict[str, Any] = {
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "connectionId": connection_id,
            "apiId": settings.websocket_api_id,
            "stage": settings.websocket_stage,
            "domainName": domain,
            "requestTimeEpoch": int(time.time() * 1000),
            "messageId": f"m{next(_ids)}",
            "requestId": f"r{next(_ids)}",
        },
        "isBase64Encoded": False,
        "body": body,
    }
    if route_key == "$connect":
        event["queryStringParameters"] = {"token": token}
        event["headers"] = {"Host": domain}
    return event


@dataclass
class Harness:
    """The app under a test client, the floor, tokens, and the world that was seeded."""

    world: World
    client: Client
    floor: Client
    tokens: dict[str, str] = field(default_factory=dict)
    connections: dict[str, list[str]] = field(default_factory=dict)  # user -> open bench connections
    meter: Meter | None = None  # told which function each measured request invoked, and its bytes
    photo: bytes = b""  # a phone photo (COST_OPERATIONS), made once

    @classmethod
    def create(cls, world: World) -> Harness:
        from app import app

        return cls(world, Client(app, project_dir=str(ROOT)), Client(floor_app(), project_dir=str(ROOT)))

    def token(self, user: str) -> str:
        if user not in self.tokens:
            self.tokens[user] = issue_token(user, secret=get_settings().jwt_secret, ttl_seconds=TOKEN_TTL_SECONDS)
        return self.tokens[user]

    def http(self, method: str, path: str, user: str, body: Any = None, ok: tuple[int, ...] = (200, 201)) -> Any:
        headers = {"Authorization": f"Bearer {self.token(user)}", "Content-Type": "application/json"}
        payload = None if body is None else json.dumps(body)
        response = getattr(self.client.http, method.lower())(path, headers=headers, body=payload)
        if self.meter is not None:
            self.meter.note("api_handler", response_bytes=len(response.body or b""))
        if response.status_code not in ok:
            raise RequestFailed(f"{method} {path}: {response.status_code} {response.body[:300]!r}")
        return json.loads(response.body) if response.body else None

    def floor_call(self) -> None:
        response = self.floor.http.get("/floor")
        if response.status_code != 200:
            raise RequestFailed(f"floor: {response.status_code}")

    # --- sockets ---

    def invoke(self, handler: str, event: dict[str, Any]) -> dict[str, Any]:
        if self.meter is not None:
            self.meter.note(FUNCTIONS[handler], client_frame=event.get("body") if handler == "message" else None)
        payload = self.client.lambda_.invoke(handler, event).payload
        if handler == "on_upload":  # an S3 event handler answers nothing; a failure raises
            return {}
        if payload.get("statusCode") != 200:
            raise RequestFailed(f"{handler}: {payload}")
        return payload

    def connect(self, user: str) -> str:
        connection_id = f"{user}-bench{next(_ids)}="
        self.invoke("connect", ws_event("$connect", connection_id, token=self.token(user)))
        self.connections.setdefault(user, []).append(connection_id)
        return connection_id

    def frame(self, connection_id: str, action: str, **fields: Any) -> None:
        self.invoke("message", ws_event("$default", connection_id, body=json.dumps({"action": action, **fields})))

    def disconnect_all(self) -> None:
        for user_connections in self.connections.values():
            for connection_id in user_connections:
                self.invoke("disconnect", ws_event("$disconnect", connection_id))
        self.connections.clear()
        clear_frames()

    # --- data ---

    def send(self, user: str, content: str = "hello") -> dict[str, Any]:
        return self.http("POST", "/api/messages", user, {"conversationId": self.world.chat_id, "content": content})

    def fresh_buyer(self) -> str:
        buyer = f"buyer-{next(_ids)}"
        write_all(
            [UserProfile(buyer, name=buyer.title()), Purchase(buyer, PATTERN, purchased_at="2026-01-01T00:00:00.000Z")]
        )
        return buyer

    def sync_cursor(self) -> str:
        settings = get_settings()
        position = self.world.chat_feed_tail[-SYNC_BACK]
        return encode_cursor({"p": position, "x": True}, scope=f"sync:{CREATOR}", secret=settings.cursor_secret)


# The Chalice handler names the test client invokes -> the functions of .chalice/config.json.
FUNCTIONS = {
    "connect": "websocket_connect",
    "message": "websocket_message",
    "disconnect": "websocket_disconnect",
    "on_upload": "on_upload",
}


def clear_frames() -> None:
    """Forget what moto's @connections backend stored (it concatenates every frame posted to a connection)."""
    for backend in apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID].values():
        backend.connections.clear()


def _fan_out(size: int) -> tuple[Callable[[Harness], None], Callable[[Harness], None]]:
    def setup(h: Harness) -> None:
        for _ in range(size):
            h.frame(h.connect(CREATOR), "join_conversation", conversationId=h.world.chat_id)
        clear_frames()

    def teardown(h: Harness) -> None:
        h.disconnect_all()

    return setup, teardown


def _read_prepared(whole: bool) -> Callable[[Harness], Measured]:
    def prepare(h: Harness) -> Measured:
        message_id = h.send(BUYER)["message"]["id"]
        path = f"/api/messages/{message_id}/read"
        return Measured(lambda: h.http("PUT", path, CREATOR, {"markConversation": whole}))

    return prepare


def _join_setup(h: Harness) -> None:
    h.connect(CREATOR)


def _join(h: Harness) -> Measured:
    connection_id = h.connections[CREATOR][0]
    chat = h.world.chat_id

    def leave() -> None:
        h.frame(connection_id, "leave_conversation", conversationId=chat)
        clear_frames()

    return Measured(lambda: h.frame(connection_id, "join_conversation", conversationId=chat), leave)


def _typing_setup(h: Harness) -> None:
    for user in (CREATOR, BUYER):
        h.frame(h.connect(user), "join_conversation", conversationId=h.world.chat_id)
    clear_frames()


def _typing(h: Harness) -> Measured:
    connection_id = h.connections[BUYER][0]
    return Measured(lambda: h.frame(connection_id, "typing_start", conversationId=h.world.chat_id), clear_frames)


def _send_rest(h: Harness) -> Measured:
    return Measured(lambda: h.send(BUYER), clear_frames)


def _disconnect_all(h: Harness) -> None:
    h.disconnect_all()


FAN_OUT_2 = _fan_out(2)
FAN_OUT_50 = _fan_out(50)

OPERATIONS: list[Operation] = [
    Operation(
        "list conversations",
        "GET /api/messages (first page, 20)",
        lambda h: Measured(lambda: h.http("GET", "/api/messages", CREATOR)),
    ),
    Operation(
        "conversations + totalUnread",
        "GET /api/messages/conversations",
        lambda h: Measured(lambda: h.http("GET", "/api/messages/conversations", CREATOR)),
    ),
    Operation(
        "conversation detail",
        "GET /api/messages?conversationId= (newest 50)",
        lambda h: Measured(lambda: h.http("GET", f"/api/messages?conversationId={h.world.chat_id}", CREATOR)),
    ),
    Operation(
        "history page",
        f"…&before=<message {HISTORY_BEFORE_SEQ}> (the oldest page)",
        lambda h: Measured(
            lambda: h.http(
                "GET",
                f"/api/messages?conversationId={h.world.chat_id}"
                f"&before={message_id_for(h.world.chat_id, HISTORY_BEFORE_SEQ)}",
                CREATOR,
            )
        ),
    ),
    Operation("send (REST)", "POST /api/messages, nobody connected", _send_rest),
    Operation(
        "send, fan-out to 2",
        "POST /api/messages; the recipient has 2 connections in the room",
        _send_rest,
        *FAN_OUT_2,
    ),
    Operation(
        "send, fan-out to 50",
        "POST /api/messages; the recipient has 50 connections in the room",
        _send_rest,
        *FAN_OUT_50,
    ),
    Operation("mark read", "PUT /api/messages/{id}/read", _read_prepared(False)),
    Operation("mark conversation read", "PUT …/read {markConversation: true}", _read_prepared(True)),
    Operation(
        "pattern get-or-create (existing)",
        "GET /api/messages/pattern/p1?creatorId=alice",
        lambda h: Measured(lambda: h.http("GET", f"/api/messages/pattern/{PATTERN}?creatorId={CREATOR}", BUYER)),
    ),
    Operation(
        "pattern get-or-create (create)",
        "GET /api/messages/pattern/p1 by a new buyer (no creatorId)",
        lambda h: (lambda buyer: Measured(lambda: h.http("GET", f"/api/messages/pattern/{PATTERN}", buyer)))(
            h.fresh_buyer()
        ),
    ),
    Operation("join", "socket join_conversation (then leave, unmeasured)", _join, _join_setup, _disconnect_all),
    Operation("typing", "socket typing_start; 1 other connection in the room", _typing, _typing_setup, _disconnect_all),
    Operation(
        "sync",
        "GET /api/messages/sync?since= (a full page of 50)",
        lambda h: (lambda path: Measured(lambda: h.http("GET", path, CREATOR)))(
            f"/api/messages/sync?since={h.sync_cursor()}"
        ),
    ),
]


# --- what only the cost model needs (bench/cost.py) --------------------------------------------------------------

PHOTO_SIZE = (4032, 3024)  # a 12-megapixel phone photo


def phone_photo() -> bytes:
    """A 12-megapixel JPEG of about 2 MB (noise over a gradient: it compresses like a photo, not like a drawing)."""
    from PIL import Image, ImageFilter

    base = Image.linear_gradient("L").resize(PHOTO_SIZE)
    channels = [Image.effect_noise(PHOTO_SIZE, s).filter(ImageFilter.GaussianBlur(1.2)) for s in (40, 50, 60)]
    image = Image.merge("RGB", [Image.blend(base, channel, 0.5) for channel in channels])
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def _ticket(h: Harness) -> dict[str, Any]:
    if not h.photo:
        h.photo = phone_photo()
    body = {"conversationId": h.world.chat_id, "fileName": "blanket.jpg", "contentType": "image/jpeg"}
    return h.http("POST", "/api/attachments", BUYER, {**body, "size": len(h.photo)})


def _uploaded(h: Harness) -> dict[str, Any]:
    """A photo requested and uploaded by the buyer (the browser's presigned POST), not yet processed."""
    ticket = _ticket(h)
    form = ticket["upload"]
    stored = requests.post(form["url"], data=form["fields"], files={"file": ("blanket.jpg", h.photo, "image/jpeg")})
    if stored.status_code not in (200, 204):
        raise RequestFailed(f"upload: {stored.status_code} {stored.text[:300]}")
    return ticket


def _process(h: Harness, ticket: dict[str, Any]) -> None:
    event = h.client.events.generate_s3_event(
        bucket=get_settings().attachments_bucket, key=ticket["upload"]["fields"]["key"]
    )
    h.invoke("on_upload", event)


def _connected(*users: str, joined: tuple[bool, ...] = ()) -> Callable[[Harness], None]:
    """Setup: a connection per user, each joined to the chat unless ``joined`` says otherwise."""

    def setup(h: Harness) -> None:
        for index, user in enumerate(users):
            connection_id = h.connect(user)
            if joined[index] if index < len(joined) else True:
                h.frame(connection_id, "join_conversation", conversationId=h.world.chat_id)
        clear_frames()

    return setup


def _socket_send(h: Harness) -> Measured:
    connection_id = h.connections[BUYER][0]
    return Measured(
        lambda: h.frame(connection_id, "new_message", conversationId=h.world.chat_id, content="hello"), clear_frames
    )


def _connect(h: Harness) -> Measured:
    return Measured(lambda: h.connect(CREATOR), h.disconnect_all)


def _disconnect(h: Harness) -> Measured:
    connection_id = h.connect(CREATOR)

    def measured() -> None:
        h.invoke("disconnect", ws_event("$disconnect", connection_id))
        h.connections[CREATOR].remove(connection_id)

    return Measured(measured, clear_frames)


def _ping(h: Harness) -> Measured:
    connection_id = h.connections[CREATOR][0]
    return Measured(lambda: h.frame(connection_id, "ping"), clear_frames)


def _photo_processing(h: Harness) -> Measured:
    ticket = _uploaded(h)
    return Measured(lambda: _process(h, ticket), clear_frames)


def _send_photo(h: Harness) -> Measured:
    ticket = _uploaded(h)
    _process(h, ticket)
    body = {"conversationId": h.world.chat_id, "content": "", "attachment": {"attachmentId": ticket["attachmentId"]}}
    return Measured(lambda: h.http("POST", "/api/messages", BUYER, body), clear_frames)


COST_OPERATIONS: list[Operation] = [
    Operation(
        "socket connect", "$connect with a token (then $disconnect, unmeasured)", _connect, None, _disconnect_all
    ),
    Operation(
        "socket disconnect", "$disconnect of a connection that joined nothing", _disconnect, None, _disconnect_all
    ),
    Operation("ping", "socket ping", _ping, _connected(CREATOR), _disconnect_all),
    Operation(
        "socket send, recipient on 1 device",
        "new_message frame; the sender and the recipient in the room",
        _socket_send,
        _connected(BUYER, CREATOR),
        _disconnect_all,
    ),
    Operation(
        "socket send, recipient on 2 devices",
        "new_message frame; the recipient's second device not in the room",
        _socket_send,
        _connected(BUYER, CREATOR, CREATOR, joined=(True, True, False)),
        _disconnect_all,
    ),
    Operation(
        "photo upload request",
        "POST /api/attachments (a presigned POST for a 2 MB JPEG)",
        lambda h: Measured(lambda: _ticket(h)),
    ),
    Operation("photo processing", "on_upload: re-encode a 12-megapixel JPEG, thumbnail", _photo_processing),
    Operation("send with photo", "POST /api/messages with the processed photo", _send_photo),
]
