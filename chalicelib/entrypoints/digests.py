"""The SQS entry point of the email digest queue: one digest message per invocation (batch size 1).

Each is handled idempotently (services.digests): a duplicate finds its window handled and does nothing; a failure
raises, SQS delivers it again, and after the queue's ``maxReceiveCount`` it moves to the dead letters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from chalicelib import logs
from chalicelib.bootstrap import preload, services

# This function's init loads the use cases its handlers call (built on first use: bootstrap.preload).
preload("digests")


def on_messages(records: Iterable[dict[str, Any]]) -> None:
    """SQS records (``Records`` of the Lambda event) of the digest queue."""
    logs.clear()
    logs.bind(route="sqs:email-digests")
    digests = services().digests
    if digests is None:
        raise RuntimeError("the digests use case is not wired")
    for record in records:
        try:
            body = json.loads(record.get("body") or "")
        except ValueError:
            body = None
        digests.handle(body)
