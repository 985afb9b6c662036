"""CloudWatch metrics in Embedded Metric Format: counted during one invocation, written as one JSON log line.

CloudWatch Logs turns the line into metrics: no API call, no extra latency. Entry points call ``begin`` when an
invocation starts and ``flush`` when it ends; anything below counts with ``count`` / ``duration``.
Namespace ``crochet-messaging``, one dimension set ``[stage]`` (each metric name is one custom metric per stage).

Who counts what: the entry points (``entrypoints/http/routing.py``, ``ws/dispatcher.py``, ``uploads.py``) count
``INVOCATIONS``, the latencies, and from the answer they give ``HANDLER_ERRORS`` (any 5xx, or an upload event that
raised) and ``RATE_LIMITED`` (429 / a ``rate_limited`` error frame) — a use case raises ``RateLimited`` and never
counts it itself. Use cases count what only they know: ``MESSAGES_SENT`` (a stored message, not a replay), the
deliveries by outcome, ``UPLOADS_REJECTED``. The alarms on them are in ``infrastructure/template.yaml``.
"""

from __future__ import annotations

import json
import sys
import time
from contextvars import ContextVar
from typing import Any

NAMESPACE = "crochet-messaging"

_pending: ContextVar[dict[str, tuple[float, str]] | None] = ContextVar("metrics", default=None)


def begin() -> None:
    """Start counting for this invocation (what an earlier one left unflushed is dropped)."""
    _pending.set({})


def count(name: str, value: float = 1) -> None:
    """Add ``value`` to the counter ``name`` of this invocation."""
    pending = _pending.get()
    if pending is None:
        pending = {}
        _pending.set(pending)
    total, _ = pending.get(name, (0.0, "Count"))
    pending[name] = (total + value, "Count")


def duration(name: str, milliseconds: float) -> None:
    """Record how long something took in this invocation (the last value of ``name`` wins)."""
    pending = _pending.get()
    if pending is None:
        pending = {}
        _pending.set(pending)
    pending[name] = (round(milliseconds, 1), "Milliseconds")


def document(stage: str, at_ms: int | None = None) -> dict[str, Any] | None:
    """This invocation's metrics as an EMF document (None when nothing was counted)."""
    pending = _pending.get() or {}
    if not pending:
        return None
    return {
        "_aws": {
            "Timestamp": at_ms if at_ms is not None else int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["stage"]],
                    "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in sorted(pending.items())],
                }
            ],
        },
        "stage": stage,
        **{name: value for name, (value, _) in pending.items()},
    }


def flush(stage: str) -> None:
    """Write this invocation's metrics to stdout (where Lambda's log lines go) and start over."""
    emitted = document(stage)
    _pending.set({})
    if emitted is not None:
        sys.stdout.write(json.dumps(emitted, separators=(",", ":")) + "\n")


def answered(status: int) -> None:
    """Count what an entry point's answer says: a 5xx is a handler error, a 429 a rate-limited request."""
    if status >= 500:
        count(HANDLER_ERRORS)
    elif status == 429:
        count(RATE_LIMITED)


# The metrics operators alarm on (infrastructure/template.yaml), named once.
INVOCATIONS = "Invocations"  # every HTTP request, socket event and upload event handled: the error rate's base
MESSAGES_SENT = "MessagesSent"
DELIVERED, GONE, FAILED = "DeliveriesDelivered", "DeliveriesGone", "DeliveriesFailed"
RATE_LIMITED = "RateLimited"
UPLOADS_REJECTED = "UploadsRejected"
HANDLER_ERRORS = "HandlerErrors"
LATENCY = "Latency"  # an HTTP request, from the route wrapper's start to its response
FRAME_LATENCY = "FrameLatency"  # a socket frame ($default), from dispatch to its answer posted
