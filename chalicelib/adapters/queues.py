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

    def send(self, body: dict[str, Any]) -> None:
        self.client.send_message(QueueUrl=self.url, MessageBody=json.dumps(body, separators=(",", ":")))

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
