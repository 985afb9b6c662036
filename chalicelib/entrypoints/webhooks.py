"""The SQS entry point of the webhook queue: one event per invocation (batch size 1), delivered signed to the platform.

A failed attempt raises after setting the message's next visibility (the retry schedule), so the event source leaves
it on the queue; a message that is no event raises the same way and, its attempts spent, reaches the dead letters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from chalicelib import logs
from chalicelib.bootstrap import preload, services

# This function's init loads the use cases its handlers call (built on first use: bootstrap.preload).
preload("webhooks")


def on_messages(records: Iterable[dict[str, Any]]) -> None:
    """SQS records (``Records`` of the Lambda event) of the webhook queue."""
    logs.clear()
    logs.bind(route="sqs:webhooks")
    webhooks = services().webhooks
    if webhooks is None:
        raise RuntimeError("the webhooks use case is not wired")
    for record in records:
        try:
            message = json.loads(record.get("body") or "")
        except ValueError:
            message = None
        attempt = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
        webhooks.deliver(message, attempt, record.get("receiptHandle"))
