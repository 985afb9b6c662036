"""The entry point of the messages table's stream (``on_message_stream`` in app.py): one Lambda, one reader of the
stream (AWS advises at most two per shard), fanning each batch out to an explicit list of consumers.

A consumer is a function from the batch's decoded changes (``MessageChange``, in stream order) to the sequence
numbers of the changes it could not handle (empty: all done); one that raises failed the whole batch. Register one
by adding it to ``CONSUMERS`` (name, function). Rules every consumer follows:

* **idempotent**: the event source delivers at least once, and a batch comes back whole (from its first failed
  record on) whenever any consumer failed part of it, also to the consumers that had succeeded;
* **per record**: handle what it can and report the rest, never stop at the first failure (a record reported
  failed is retried, bisected to, and after the retries sent to the on-failure queue with the records after it);
* **fast and bounded**: the batch shares one invocation (timeout in .chalice/config.json).

The answer is Lambda's partial batch response, ``{"batchItemFailures": [{"itemIdentifier": <sequence number>}]}``
(the event source mapping has ``ReportBatchItemFailures``: infrastructure/deploy.py and package.py). A record that
cannot be decoded fails for every consumer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from chalicelib import logs, metrics
from chalicelib.bootstrap import preload, services
from chalicelib.entrypoints import offline
from chalicelib.services.message_stream import MessageChange, PoisonRecord, decode
from chalicelib.settings import get_settings

# This function's init loads the use cases its handlers call (built on first use: bootstrap.preload).
preload("search", "push", "webhooks", "digests")

logger = logging.getLogger(__name__)

Consumer = Callable[[Sequence[MessageChange]], Iterable[str]]


def _push(changes: Sequence[MessageChange]) -> Iterable[str]:
    """Web Push: new messages to recipients who are not in the room (``services.push``)."""
    return services().push.on_changes(changes)


# (name, consumer): every change of the messages table goes to each, in this order (one stream reader: AWS
# advises at most two per shard).
CONSUMERS: list[tuple[str, Consumer]] = [
    ("search_index", lambda changes: services().search.index(changes)),
    ("webhooks", offline.webhooks),
    ("email digests", offline.email_digests),
    ("push", _push),
]


def on_records(records: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """Handle one batch of stream records; the partial batch response."""
    logs.clear()
    logs.bind(route="dynamodb:messages-stream")
    metrics.begin()
    metrics.count(metrics.INVOCATIONS)
    failed: set[str] = set()
    order: list[str] = []
    changes: list[MessageChange] = []
    for record in records:
        sequence = str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
        order.append(sequence)
        try:
            changes.append(decode(record))
        except PoisonRecord as exc:
            logger.error("unreadable stream record", extra={"sequence_number": sequence, "reason": str(exc)})
            failed.add(sequence)
    for name, consumer in CONSUMERS:
        try:
            failures = set(consumer(changes))
        except Exception:
            logger.exception("stream consumer failed its whole batch", extra={"consumer": name})
            failures = {change.sequence_number for change in changes}
        if failures:
            logger.warning("stream consumer failed records", extra={"consumer": name, "records": len(failures)})
        failed |= failures
    if failed:
        metrics.count(metrics.HANDLER_ERRORS)
    metrics.flush(get_settings().stage)
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in order if sequence in failed]}
