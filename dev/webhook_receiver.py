"""A local webhook receiver that checks Standard Webhooks signatures: for trying the platform's side of issue 18.

    python -m dev.webhook_receiver --port 8006 --secret "$WEBHOOK_SECRET"

``make dev`` starts one on ``DEV_WEBHOOK_PORT`` (default 8006) and points ``WEBHOOK_URL`` at it unless you set
``WEBHOOK_URL`` yourself. ``POST /`` verifies the three headers (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``) against every secret of ``WEBHOOK_SECRET`` and answers 204 (400 for a bad signature);
``GET /`` lists what it accepted and refused, newest last, as JSON. ``fail_next`` makes it answer 503 to the next
deliveries (the tests' way to watch retries). Its verification is written out here with hmac, independently of
the sender's code (chalicelib.domain.webhooks), so a test through it checks the signature, not the signer twice.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300
STOP_TIMEOUT_SECONDS = 10
MAX_BODY_BYTES = 1024 * 1024


def keys_of(secrets: str) -> list[bytes]:
    """The keys of a comma-separated secret list (``whsec_<base64>`` or plain text), as Standard Webhooks reads them."""
    keys = []
    for secret in (s.strip() for s in secrets.split(",")):
        if secret:
            keys.append(base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode())
    return keys


def check(keys: list[bytes], headers: dict[str, str], body: bytes, now: float | None = None) -> str | None:
    """None when the delivery is authentic and fresh, else why not."""
    message_id = headers.get("webhook-id") or ""
    timestamp = headers.get("webhook-timestamp") or ""
    signatures = (headers.get("webhook-signature") or "").split()
    if not message_id or not timestamp.isdigit() or not signatures:
        return "missing Standard Webhooks headers"
    if abs((now if now is not None else time.time()) - int(timestamp)) > TOLERANCE_SECONDS:
        return "stale timestamp"
    signed = message_id.encode() + b"." + timestamp.encode() + b"." + body
    wanted = {"v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode() for key in keys}
    if not any(hmac.compare_digest(given, expected) for given in signatures for expected in wanted):
        return "no signature matches"
    return None


@dataclass
class Delivery:
    webhook_id: str
    timestamp: str
    signature: str
    body: str
    verified: bool
    reason: str | None
    answered: int

    @property
    def event(self) -> Any:
        return json.loads(self.body)


@dataclass
class Inbox:
    keys: list[bytes]
    deliveries: list[Delivery] = field(default_factory=list)
    fail_next: int = 0  # answer 503 to this many more deliveries
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.answered < 300]


class WebhookReceiver:
    """The receiver on its own thread: ``start()`` binds (port 0: any free one), ``stop()`` closes."""

    def __init__(self, host: str, port: int, secrets: str) -> None:
        self.host, self.port = host, port
        self.inbox = Inbox(keys_of(secrets))
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> None:
        inbox = self.inbox

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY_BYTES)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                reason = check(inbox.keys, headers, body)
                with inbox.lock:
                    if reason is not None:
                        status = HTTPStatus.BAD_REQUEST
                    elif inbox.fail_next > 0:
                        inbox.fail_next -= 1
                        status = HTTPStatus.SERVICE_UNAVAILABLE
                    else:
                        status = HTTPStatus.NO_CONTENT
                    inbox.deliveries.append(
                        Delivery(
                            headers.get("webhook-id", ""),
                            headers.get("webhook-timestamp", ""),
                            headers.get("webhook-signature", ""),
                            body.decode("utf-8", "replace"),
                            reason is None,
                            reason,
                            int(status),
                        )
                    )
                logger.info("webhook %s: %s", headers.get("webhook-id"), reason or f"verified, answered {int(status)}")
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                with inbox.lock:
                    listed = [d.__dict__ for d in inbox.deliveries]
                payload = json.dumps(listed, indent=2).encode()
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug(format, *args)

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_SECONDS)
        self._server.server_close()
        self._server = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.webhook_receiver", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8006)
    parser.add_argument("--secret", required=True, help="WEBHOOK_SECRET (comma-separated during a rotation)")
    args = parser.parse_args(argv)
    logging.basicConfig(level="INFO", format="%(levelname)s %(name)s: %(message)s")
    receiver = WebhookReceiver(args.host, args.port, args.secret)
    receiver.start()
    print(f"verifying webhooks at {receiver.url} (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
