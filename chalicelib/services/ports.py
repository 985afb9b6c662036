"""The small interfaces use cases call their adapters through; ``chalicelib.bootstrap`` supplies the real ones
(``adapters.connections``, ``adapters.files``), tests supply fakes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.delivery import Outcome
from chalicelib.domain.push import PushResult, PushTarget


class Connections(Protocol):
    """API Gateway's ``@connections``: one frame to many connections; never raises for one connection's failure."""

    def post_many(self, connection_ids: list[str], frame: bytes) -> dict[str, Outcome]: ...

    def post(self, connection_id: str, frame: bytes) -> Outcome: ...

    def close(self, connection_id: str) -> Outcome:
        """DeleteConnection: API Gateway closes the socket (and runs ``$disconnect``); GONE when already closed."""

    def probe(self, connection_id: str) -> Outcome:
        """GetConnection: DELIVERED while the socket is open, GONE once it closed, FAILED when unknown."""

    def learn_endpoint(self, api_id: str | None, stage: str | None) -> None:
        """Inside a socket handler: the event's API, used when configuration names none."""


class Files(Protocol):
    """The attachments bucket; failures raise ``errors.FileStorageError``."""

    def presign_upload(self, key: str, content_type: str, max_bytes: int) -> dict[str, Any]: ...

    def presign_download(self, key: str, content_type: str, *, file_name: str | None, inline: bool) -> str: ...

    def head(self, key: str) -> dict[str, Any] | None: ...

    def read_head(self, key: str, length: int = 32) -> bytes: ...

    def read(self, key: str, *, etag: str | None = None) -> tuple[bytes, str] | None:
        """Bytes and ETag (with ``etag``: only that version); None when gone or changed."""

    def copy(self, source_key: str, target_key: str, *, etag: str) -> bool:
        """A server-side copy of exactly the version ``etag``, tagged pending; False when the source changed."""

    def write(self, key: str, data: bytes, content_type: str, *, attached: bool) -> None: ...

    def mark_attached(self, keys: list[str]) -> None: ...

    def release(self, keys: list[str]) -> None:
        """The objects of a deleted message: tagged for the lifecycle rule that removes unused uploads."""


class Queue(Protocol):
    """An SQS queue the use cases hand work to (JSON messages)."""

    def send(self, body: dict[str, Any]) -> None: ...


class WorkQueue(Protocol):
    """A queue of asynchronous work (digests, webhooks, push): delayed sends, batches, retries with a backoff."""

    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None: ...

    def send_many(self, bodies: list[dict[str, Any]]) -> None:
        """In batches of ten (SendMessageBatch); raises when any entry failed."""

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        """Make a received message visible again in ``seconds`` (ChangeMessageVisibility): the backoff."""


class Mailer(Protocol):
    """Sends email (SES v2 on AWS and on moto)."""

    def send_raw(self, sender: str, recipient: str, mime: bytes) -> str:
        """Send one raw MIME message (headers as written); its message id."""


class WebhookSender(Protocol):
    """POSTs a signed event to the platform."""

    def secrets(self) -> tuple[bytes, ...]:
        """The signing keys (WEBHOOK_SECRET or its SSM parameter, read once)."""

    def post(self, url: str, body: str, headers: dict[str, str]) -> int:
        """The response's status (a network failure raises OSError)."""


Clock = Callable[[], datetime]  # the current UTC time (tests pass a fixed one)


class PushSender(Protocol):
    """Web Push (``adapters.webpush``): the VAPID public key, and one encrypted, signed notification per call."""

    def public_key(self) -> str: ...

    def send(self, target: PushTarget, payload: bytes, *, ttl: int, urgency: str, topic: str) -> PushResult:
        """Never raises for the push service's answer: a status (0 when it was not reached)."""
