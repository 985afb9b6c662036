"""The SQS entry point of the push queue (``on_push`` in app.py): one push job per record (batches of one), sent to
every browser subscription of its user by ``services.push.Push.deliver``.

A push service that answers 429 or 5xx (or cannot be reached) makes the job come back later: its visibility is set to
the backoff (``domain.push.retry_delay``; ``Retry-After`` when the service gave one) and the handler raises, so the
event source leaves it on the queue; after the queue's ``maxReceiveCount`` it moves to the dead-letter queue.
Redelivery is harmless: subscriptions already pushed to are skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from chalicelib import logs, metrics
from chalicelib.bootstrap import preload, services
from chalicelib.services.push import RetryLater, UnknownJob
from chalicelib.settings import get_settings

# This function's init loads the use cases its handlers call (built on first use: bootstrap.preload).
preload("push")

logger = logging.getLogger(__name__)


def on_messages(records: Iterable[dict[str, Any]]) -> None:
    """SQS records (``Records`` of the Lambda event) of the push queue."""
    logs.clear()
    logs.bind(route="sqs:push")
    metrics.begin()
    metrics.count(metrics.INVOCATIONS)
    try:
        for record in records:
            handle(record)
    except RetryLater:
        raise  # the push services' doing, not ours: not a handler error (the dead letters alarm, if it lasts)
    except Exception:
        metrics.count(metrics.HANDLER_ERRORS)
        raise
    finally:
        metrics.flush(get_settings().stage)


def handle(record: dict[str, Any]) -> None:
    try:
        job = json.loads(record.get("body") or "")
    except ValueError:
        raise UnknownJob("not JSON") from None
    if not isinstance(job, dict):
        raise UnknownJob("not a JSON object")
    receive_count = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
    current = services()
    try:
        current.push.deliver(job, receive_count)
    except RetryLater as later:
        logger.warning("push services asked to retry", extra={"retry_in": later.seconds, "receives": receive_count})
        current.push_queue.retry_later(str(record.get("receiptHandle")), later.seconds)
        raise
