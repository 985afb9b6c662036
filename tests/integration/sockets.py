"""Driving the socket handlers the way API Gateway does, and reading what they sent.

Events have API Gateway's shape; frames are read back from moto's ``@connections`` backend, which
stores every payload posted to a connection concatenated (and forgets them on DeleteConnection: what a connection
received before the server closed it is kept here, and ``closed`` says which connections the server closed).
"""

from __future__ import annotations

import json
import time
from itertools import count
from typing import Any
from urllib.parse import quote

from chalice.test import Client
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID

from tests.integration.conftest import token_for

_ids = count(1)
API_ID, STAGE = "testws0001", "test"


def ws_event(route_key: str, connection_id: str, body: str | None = None, token: str | None = None) -> dict[str, Any]:
    """An API Gateway WebSocket proxy event for ``$connect``, ``$default`` or ``$disconnect``."""
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
    event: dict[str, Any] = {
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "connectionId": connection_id,
            "apiId": API_ID,
            "stage": STAGE,
            "domainName": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
            "requestTimeEpoch": int(time.time() * 1000),
            "messageId": f"m{next(_ids)}",
        },
        "isBase64Encoded": False,
        "body": body,
    }
    if route_key == "$connect":
        event["queryStringParameters"] = {"token": token} if token is not None else None
        event["headers"] = {"Host": event["requestContext"]["domainName"]}
    return event


def decode_frames(data: bytes) -> list[dict[str, Any]]:
    """Split moto's concatenated payloads back into frames."""
    decoder, text, frames, index = json.JSONDecoder(), data.decode(), [], 0
    while index < len(text):
        frame, index = decoder.raw_decode(text, index)
        frames.append(frame)
    return frames


class Sockets:
    """Connections of test users: connect, send frames, read what each connection received."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.closed: dict[str, bytes] = {}  # connection id as moto keys it -> what it received before being closed
        backend = self._backend
        delete = backend.delete_connection

        def delete_connection(connection_id: str) -> None:
            connection = backend.connections.get(connection_id)
            self.closed[connection_id] = self.closed.get(connection_id, b"") + (connection.data if connection else b"")
            delete(connection_id)

        backend.delete_connection = delete_connection  # moto resets its backends (and this) with every mock

    @property
    def _backend(self) -> Any:
        return apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]

    def invoke(self, handler: str, event: dict[str, Any]) -> dict[str, Any]:
        return self.client.lambda_.invoke(handler, event).payload

    def connect(self, user: str, token: str | None = None, connection_id: str | None = None) -> str:
        """Open a connection for ``user`` and return its id (asserts the upgrade was accepted)."""
        connection_id = connection_id or f"{user}-conn{next(_ids)}="
        response = self.invoke("connect", ws_event("$connect", connection_id, token=token or token_for(user)))
        assert response["statusCode"] == 200, response
        return connection_id

    def connect_status(self, token: str | None) -> int:
        return self.invoke("connect", ws_event("$connect", f"x{next(_ids)}=", token=token))["statusCode"]

    def disconnect(self, connection_id: str) -> None:
        self.invoke("disconnect", ws_event("$disconnect", connection_id))

    def send_raw(self, connection_id: str, body: str) -> None:
        response = self.invoke("message", ws_event("$default", connection_id, body=body))
        assert response["statusCode"] == 200, response

    def send(self, connection_id: str, action: str, **fields: Any) -> None:
        self.send_raw(connection_id, json.dumps({"action": action, **fields}))

    def frames(self, connection_id: str) -> list[dict[str, Any]]:
        # moto keys connections by the id as it appeared in the URL path (percent-encoded).
        key = quote(connection_id, safe="")
        connection = self._backend.connections.get(key)
        return decode_frames(self.closed.get(key, b"") + (connection.data if connection is not None else b""))

    def was_closed(self, connection_id: str) -> bool:
        """Whether the server closed this connection (``@connections`` DELETE)."""
        return quote(connection_id, safe="") in self.closed

    def events(self, connection_id: str, name: str) -> list[dict[str, Any]]:
        return [frame["data"] for frame in self.frames(connection_id) if frame["event"] == name]

    def names(self, connection_id: str) -> list[str]:
        return [frame["event"] for frame in self.frames(connection_id)]

    def clear(self) -> None:
        for connection in self._backend.connections.values():
            connection.data = b""
        self.closed = dict.fromkeys(self.closed, b"")
