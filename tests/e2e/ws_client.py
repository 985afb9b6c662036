"""A real WebSocket client of the dev stack's gateway: send actions, wait (bounded) for server events."""

from __future__ import annotations

import json
import time
from types import TracebackType
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from dev.ws_gateway import CONNECTION_ID_HEADER

RECEIVE_TIMEOUT_SECONDS = 5
OPEN_TIMEOUT_SECONDS = 10
CLOSE_TIMEOUT_SECONDS = 3


def open_socket(ws_url: str, token: str | None = None) -> LiveSocket:
    """Connect as API Gateway clients do, with the JWT as the ``token`` query parameter."""
    url = f"{ws_url}/?token={token}" if token is not None else f"{ws_url}/"
    # legacy=True: a connection object owned by LiveSocket (which closes it), not a context manager.
    connection = connect(url, open_timeout=OPEN_TIMEOUT_SECONDS, close_timeout=CLOSE_TIMEOUT_SECONDS, legacy=True)
    return LiveSocket(connection)


class LiveSocket:
    """One connection; frames read while waiting for one event stay available for later waits."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._unread: list[dict[str, Any]] = []

    @property
    def connection_id(self) -> str:
        """The gateway's id for this socket (its dev-only handshake header)."""
        assert self.connection.response is not None
        return self.connection.response.headers[CONNECTION_ID_HEADER]

    def send(self, action: str, **fields: Any) -> None:
        self.connection.send(json.dumps({"action": action, **fields}))

    def send_raw(self, frame: str | bytes) -> None:
        self.connection.send(frame)

    def next(self, event: str, timeout: float = RECEIVE_TIMEOUT_SECONDS, **match: Any) -> dict[str, Any]:
        """The data of the first unread ``event`` whose data has ``match``'s values, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            for frame in self._unread:
                data = frame.get("data") or {}
                if frame.get("event") == event and all(data.get(k) == v for k, v in match.items()):
                    self._unread.remove(frame)
                    return data
            remaining = deadline - time.monotonic()
            try:
                self._unread.append(json.loads(self.connection.recv(timeout=max(remaining, 0))))
            except TimeoutError:
                seen = [(f.get("event"), f.get("data")) for f in self._unread]
                raise AssertionError(f"no {event} {match or ''} within {timeout} s; unread: {seen}") from None

    def closed(self, timeout: float = RECEIVE_TIMEOUT_SECONDS) -> ConnectionClosed:
        """Wait until the server closes the socket; returns how (``.rcvd.code``)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.connection.recv(timeout=max(deadline - time.monotonic(), 0))
        except ConnectionClosed as closed:
            return closed
        except TimeoutError:
            raise AssertionError(f"the socket was still open after {timeout} s") from None

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> LiveSocket:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
