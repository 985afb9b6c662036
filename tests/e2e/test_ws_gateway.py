"""dev/ws_gateway.py in-process, against a tiny Chalice app that records the events its handlers get.

Faster than a whole stack, and the place for what the app itself cannot show: event shapes, route selection,
thread pool, frames of one socket running concurrently within their bounds, short idle and duration limits.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import boto3
import pytest
import requests
from chalice import Chalice
from chalice.app import WebsocketEvent
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chalicelib.adapters.connections import ConnectionsClient
from chalicelib.domain.delivery import Outcome
from chalicelib.settings import get_settings
from dev.ws_gateway import (
    MANAGEMENT_URL_ENV,
    MAX_MESSAGE_BYTES,
    Limits,
    LocalWebSocketGateway,
    PortInUse,
    configure_app_environment,
)
from tests.e2e.ws_client import LiveSocket, open_socket

pytestmark = pytest.mark.e2e

GOOD_TOKEN = "letmein"
SLOW_SECONDS = 1.5
WAIT_SECONDS = 5


def app_connections(url: str) -> ConnectionsClient:
    """The app's own ``@connections`` adapter, pointed at the local gateway."""
    return ConnectionsClient(replace(get_settings(), websocket_management_url=url))


def management_client(endpoint_url: str) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


class FakeApp:
    """A Chalice app with the three WebSocket handlers and a ``shout`` route; every event is recorded.

    Frames are answered with an ``echo`` event through the gateway's @connections API, as the real app does.
    """

    def __init__(self) -> None:
        self.app = Chalice(app_name="fake-ws")
        self.app.experimental_feature_flags.update(["WEBSOCKETS"])
        self.events: list[dict[str, Any]] = []
        self._client: Any = None
        # "hold" frames: their handlers wait for ``release``; ``holding`` counts them, ``peak`` its maximum.
        self.release = threading.Event()
        self.holding = 0
        self.peak = 0
        self._lock = threading.Lock()
        self.app.on_ws_connect()(self._connect)
        self.app.on_ws_message()(self._message)
        self.app.on_ws_disconnect()(self._disconnect)
        # Chalice's decorators register only $default; API Gateway apps may route more keys by action.
        self.app._create_registration_function("on_ws_message", "shout", {"route_key": "shout"})(self._message)

    @contextmanager
    def serve(self, limits: Limits | None = None, **bounds: int) -> Iterator[LocalWebSocketGateway]:
        gateway = LocalWebSocketGateway(self.app, port=0, management_port=0, limits=limits, **bounds)
        gateway.start()
        self._client = management_client(gateway.management_url)
        try:
            yield gateway
        finally:
            gateway.stop()

    def _connect(self, event: WebsocketEvent) -> dict[str, Any]:
        self.events.append(event.to_dict())
        token = (event.to_dict().get("queryStringParameters") or {}).get("token")
        return {"statusCode": 200 if token == GOOD_TOKEN else 403}

    def _message(self, event: WebsocketEvent) -> None:
        raw = event.to_dict()
        self.events.append(raw)
        if event.body == "slow":
            time.sleep(SLOW_SECONDS)
        if event.body == "boom":
            raise RuntimeError("the handler failed")
        if event.body == "hold":
            with self._lock:
                self.holding += 1
                self.peak = max(self.peak, self.holding)
            try:
                assert self.release.wait(WAIT_SECONDS), "never released"
            finally:
                with self._lock:
                    self.holding -= 1
        echo = {key: raw[key] for key in ("body", "isBase64Encoded")}
        echo.update(routeKey=raw["requestContext"]["routeKey"], messageId=raw["requestContext"]["messageId"])
        frame = json.dumps({"event": "echo", "data": echo}).encode()
        self._client.post_to_connection(ConnectionId=event.connection_id, Data=frame)

    def _disconnect(self, event: WebsocketEvent) -> None:
        self.events.append(event.to_dict())

    def events_of(self, route_key: str, connection_id: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e["requestContext"]["routeKey"] == route_key and e["requestContext"]["connectionId"] == connection_id
        ]

    def wait_for(self, route_key: str, connection_id: str, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not (found := self.events_of(route_key, connection_id)):
            assert time.monotonic() < deadline, f"no {route_key} for {connection_id} within {timeout} s"
            time.sleep(0.02)
        return found[-1]


@pytest.fixture(scope="module")
def fake() -> FakeApp:
    return FakeApp()


@pytest.fixture(scope="module")
def gateway(fake: FakeApp) -> Iterator[LocalWebSocketGateway]:
    with fake.serve() as running:
        yield running


def connect(gateway: LocalWebSocketGateway) -> LiveSocket:
    return open_socket(gateway.url, GOOD_TOKEN)


def test_connect_decides_the_upgrade(fake: FakeApp, gateway: LocalWebSocketGateway) -> None:
    with pytest.raises(InvalidStatus) as refused:
        open_socket(gateway.url, "wrong")
    assert refused.value.response.status_code == 403

    with connect(gateway) as client:
        connection_id = client.connection_id
        assert re.fullmatch(r"[A-Za-z0-9]{15}=", connection_id)  # like API Gateway's ids
        [event] = fake.events_of("$connect", connection_id)
    context = event["requestContext"]
    assert context["eventType"] == "CONNECT"
    assert context["apiId"] and context["stage"] == "local"
    assert context["domainName"] == f"127.0.0.1:{gateway.port}"
    assert context["requestTimeEpoch"] >= context["connectedAt"] > 0
    assert event["queryStringParameters"] == {"token": GOOD_TOKEN}
    assert event["headers"]["Host"] == context["domainName"]
    assert event["multiValueHeaders"]["Host"] == [context["domainName"]]

    assert fake.wait_for("$disconnect", connection_id)["requestContext"]["disconnectStatusCode"] == 1000
    refused_ids = [
        e["requestContext"]["connectionId"]
        for e in fake.events
        if (e.get("queryStringParameters") or {}).get("token") == "wrong"
    ]
    assert refused_ids and not [i for i in refused_ids if fake.events_of("$disconnect", i)]  # never opened


def test_frames_are_routed_by_action_like_api_gateway(gateway: LocalWebSocketGateway) -> None:
    with connect(gateway) as client:
        client.send_raw("plain text")
        text = client.next("echo", body="plain text")
        assert text["routeKey"] == "$default" and text["isBase64Encoded"] is False and text["messageId"]
        client.send_raw(b"\x00\x01")
        assert client.next("echo", body="AAE=")["isBase64Encoded"] is True
        for action, route_key in [("shout", "shout"), ("whisper", "$default"), ("$disconnect", "$default")]:
            body = json.dumps({"action": action})
            client.send_raw(body)
            assert client.next("echo", body=body)["routeKey"] == route_key


def test_a_slow_handler_does_not_stall_other_sockets(fake: FakeApp, gateway: LocalWebSocketGateway) -> None:
    with connect(gateway) as slow, connect(gateway) as quick:
        slow.send_raw("slow")
        deadline = time.monotonic() + WAIT_SECONDS
        while not [e for e in fake.events_of("$default", slow.connection_id) if e["body"] == "slow"]:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        quick.send_raw("quick")
        quick.next("echo", body="quick", timeout=SLOW_SECONDS / 2)  # while the slow handler still sleeps
        slow.next("echo", body="slow")


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {WAIT_SECONDS} s"
        time.sleep(0.01)


def test_frames_of_one_socket_run_concurrently_up_to_their_bound() -> None:
    """API Gateway invokes the handler once per frame, concurrently for one connection's frames: so does the gateway,
    with at most ``frames_per_connection`` of a socket in flight (it reads no further frame of that socket)."""
    fake = FakeApp()
    with fake.serve(frames_per_connection=3, handler_threads=8) as gateway, connect(gateway) as client:
        for _ in range(5):
            client.send_raw("hold")
        wait_until(lambda: fake.holding == 3, "three frames of one socket running at once")
        with connect(gateway) as other:  # a round trip through the loop: it had every chance to read more
            other.send_raw("probe")
            other.next("echo", body="probe")
        wait_until(lambda: gateway.frames_in_flight == 3, "only the three running frames read (the probe's done)")
        held = fake.holding

        fake.release.set()

        assert [client.next("echo", body="hold")["routeKey"] for _ in range(5)] == ["$default"] * 5
    assert (held, fake.peak) == (3, 3)


def test_all_sockets_together_run_at_most_handler_threads_frames() -> None:
    fake = FakeApp()
    with (
        fake.serve(frames_per_connection=3, handler_threads=4) as gateway,
        connect(gateway) as first,
        connect(gateway) as second,
    ):
        for client in (first, second):
            for _ in range(3):
                client.send_raw("hold")
        wait_until(lambda: gateway.frames_in_flight == 6 and fake.holding == 4, "six frames read, four running")
        held = fake.holding  # the other two wait for a thread: none frees while these are held

        fake.release.set()

        for client in (first, second):
            assert len([client.next("echo", body="hold") for _ in range(3)]) == 3
    assert (held, fake.peak) == (4, 4)


def test_a_failing_handler_answers_like_api_gateway(gateway: LocalWebSocketGateway) -> None:
    with connect(gateway) as client:
        client.send_raw("boom")
        frame = json.loads(client.connection.recv(timeout=WAIT_SECONDS))
        assert frame["message"] == "Internal server error"
        assert frame["connectionId"] == client.connection_id


def test_an_oversized_frame_closes_with_1009(fake: FakeApp, gateway: LocalWebSocketGateway) -> None:
    with connect(gateway) as client:
        client.send_raw("x" * (MAX_MESSAGE_BYTES + 1))
        closed = client.closed()
    assert closed.rcvd is not None and closed.rcvd.code == 1009
    assert fake.wait_for("$disconnect", client.connection_id)["requestContext"]["disconnectStatusCode"] == 1009


def test_the_management_api_speaks_botocore(fake: FakeApp, gateway: LocalWebSocketGateway) -> None:
    # A stage in the endpoint, as API Gateway's own endpoints have, works as well as none.
    client = management_client(gateway.management_url + "/local")
    with connect(gateway) as socket_client:
        connection_id = socket_client.connection_id
        client.post_to_connection(ConnectionId=connection_id, Data=b'{"event": "hi", "data": {"n": 1}}')
        assert socket_client.next("hi") == {"n": 1}
        described = client.get_connection(ConnectionId=connection_id)
        assert described["LastActiveAt"] >= described["ConnectedAt"]
        assert described["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": described["Identity"]["UserAgent"]}

        # The app's own delivery code, unchanged, against the gateway.
        assert app_connections(gateway.management_url).post(connection_id, b'{"event": "app"}') is Outcome.DELIVERED
        socket_client.next("app")

        url = f"{gateway.management_url}/@connections/{connection_id.replace('=', '%3D')}"
        too_big = requests.post(url, data=b"x" * (MAX_MESSAGE_BYTES + 1), timeout=WAIT_SECONDS)
        assert too_big.status_code == 413
        assert too_big.headers["x-amzn-ErrorType"] == "PayloadTooLargeException"

        client.delete_connection(ConnectionId=connection_id)
        assert socket_client.closed().rcvd is not None
    assert fake.wait_for("$disconnect", connection_id)

    for call in (client.post_to_connection, client.get_connection, client.delete_connection):
        kwargs = {"Data": b"{}"} if call == client.post_to_connection else {}
        with pytest.raises(client.exceptions.GoneException):
            call(ConnectionId=connection_id, **kwargs)
    assert app_connections(gateway.management_url).post(connection_id, b"{}") is Outcome.GONE
    assert requests.get(f"{gateway.management_url}/elsewhere", timeout=WAIT_SECONDS).status_code == 404


def test_idle_and_old_sockets_are_closed() -> None:
    limits = Limits(idle_timeout_seconds=0.6, max_connection_seconds=1.5)
    fake = FakeApp()
    with fake.serve(limits) as gateway, connect(gateway) as idle, connect(gateway) as busy:
        opened = time.monotonic()
        with pytest.raises(ConnectionClosed) as aged:
            while time.monotonic() - opened < WAIT_SECONDS:
                busy.send_raw("keep-alive")  # activity: only the maximum duration can close it
                busy.next("echo", body="keep-alive")
                time.sleep(0.1)
        lived = time.monotonic() - opened
        assert limits.max_connection_seconds - 0.2 <= lived < limits.max_connection_seconds + 1
        assert aged.value.rcvd is not None
        assert (aged.value.rcvd.code, aged.value.rcvd.reason) == (1001, "maximum connection duration")

        closed = idle.closed(timeout=0.5)  # long since closed: the close frame waits in the client's buffer
        assert closed.rcvd is not None and (closed.rcvd.code, closed.rcvd.reason) == (1001, "idle timeout")
        for client in (idle, busy):
            event = fake.wait_for("$disconnect", client.connection_id)
            assert event["requestContext"]["disconnectStatusCode"] == 1001


def test_limits_come_from_the_environment() -> None:
    assert Limits.from_environ({}) == Limits(600, 7200)
    environ = {"DEV_WS_IDLE_TIMEOUT_SECONDS": "1.5", "DEV_WS_MAX_CONNECTION_SECONDS": "30"}
    assert Limits.from_environ(environ) == Limits(1.5, 30)
    with pytest.raises(ValueError, match="DEV_WS_IDLE_TIMEOUT_SECONDS"):
        Limits.from_environ({"DEV_WS_IDLE_TIMEOUT_SECONDS": "soon"})


def test_configure_app_environment_points_the_app_at_the_gateway() -> None:
    environ: dict[str, str] = {}
    configure_app_environment(environ, "http://127.0.0.1:8003")
    assert environ == {MANAGEMENT_URL_ENV: "http://127.0.0.1:8003"}


@pytest.mark.parametrize("which", ["port", "management_port"])
def test_a_taken_port_is_reported(fake: FakeApp, which: str) -> None:
    threads_before = set(threading.enumerate())
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        gateway = LocalWebSocketGateway(fake.app, **{"port": 0, "management_port": 0, which: taken})
        with pytest.raises(PortInUse) as error:
            gateway.start()
    assert error.value.port == taken
    assert not [t for t in set(threading.enumerate()) - threads_before if t.is_alive()]  # nothing left running
