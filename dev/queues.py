"""SQS event sources for the dev stack: on AWS, Lambda polls a queue and invokes the app's ``@app.on_sqs_message``
handler with batches of its messages; moto runs no Lambda.

``QueuePoller`` does it for any number of queues (``Source``: queue URL -> handler name, batch size; ``sources(app)``
reads them from the app's own registrations): it long-polls each queue on its own thread, hands each batch to the
handler the way Lambda does (``app.handler_map[name](event, context)`` with an SQS event: ``Records`` of
``messageId``, ``receiptHandle``, ``body``, ``attributes``, ``messageAttributes``, ``eventSourceARN`` ...), deletes
the batch when the handler returns, and leaves it when the handler raises. The messages then become visible again
after the queue's visibility timeout, and once received ``maxReceiveCount`` times SQS's redrive policy moves them to
the queue's dead-letter queue, as on AWS (moto implements both).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalice.app import SQSEventConfig
from chalice.local import LambdaContext

from dev.pollers import SourcePollers

if TYPE_CHECKING:
    from chalice import Chalice

logger = logging.getLogger(__name__)

WAIT_SECONDS = 1  # long-poll wait: how soon stop() is noticed
LAMBDA_MEMORY_MB = 128
LAMBDA_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Source:
    """One queue and the handler its messages go to."""

    handler_name: str
    queue_url: str
    queue_arn: str
    batch_size: int = 1


def sources(app: Chalice, client: Any) -> list[Source]:
    """The app's ``@app.on_sqs_message`` registrations, each with its queue's URL and ARN (the queues must exist)."""
    found = []
    for config in app.event_sources:
        if not isinstance(config, SQSEventConfig):
            continue
        name = config.queue or str(config.queue_arn).rsplit(":", 1)[-1]
        url = client.get_queue_url(QueueName=name)["QueueUrl"]
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        found.append(Source(config.name, url, arn, config.batch_size))
    return found


def sqs_event(messages: Iterable[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source hands a function, for messages as ReceiveMessage returns them."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes") or {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value.get("DataType"),
                    }
                    for name, value in (message.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": message.get("MD5OfBody"),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


class QueuePoller(SourcePollers):
    """Invokes the app's SQS handlers for the messages of their queues, between ``start()`` and ``stop()``."""

    thread_prefix = "sqs"

    def __init__(self, app: Chalice, queue_sources: list[Source], *, client: Any, stage: str, region: str) -> None:
        super().__init__(queue_sources)
        self.app = app
        self.client = client
        self.stage = stage
        self.region = region

    def start(self) -> None:
        super().start()
        names = ", ".join(f"{s.handler_name} ({s.queue_url.rsplit('/', 1)[-1]})" for s in self.sources)
        logger.info("SQS event sources emulated for %s", names or "no handler")

    def _run(self, source: Source) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once(source, wait_seconds=WAIT_SECONDS)
            except Exception:  # the queue itself failed (moto stopping): wait, try again
                if not self._stopping.wait(WAIT_SECONDS):
                    logger.exception("polling %s failed", source.queue_url)

    def poll_once(self, source: Source, *, wait_seconds: int = 0) -> int:
        """One ReceiveMessage and, if it returned messages, one invocation: how many messages were handled (deleted).

        A failing handler leaves its batch on the queue (logged): visible again after the visibility timeout.
        """
        received = self.client.receive_message(
            QueueUrl=source.queue_url,
            MaxNumberOfMessages=min(source.batch_size, 10),
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return 0
        function_name = f"{self.app.app_name}-{self.stage}-{source.handler_name}"
        context = LambdaContext(function_name, LAMBDA_MEMORY_MB, LAMBDA_TIMEOUT_SECONDS * 1000)
        try:
            self.app.handler_map[source.handler_name](sqs_event(received, source.queue_arn, self.region), context)
        except Exception:
            logger.exception("%s failed: %d message(s) stay on the queue", function_name, len(received))
            return 0
        self.client.delete_message_batch(
            QueueUrl=source.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
        )
        logger.info("%s handled %d message(s)", function_name, len(received))
        return len(received)
