"""A local stand-in for API Gateway's WebSocket API, running the app's own Chalice WebSocket handlers.

``chalice local`` serves no WebSockets, so the dev stack runs this gateway next to it. Clients connect to
``ws://127.0.0.1:DEV_WS_PORT/?token=<JWT>`` (default port 8001; any path is accepted, like a stage). For each
socket the gateway calls the handlers Chalice registered on the app (``app.handler_map[...]``, exactly what
Lambda would invoke) with API Gateway-shaped events:

- ``$connect`` runs before the upgrade is accepted; a non-2xx ``statusCode`` refuses it with that HTTP status.
- every frame is routed by ``$request.body.action`` to the app's handler for that route key, else ``$default``;
- ``$disconnect`` follows whenever a socket closes, whichever side closes it.

API Gateway's limits hold: 128 KB messages (larger ones close the socket with 1009), an idle timeout
(``DEV_WS_IDLE_TIMEOUT_SECONDS``, default 600) and a maximum connection duration
(``DEV_WS_MAX_CONNECTION_SECONDS``, default 7200); both of the latter close with 1001. Only client frames count
as activity.

Frames are dispatched as API Gateway dispatches them: each one is its own invocation, and the frames of one
connection run concurrently, in no guaranteed order, so that the races production meets (two joins reading the
same connection, a typing_stop overtaking its typing_start) are met locally too. Bounds: at most
``FRAMES_PER_CONNECTION`` (8) frames of one connection in flight, beyond which the gateway stops reading that
socket until one finishes (its TCP buffer then pushes back on the client), and at most ``HANDLER_THREADS`` (16)
handlers running at once overall, the stand-in for a Lambda concurrency limit (the others wait their turn).
``$disconnect`` follows the close of a socket without waiting for that socket's frames still in flight, as on AWS.

The ``@connections`` management API (``POST``/``GET``/``DELETE /@connections/{id}``) listens on a second port,
``http://127.0.0.1:DEV_WS_MANAGEMENT_PORT`` (default 8003; dev/stack.py reads both port variables), because
websockets' HTTP parser refuses request bodies and ``PostToConnection`` has one. That URL is the
``endpoint_url`` of boto3's ``apigatewaymanagementapi`` client, unchanged (any path prefix, such as a stage, is
accepted too; signatures are not checked), so ``configure_app_environment`` points the app's own delivery code
at it through ``WEBSOCKET_MANAGEMENT_URL``.

A dev-only ``X-Connection-Id`` header on the 101 response tells a client its connection id, for poking at
the management API by hand.

Threads: the WebSocket server runs on its own asyncio loop in a thread; handlers (synchronous, blocking
boto3 I/O) run in a thread pool so a slow one stalls no other frame; the management API is a
``ThreadingHTTPServer`` whose threads hand frames to the loop with ``run_coroutine_threadsafe``.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import errno
import http
import json
import logging
import secrets
import string
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, MutableMapping
from dataclasses import dataclass, field
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from chalice.local import LambdaContext
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

if TYPE_CHECKING:
    from chalice import Chalice

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_WS_PORT = 8001
DEFAULT_MANAGEMENT_PORT = 8003
IDLE_TIMEOUT_ENV = "DEV_WS_IDLE_TIMEOUT_SECONDS"
MAX_CONNECTION_ENV = "DEV_WS_MAX_CONNECTION_SECONDS"
MANAGEMENT_URL_ENV = "WEBSOCKET_MANAGEMENT_URL"  # read by chalicelib/settings.py
CONNECTION_ID_HEADER = "X-Connection-Id"

MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's message payload limit, both ways
INTEGRATION_TIMEOUT_SECONDS = 29  # API Gateway gives up on a handler after 29 s
SEND_TIMEOUT_SECONDS = 5  # a client that does not read for this long gets LimitExceededException
CLOSE_TIMEOUT_SECONDS = 3
START_TIMEOUT_SECONDS = 10
STOP_TIMEOUT_SECONDS = 10
KEEP_ALIVE_SECONDS = 30
HANDLER_THREADS = 16  # handlers running at once, all sockets together
FRAMES_PER_CONNECTION = 8  # frames of one socket in flight at once
API_ID = "localwsapi"  # looks like an API Gateway id; only event consumers see it
LAMBDA_MEMORY_MB = 128

Handler = Callable[[dict[str, Any], Any], Any]
T = TypeVar("T")


class PortInUse(Exception):
    """A gateway port is taken (the caller knows which variable moves it)."""

    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} is already in use")
        self.port = port


class GatewayClosed(Exception):
    """The WebSocket side has stopped (or does not answer): every connection counts as gone."""


@dataclass(frozen=True)
class Limits:
    """API Gateway's connection limits, shortened by tests."""

    idle_timeout_seconds: float = 600.0
    max_connection_seconds: float = 7200.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Limits:
        """Read ``DEV_WS_IDLE_TIMEOUT_SECONDS`` / ``DEV_WS_MAX_CONNECTION_SECONDS``; ValueError names a bad one."""
        defaults = cls()
        return cls(
            _seconds(environ, IDLE_TIMEOUT_ENV, defaults.idle_timeout_seconds),
            _seconds(environ, MAX_CONNECTION_ENV, defaults.max_connection_seconds),
        )


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{name}={raw!r} is not a positive number of seconds")
    return value


def configure_app_environment(environ: MutableMapping[str, str], management_url: str) -> None:
    """Point the app's ``@connections`` delivery (chalicelib/realtime/gateway.py) at this gateway.

    The app reads ``WEBSOCKET_MANAGEMENT_URL`` through the lru_cached ``get_settings()``: clearing the cache
    makes the new value count even if settings were read already.
    """
    environ[MANAGEMENT_URL_ENV] = management_url
    from chalicelib.settings import get_settings

    get_settings.cache_clear()


_ID_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    """An id shaped like API Gateway's connection and message ids (``L0SM9cOFvHcCIhw=``).

    Alphanumeric only, so that it needs no escaping in an ``@connections`` path.
    """
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(15)) + "="


def _iso(epoch_seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_seconds)) + f".{int(epoch_seconds * 1000) % 1000:03d}Z"


# --- events ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    """What API Gateway puts in every event about itself."""

    api_id: str
    stage: str
    domain_name: str


@dataclass
class Session:
    """One socket, from an accepted ``$connect`` until it closes."""

    connection_id: str
    connection: ServerConnection
    source_ip: str
    user_agent: str
    connected_at: float = field(default_factory=time.time)  # epoch seconds, for events and GetConnection
    last_active_at: float = field(default_factory=time.time)
    opened: float = field(default_factory=time.monotonic)  # loop time, for the limits
    last_active: float = field(default_factory=time.monotonic)
    frames: asyncio.Semaphore | None = None  # this socket's frames in flight (set when it opens, on the loop)

    def touch(self) -> None:
        self.last_active_at, self.last_active = time.time(), time.monotonic()

    def describe(self) -> dict[str, Any]:
        """``GetConnection``'s answer, with the wire names of botocore's model."""
        return {
            "connectedAt": _iso(self.connected_at),
            "identity": {"sourceIp": self.source_ip, "userAgent": self.user_agent},
            "lastActiveAt": _iso(self.last_active_at),
        }


def request_context(api: Api, session: Session, route_key: str, event_type: str) -> dict[str, Any]:
    now = time.time()
    request_id = new_id()
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "messageDirection": "IN",
        "stage": api.stage,
        "connectedAt": int(session.connected_at * 1000),
        "requestTimeEpoch": int(now * 1000),
        "identity": {"sourceIp": session.source_ip, "userAgent": session.user_agent},
        "requestId": request_id,
        "domainName": api.domain_name,
        "connectionId": session.connection_id,
        "apiId": api.api_id,
    }


def connect_event(api: Api, session: Session, request: Request) -> dict[str, Any]:
    """``$connect``: the handshake's headers and query string, as API Gateway passes them."""
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers.raw_items():
        multi_headers.setdefault(name, []).append(value)
    multi_headers.setdefault("X-Forwarded-For", [session.source_ip])
    query = parse_qs(urlsplit(request.path).query, keep_blank_values=True)
    return {
        "headers": {name: values[-1] for name, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "requestContext": request_context(api, session, "$connect", "CONNECT"),
        "isBase64Encoded": False,
    }


def message_event(api: Api, session: Session, route_key: str, message: str | bytes) -> dict[str, Any]:
    """A client frame: text as is, binary base64-encoded."""
    context = {**request_context(api, session, route_key, "MESSAGE"), "messageId": new_id()}
    if isinstance(message, bytes):
        return {"requestContext": context, "body": base64.b64encode(message).decode(), "isBase64Encoded": True}
    return {"requestContext": context, "body": message, "isBase64Encoded": False}


def disconnect_event(api: Api, session: Session, code: int, reason: str) -> dict[str, Any]:
    context = request_context(api, session, "$disconnect", "DISCONNECT")
    context.update(disconnectStatusCode=code, disconnectReason=reason)
    return {
        "headers": {"Host": api.domain_name, "X-Forwarded-For": session.source_ip},
        "multiValueHeaders": {"Host": [api.domain_name], "X-Forwarded-For": [session.source_ip]},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def _action(message: str | bytes) -> str | None:
    """``$request.body.action``: the frame's top-level ``action`` when the frame is a JSON object."""
    try:
        frame = json.loads(message)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    action = frame.get("action") if isinstance(frame, dict) else None
    return action if isinstance(action, str) else None


class Routes:
    """The app's WebSocket handlers by route key, as Chalice wrapped them for Lambda."""

    def __init__(self, app: Chalice, stage: str) -> None:
        configs = app.websocket_handlers
        self._handlers: dict[str, Handler] = {key: app.handler_map[cfg.name] for key, cfg in configs.items()}
        self._function_names = {key: f"{app.app_name}-{stage}-{cfg.name}" for key, cfg in configs.items()}

    def handler(self, route_key: str) -> Handler | None:
        return self._handlers.get(route_key)

    def function_name(self, route_key: str) -> str:
        return self._function_names[route_key]

    def select(self, message: str | bytes) -> str | None:
        """The route for a frame: its action's route if the app has one, else ``$default`` (None: neither)."""
        action = _action(message)
        if action is not None and not action.startswith("$") and action in self._handlers:
            return action
        return "$default" if "$default" in self._handlers else None


# --- the gateway ---------------------------------------------------------------------------------------------


class PostOutcome(Enum):
    DELIVERED = "delivered"
    GONE = "gone"
    CLIENT_BUSY = "client_busy"  # the client's buffer stays full


class LocalWebSocketGateway:
    """The WebSocket API and its ``@connections`` API; ``start()`` binds both, ``stop()`` undoes everything.

    Port 0 picks a free port (read ``port`` / ``management_port`` after ``start()``).
    """

    def __init__(
        self,
        app: Chalice,
        *,
        host: str = HOST,
        port: int = DEFAULT_WS_PORT,
        management_port: int = DEFAULT_MANAGEMENT_PORT,
        stage: str = "local",
        limits: Limits | None = None,
        frames_per_connection: int = FRAMES_PER_CONNECTION,
        handler_threads: int = HANDLER_THREADS,
    ) -> None:
        self.host, self.port, self.management_port = host, port, management_port
        self.stage = stage
        self.limits = limits or Limits()
        self.frames_per_connection = frames_per_connection
        self._routes = Routes(app, stage)
        self._executor = concurrent.futures.ThreadPoolExecutor(handler_threads, thread_name_prefix="ws-lambda")
        # Touched only on the loop's thread: management threads go through run_coroutine_threadsafe.
        self._sessions: dict[str, Session] = {}
        self._opening: dict[ServerConnection, Session] = {}
        self._watchers: set[asyncio.Task[None]] = set()  # $disconnect invocations, closes, frames in flight
        self._in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        # Created here rather than on the loop, so that stop() can set it even before the server is up.
        self._stopping = asyncio.Event()
        self._loop_thread: threading.Thread | None = None
        self._http: ThreadingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def frames_in_flight(self) -> int:
        """Frames read from the sockets whose handler has not finished yet."""
        return self._in_flight

    @property
    def management_url(self) -> str:
        return f"http://{self.host}:{self.management_port}"

    @property
    def api(self) -> Api:
        return Api(API_ID, self.stage, f"{self.host}:{self.port}")

    # --- lifecycle (any thread) ---

    def start(self) -> None:
        """Bind the management API, then the WebSocket server; raises PortInUse naming the taken port."""
        try:
            self._http = _ManagementServer((self.host, self.management_port), self)
        except OSError as exc:
            raise _port_error(exc, self.management_port) from None
        self.management_port = self._http.server_address[1]
        self._loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._loop_thread = threading.Thread(target=self._run_loop, args=(ready,), name="ws-gateway", daemon=True)
        self._loop_thread.start()
        try:
            ready.result(START_TIMEOUT_SECONDS)
        except OSError as exc:
            self.stop()
            raise _port_error(exc, self.port) from None
        except BaseException:
            self.stop()
            raise
        self._http_thread = threading.Thread(target=self._http.serve_forever, name="ws-management", daemon=True)
        self._http_thread.start()
        logger.info("WebSocket gateway on %s, @connections API on %s", self.url, self.management_url)

    def stop(self) -> None:
        """Close every socket (each gets its ``$disconnect``), then the management API; safe to call twice."""
        loop = self._loop
        if self._loop_thread is not None:
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._stopping.set)
            self._loop_thread.join(STOP_TIMEOUT_SECONDS)
            self._loop_thread = None
        # The management API outlives the sockets: $disconnect handlers still post presence updates.
        if self._http is not None:
            if self._http_thread is not None:
                self._http.shutdown()
                self._http_thread.join(STOP_TIMEOUT_SECONDS)
                self._http_thread = None
            self._http.server_close()
            self._http = None
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _run_loop(self, ready: concurrent.futures.Future[None]) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve(ready))
        finally:
            self._loop.close()

    async def _serve(self, ready: concurrent.futures.Future[None]) -> None:
        try:
            server = await self._create_server()
        except BaseException as exc:
            ready.set_exception(exc)
            return
        self.port = server.sockets[0].getsockname()[1]
        ready.set_result(None)
        await self._stopping.wait()
        server.close()  # 1001 to open sockets, 503 to handshakes in progress; waits for the handlers
        await server.wait_closed()
        if self._watchers:  # the $disconnect of every socket just closed, and frames still in flight
            await asyncio.wait(self._watchers, timeout=STOP_TIMEOUT_SECONDS)

    def _create_server(self) -> Server:
        return serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            process_response=self._process_response,
            compression=None,  # API Gateway negotiates no permessage-deflate
            max_size=MAX_MESSAGE_BYTES,  # websockets closes with 1009 beyond it, as API Gateway does
            ping_interval=None,  # API Gateway sends no keepalive pings; clients must stay active themselves
            open_timeout=INTEGRATION_TIMEOUT_SECONDS + 5,  # $connect runs inside the handshake
            close_timeout=CLOSE_TIMEOUT_SECONDS,
        )

    # --- WebSocket side (loop thread) ---

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Run ``$connect`` before the upgrade: accept on 2xx, refuse with its status otherwise."""
        if "websocket" not in request.headers.get("Upgrade", "").lower():
            return None  # not a WebSocket handshake: websockets answers 426 and no $connect runs
        source_ip = str(connection.remote_address[0]) if connection.remote_address else ""
        session = Session(new_id(), connection, source_ip, request.headers.get("User-Agent", ""))
        status = await self._connect(session, request)
        if not 200 <= status < 300:
            return connection.respond(status, _phrase(status) + "\n")
        self._opening[connection] = session
        # From here on the socket is the app's: whatever happens to it, $disconnect follows once it closes.
        watcher = asyncio.create_task(self._disconnect_when_closed(session))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        return None

    async def _connect(self, session: Session, request: Request) -> int:
        if self._routes.handler("$connect") is None:
            return 200
        try:
            response = await self._invoke("$connect", connect_event(self.api, session, request))
        except TimeoutError:
            logger.error("$connect %s timed out after %s s", session.connection_id, INTEGRATION_TIMEOUT_SECONDS)
            return 504
        except Exception:
            logger.exception("$connect %s failed", session.connection_id)
            return 500
        status = _status_of(response)
        logger.info("$connect %s -> %s", session.connection_id, status)
        return status

    def _process_response(self, connection: ServerConnection, request: Request, response: Response) -> None:
        session = self._opening.get(connection)
        if session is not None and response.status_code == http.HTTPStatus.SWITCHING_PROTOCOLS:
            response.headers[CONNECTION_ID_HEADER] = session.connection_id

    async def _handle(self, connection: ServerConnection) -> None:
        """An open socket: register it for the management API, then pass its frames to the app."""
        session = self._opening.pop(connection, None)
        if session is None:  # cannot happen: websockets only opens sockets that process_request let through
            await connection.close(CloseCode.INTERNAL_ERROR, "no $connect")
            return
        self._sessions[session.connection_id] = session
        session.frames = asyncio.Semaphore(self.frames_per_connection)
        try:
            await self._receive(session)
        finally:
            self._forget(session)

    async def _receive(self, session: Session) -> None:
        connection = session.connection
        while True:
            idle_deadline = session.last_active + self.limits.idle_timeout_seconds
            age_deadline = session.opened + self.limits.max_connection_seconds
            try:
                # Loop time is time.monotonic(), like the session's timestamps. Cancelling recv() loses nothing.
                async with asyncio.timeout_at(min(idle_deadline, age_deadline)):
                    message = await connection.recv()
            except TimeoutError:
                reason = "idle timeout" if idle_deadline <= age_deadline else "maximum connection duration"
                await connection.close(CloseCode.GOING_AWAY, reason)
                return
            except ConnectionClosed:  # either side closed, or the frame was too big (1009)
                return
            session.touch()
            await self._dispatch(session, message)

    async def _dispatch(self, session: Session, message: str | bytes) -> None:
        """Run the frame's handler on its own, as API Gateway invokes a Lambda per frame; wait first while this
        socket has ``frames_per_connection`` frames in flight (the next frame is not read until then)."""
        assert session.frames is not None
        await session.frames.acquire()
        self._in_flight += 1

        async def handle() -> None:
            try:
                await self._on_message(session, message)
            finally:
                self._in_flight -= 1
                assert session.frames is not None
                session.frames.release()

        task = asyncio.create_task(handle())
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _on_message(self, session: Session, message: str | bytes) -> None:
        route_key = self._routes.select(message)
        if route_key is None:
            await self._send_gateway_error(session, "Forbidden")  # API Gateway's answer when no route matches
            return
        size = len(message.encode()) if isinstance(message, str) else len(message)
        logger.info("%s %s (%d bytes)", route_key, session.connection_id, size)
        try:
            await self._invoke(route_key, message_event(self.api, session, route_key, message))
        except TimeoutError:
            await self._send_gateway_error(session, "Endpoint request timed out")
        except Exception:
            logger.exception("%s %s failed", route_key, session.connection_id)
            await self._send_gateway_error(session, "Internal server error")

    async def _send_gateway_error(self, session: Session, text: str) -> None:
        frame = {"message": text, "connectionId": session.connection_id, "requestId": new_id()}
        with contextlib.suppress(ConnectionClosed):
            await session.connection.send(json.dumps(frame))

    async def _disconnect_when_closed(self, session: Session) -> None:
        connection = session.connection
        await connection.wait_closed()
        self._opening.pop(connection, None)
        self._forget(session)
        if self._routes.handler("$disconnect") is None:
            return
        code, reason = _close_status(connection)
        try:
            await self._invoke("$disconnect", disconnect_event(self.api, session, code, reason))
            logger.info("$disconnect %s (%s)", session.connection_id, f"{code} {reason}".strip())
        except Exception:
            logger.exception("$disconnect %s failed", session.connection_id)

    def _forget(self, session: Session) -> None:
        if self._sessions.get(session.connection_id) is session:
            del self._sessions[session.connection_id]

    async def _invoke(self, route_key: str, event: dict[str, Any]) -> Any:
        """Call the handler as Lambda would, in a worker thread, within API Gateway's integration timeout."""
        handler = self._routes.handler(route_key)
        assert handler is not None
        context = LambdaContext(
            self._routes.function_name(route_key), LAMBDA_MEMORY_MB, INTEGRATION_TIMEOUT_SECONDS * 1000
        )
        call = asyncio.get_running_loop().run_in_executor(self._executor, handler, event, context)
        return await asyncio.wait_for(call, INTEGRATION_TIMEOUT_SECONDS)

    # --- @connections (management threads) ---

    def post(self, connection_id: str, data: bytes) -> PostOutcome:
        """PostToConnection: a text frame when ``data`` is UTF-8, else a binary one."""
        try:
            return self._in_loop(self._post(connection_id, data), SEND_TIMEOUT_SECONDS + 1)
        except GatewayClosed:
            return PostOutcome.GONE

    def describe(self, connection_id: str) -> dict[str, Any] | None:
        """GetConnection (None: gone)."""
        try:
            return self._in_loop(self._describe(connection_id), SEND_TIMEOUT_SECONDS)
        except GatewayClosed:
            return None

    def delete(self, connection_id: str) -> bool:
        """DeleteConnection: False when there was no such connection."""
        try:
            return self._in_loop(self._delete(connection_id), SEND_TIMEOUT_SECONDS)
        except GatewayClosed:
            return False

    def _in_loop(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        loop = self._loop
        if loop is None or loop.is_closed():
            coroutine.close()
            raise GatewayClosed
        try:
            future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        except RuntimeError:  # the loop closed in between
            coroutine.close()
            raise GatewayClosed from None
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise GatewayClosed from None

    async def _post(self, connection_id: str, data: bytes) -> PostOutcome:
        session = self._sessions.get(connection_id)
        if session is None:
            return PostOutcome.GONE
        try:
            payload: str | bytes = data.decode("utf-8")
        except UnicodeDecodeError:
            payload = data
        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                await session.connection.send(payload)
        except ConnectionClosed:
            return PostOutcome.GONE
        except TimeoutError:
            return PostOutcome.CLIENT_BUSY
        return PostOutcome.DELIVERED

    async def _describe(self, connection_id: str) -> dict[str, Any] | None:
        session = self._sessions.get(connection_id)
        return session.describe() if session is not None else None

    async def _delete(self, connection_id: str) -> bool:
        session = self._sessions.pop(connection_id, None)
        if session is None:
            return False
        # Forgotten at once, so that posts right after the delete are gone; the close itself runs on its own.
        task = asyncio.create_task(session.connection.close(CloseCode.NORMAL_CLOSURE, "connection deleted"))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)
        return True


def _close_status(connection: ServerConnection) -> tuple[int, str]:
    """``disconnectStatusCode`` and reason: the close frame of whichever side closed first (1006: none)."""
    protocol = connection.protocol
    sent, received = protocol.close_sent, protocol.close_rcvd
    first = received if sent is None or protocol.close_rcvd_then_sent else sent
    return (int(first.code), first.reason) if first is not None else (int(CloseCode.ABNORMAL_CLOSURE), "")


def _status_of(response: Any) -> int:
    """The ``statusCode`` of a handler's answer (Chalice defaults to 200)."""
    try:
        return int(response.get("statusCode", 200)) if isinstance(response, dict) else 200
    except (TypeError, ValueError):
        return 502


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Refused"


def _port_error(exc: OSError, port: int) -> Exception:
    return PortInUse(port) if exc.errno == errno.EADDRINUSE else exc


# --- the @connections management API -------------------------------------------------------------------------


class _ManagementServer(ThreadingHTTPServer):
    daemon_threads = True  # keep-alive connections of boto3's pool must not hold up the shutdown

    def __init__(self, address: tuple[str, int], gateway: LocalWebSocketGateway) -> None:
        super().__init__(address, _ManagementHandler)
        self.gateway = gateway


class _ManagementHandler(BaseHTTPRequestHandler):
    """``/@connections/{id}`` with botocore's wire format; errors carry ``x-amzn-ErrorType`` for botocore."""

    protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects
    timeout = KEEP_ALIVE_SECONDS
    server: _ManagementServer

    def do_POST(self) -> None:
        data = self._body()
        connection_id = self._connection_id()
        if connection_id is None:
            self._not_found()
        elif len(data) > MAX_MESSAGE_BYTES:
            self._error(413, "PayloadTooLargeException", "Message too long")
        else:
            outcome = self.server.gateway.post(connection_id, data)
            if outcome is PostOutcome.DELIVERED:
                self._reply(200)
            elif outcome is PostOutcome.CLIENT_BUSY:
                self._error(429, "LimitExceededException", "the client's buffer is full")
            else:
                self._gone(connection_id)

    def do_GET(self) -> None:
        self._body()
        connection_id = self._connection_id()
        if connection_id is None:
            self._not_found()
        elif (description := self.server.gateway.describe(connection_id)) is None:
            self._gone(connection_id)
        else:
            self._reply(200, description)

    def do_DELETE(self) -> None:
        self._body()
        connection_id = self._connection_id()
        if connection_id is None:
            self._not_found()
        elif self.server.gateway.delete(connection_id):
            self._reply(204)
        else:
            self._gone(connection_id)

    def _connection_id(self) -> str | None:
        """The id of ``[/<stage>]/@connections/{id}``, percent-decoded (boto3 sends ``=`` as ``%3D``)."""
        segments = urlsplit(self.path).path.split("/")
        if len(segments) < 3 or unquote(segments[-2]) != "@connections" or not segments[-1]:
            return None
        return unquote(segments[-1])

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _gone(self, connection_id: str) -> None:
        self._error(410, "GoneException", f"connection {connection_id} is gone")

    def _not_found(self) -> None:
        self._error(404, "NotFoundException", "use /@connections/{connectionId}")

    def _error(self, status: int, error_type: str, message: str) -> None:
        # botocore's rest-json parser takes the error code from this header, the message from the body.
        self._reply(status, {"message": message}, {"x-amzn-ErrorType": error_type})

    def _reply(self, status: int, body: dict[str, Any] | None = None, headers: Mapping[str, str] | None = None) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", new_id())
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("@connections %s", format % args)
