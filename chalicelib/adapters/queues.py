"""SQS queues through boto3: the queue of upload failures (``on_upload``'s dead-letter queue, which the app also
hands work to) and its own dead-letter queue.

``AWS_ENDPOINT_URL_SQS`` points boto3 at moto locally. The queue's URL is looked up once, on the first send (the
send path only uses a queue when S3 failed after a commit: no client is built before that).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from chalicelib.settings import Settings


@dataclass(frozen=True)
class QueueShape:
    """How a queue is set up, as ``infrastructure/template.yaml`` declares it (checked by tests/infrastructure)."""

    name: str
    visibility_timeout_seconds: int
    retention_seconds: int
    dead_letter: QueueShape | None = None
    max_receive_count: int = 0  # deliveries before SQS moves a message to ``dead_letter``


RETENTION_SECONDS = 14 * 24 * 3600  # SQS's maximum: two weeks for an operator to look


def upload_failure_queues(settings: Settings) -> QueueShape:
    """The upload-failures queue and its dead-letter queue.

    Its consumer's timeout (``on_upload_failure`` in .chalice/config.json) must stay under the visibility timeout,
    or Lambda refuses the event source; a message that fails ``max_receive_count`` times moves to the dead letters.
    """
    dead = QueueShape(f"{settings.upload_failures_queue}-dead", 30, RETENTION_SECONDS)
    return QueueShape(settings.upload_failures_queue, 180, RETENTION_SECONDS, dead_letter=dead, max_receive_count=5)


def digest_queues(settings: Settings) -> QueueShape:
    """Email digest windows (delayed messages, re-sent for delays over 900 s) and their dead letters.

    Visibility: 6x the consumer's 30 s timeout; a window whose digest fails five times goes to the dead letters.
    """
    dead = QueueShape(f"{settings.digest_queue}-dead", 30, RETENTION_SECONDS)
    return QueueShape(settings.digest_queue, 180, RETENTION_SECONDS, dead_letter=dead, max_receive_count=5)


def webhook_queues(settings: Settings) -> QueueShape:
    """Webhook events and their dead letters: the consumer's retries follow ``WEBHOOK_RETRY_SECONDS`` (set with
    ChangeMessageVisibility), so the redrive counts one receive per attempt, the first included."""
    dead = QueueShape(f"{settings.webhook_queue}-dead", 30, RETENTION_SECONDS)
    attempts = len(settings.webhook_retry_seconds) + 1
    return QueueShape(settings.webhook_queue, 180, RETENTION_SECONDS, dead_letter=dead, max_receive_count=attempts)


def push_queues(settings: Settings) -> QueueShape:
    """The Web Push queue (the messages-table stream consumer enqueues, ``on_push`` sends) and its dead letters.

    ``on_push``'s timeout (30 s) stays under the visibility timeout; a push the services kept refusing (429, 5xx)
    is tried ``max_receive_count`` times, its consumer setting the visibility to the backoff between tries.
    """
    dead = QueueShape(f"{settings.push_queue}-dead", 30, RETENTION_SECONDS)
    # A push not sent within a day is no longer worth sending (PUSH_TTL_SECONDS): the queue keeps it that long.
    return QueueShape(settings.push_queue, 180, 24 * 3600, dead_letter=dead, max_receive_count=8)


def stream_failure_queue(settings: Settings) -> QueueShape:
    """The on-failure destination of the messages stream's event source (``on_message_stream``): what Lambda gave up
    on after its retries, as a pointer into the stream (shard, first and last sequence numbers) for an operator to
    read again within the stream's 24 hours. Nothing consumes it: any message raises an alarm."""
    return QueueShape(settings.stream_failures_queue, 30, RETENTION_SECONDS)


class SqsQueue:
    """One queue by name; ``send`` puts a JSON message on it."""

    def __init__(self, settings: Settings, name: str, client: Any = None) -> None:
        self._settings = settings
        self.name = name
        self._client = client
        self._url: str | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("sqs", region_name=self._settings.region)
        return self._client

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = str(self.client.get_queue_url(QueueName=self.name)["QueueUrl"])
        return self._url

    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        extra = {"DelaySeconds": delay_seconds} if delay_seconds else {}
        self.client.send_message(QueueUrl=self.url, MessageBody=json.dumps(body, separators=(",", ":")), **extra)

    def send_many(self, bodies: list[dict[str, Any]]) -> None:
        """In batches of ten; raises when SQS refused any entry (the caller's retry sends the batch again)."""
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(i), "MessageBody": json.dumps(body, separators=(",", ":"))}
                for i, body in enumerate(bodies[start : start + 10])
            ]
            failed = self.client.send_message_batch(QueueUrl=self.url, Entries=entries).get("Failed") or []
            if failed:
                raise RuntimeError(
                    f"SQS refused {len(failed)} of {len(entries)} message(s) on {self.name}: {failed[0]}"
                )

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        """A received message becomes visible again in ``seconds`` (its consumer then raises, so it is not deleted)."""
        self.client.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=max(0, min(seconds, 43200))
        )

    def ensure(self, shape: QueueShape) -> str:
        """Create the queue (and its dead-letter queue) as infrastructure/ does: dev stack and tests. Its URL."""
        attributes: dict[str, str] = {
            "VisibilityTimeout": str(shape.visibility_timeout_seconds),
            "MessageRetentionPeriod": str(shape.retention_seconds),
            "SqsManagedSseEnabled": "true",
        }
        if shape.dead_letter is not None:
            dead_url = SqsQueue(self._settings, shape.dead_letter.name, self.client).ensure(shape.dead_letter)
            dead_arn = self.client.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["QueueArn"])
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dead_arn["Attributes"]["QueueArn"], "maxReceiveCount": shape.max_receive_count}
            )
        url = str(self.client.create_queue(QueueName=shape.name, Attributes=attributes)["QueueUrl"])
        self._url = url
        return url
