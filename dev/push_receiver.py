"""Web Push for the dev stack: the VAPID key pair kept in the data folder, and a local push service to try it with.

``configure_push_environment`` (called by ``dev/stack.py`` before the app reads its settings):

* ``VAPID_PRIVATE_KEY`` from ``<DEV_DATA_DIR>/vapid-key`` (made on the first run, mode 0600; kept by ``make
  dev-reset``, which forgets the data, not the key, so browsers' subscriptions stay valid); with ``DEV_DATA_DIR=off``
  a key for this run only. A ``VAPID_PRIVATE_KEY`` already set wins;
* ``PUSH_INSECURE_HOSTS=127.0.0.1`` unless set: the receiver below speaks plain http.

``LocalPushService`` (``http://127.0.0.1:8005``, ``DEV_PUSH_PORT``; when the default is taken by another stack, any
free port: the ready file's ``pushUrl`` names it) plays a push service and the browsers
behind it, so a push can be watched without a browser:

* ``POST /subscriptions`` (optional JSON ``{"name"}``) makes a browser's key pair and answers the subscription to
  register, as ``PushSubscription.toJSON()`` would: ``PUT`` it to ``/api/push/subscriptions`` with a user's token;
* ``POST /push/<name>`` is what the app's ``on_push`` posts to: the receiver checks the VAPID JWT (ES256, its
  ``aud``, the ``k`` key) and decrypts the body with the subscription's private key (RFC 8291), then answers 201
  (or what ``POST /status/<name>`` ``{"status": 410}`` asked for, to try pruning and retries);
* ``GET /push`` lists what arrived: headers (``TTL``, ``Urgency``, ``Topic``), the VAPID claims and the decrypted
  payload.

A real browser subscribes at its own push service (FCM, Mozilla, Apple, WNS): with internet access ``make dev``
pushes to it like production, with the dev stack's key.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from chalicelib.adapters.webpush import VapidKey
from chalicelib.domain.push import b64url, unb64url

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
PORT_ENV = "DEV_PUSH_PORT"
DEFAULT_PORT = 8005
KEY_FILE = "vapid-key"


def vapid_key_for(data_dir: Path | None) -> VapidKey:
    """The stack's key pair: kept in the data folder (made on the first run), or one for this run only."""
    if data_dir is None:
        return VapidKey.generate()
    path = data_dir / KEY_FILE
    if path.exists():
        return VapidKey.from_private_value(path.read_text().strip())
    key = VapidKey.generate()
    data_dir.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(key.private_value() + "\n")
    return key


def configure_push_environment(environ: MutableMapping[str, str], data_dir: Path | None) -> VapidKey:
    """Set ``VAPID_PRIVATE_KEY`` and ``PUSH_INSECURE_HOSTS`` for the app (module docstring); the key in force."""
    if environ.get("VAPID_PRIVATE_KEY"):
        key = VapidKey.from_private_value(environ["VAPID_PRIVATE_KEY"])
    else:
        key = vapid_key_for(data_dir)
        environ["VAPID_PRIVATE_KEY"] = key.private_value()
    environ.setdefault("PUSH_INSECURE_HOSTS", HOST)
    return key


def push_port(environ: MutableMapping[str, str]) -> int:
    raw = environ.get(PORT_ENV) or str(DEFAULT_PORT)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{PORT_ENV}={raw!r} is not a port number (1-65535)")
    return int(raw)


@dataclass
class _Browser:
    private_key: Any
    auth_secret: bytes


@dataclass
class LocalPushService:
    """A push service on 127.0.0.1 with the browsers behind it (module docstring)."""

    port: int
    public_key: str  # the app's VAPID public key: what the JWT's ``k`` must be
    received: list[dict[str, Any]] = field(default_factory=list)
    browsers: dict[str, _Browser] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((HOST, self.port), self._handler())
        self.port = int(self._server.server_address[1])
        self.url = f"http://{HOST}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="push-receiver", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def subscribe(self, name: str | None = None) -> dict[str, Any]:
        """A new browser subscription on this service: what to PUT to /api/push/subscriptions."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        name = name or f"browser-{secrets.token_hex(4)}"
        private_key = ec.generate_private_key(ec.SECP256R1())
        auth_secret = os.urandom(16)
        with self._lock:
            self.browsers[name] = _Browser(private_key, auth_secret)
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": f"{self.url}/push/{name}", "keys": {"p256dh": b64url(raw), "auth": b64url(auth_secret)}}

    def receive(self, name: str, headers: dict[str, str], body: bytes) -> int:
        """Check and decrypt one push; the status to answer."""
        entry: dict[str, Any] = {
            "name": name,
            "receivedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "headers": {key: headers.get(key) for key in ("ttl", "urgency", "topic", "content-encoding")},
        }
        try:
            entry["vapid"] = self._vapid(headers.get("authorization") or "")
        except Exception as exc:  # reported, and refused as a push service would
            entry["error"] = f"VAPID: {exc}"
        browser = self.browsers.get(name)
        if browser is not None and "error" not in entry:
            try:
                import http_ece

                plain = http_ece.decrypt(
                    body, private_key=browser.private_key, auth_secret=browser.auth_secret, version="aes128gcm"
                )
                entry["payload"] = json.loads(plain)
            except Exception as exc:
                entry["error"] = f"decryption: {exc}"
        with self._lock:
            self.received.append(entry)
        if "error" in entry:
            logger.warning("push to %s refused: %s", name, entry["error"])
            return 400 if entry["error"].startswith("decryption") else 401
        logger.info("push to %s: %s", name, entry.get("payload"))
        return self.statuses.get(name, 201)

    def _vapid(self, authorization: str) -> dict[str, Any]:
        import jwt
        from cryptography.hazmat.primitives.asymmetric import ec

        scheme, _, params = authorization.partition(" ")
        fields = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
        if scheme != "vapid" or fields.get("k") != self.public_key:
            raise ValueError("not signed with the app's VAPID key")
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(fields["k"]))
        claims: dict[str, Any] = jwt.decode(fields["t"], key=key, algorithms=["ES256"], audience=self.url)
        return claims

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: Any = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self) -> None:
                body = self._body()
                parts = self.path.strip("/").split("/")
                if parts[0] == "subscriptions":
                    name = (json.loads(body or b"{}") or {}).get("name")
                    self._answer(201, service.subscribe(name if isinstance(name, str) else None))
                elif parts[0] == "push" and len(parts) == 2:
                    headers = {key.lower(): value for key, value in self.headers.items()}
                    self._answer(service.receive(parts[1], headers, body))
                elif parts[0] == "status" and len(parts) == 2:
                    service.statuses[parts[1]] = int(json.loads(body or b"{}").get("status", 201))
                    self._answer(200, {"name": parts[1], "status": service.statuses[parts[1]]})
                else:
                    self._answer(404, {"error": "unknown path"})

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/push":
                    with service._lock:
                        self._answer(200, {"publicKey": service.public_key, "received": list(service.received)})
                else:
                    self._answer(404, {"error": "unknown path"})

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
