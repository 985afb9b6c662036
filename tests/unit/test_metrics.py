"""Embedded Metric Format: what one invocation counted becomes one log line CloudWatch turns into metrics."""

from __future__ import annotations

import json

import pytest

from chalicelib import metrics


def test_counts_add_up_and_become_one_emf_document() -> None:
    metrics.begin()
    metrics.count(metrics.DELIVERED, 3)
    metrics.count(metrics.DELIVERED)
    metrics.count(metrics.GONE)
    metrics.duration(metrics.LATENCY, 12.34)

    document = metrics.document("dev", at_ms=1_700_000_000_000)

    assert document == {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "crochet-messaging",
                    "Dimensions": [["stage"]],
                    "Metrics": [
                        {"Name": "DeliveriesDelivered", "Unit": "Count"},
                        {"Name": "DeliveriesGone", "Unit": "Count"},
                        {"Name": "Latency", "Unit": "Milliseconds"},
                    ],
                }
            ],
        },
        "stage": "dev",
        "DeliveriesDelivered": 4,
        "DeliveriesGone": 1,
        "Latency": 12.3,
    }


def test_flush_writes_one_line_and_starts_over(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.begin()
    metrics.count(metrics.MESSAGES_SENT)

    metrics.flush("prod")
    metrics.flush("prod")  # nothing counted since: nothing written

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["MessagesSent"] == 1


def test_nothing_counted_writes_nothing() -> None:
    metrics.begin()

    assert metrics.document("dev") is None


@pytest.mark.parametrize(
    ("status", "counted"),
    [(200, {}), (201, {}), (400, {}), (404, {}), (429, {"RateLimited": 1}), (500, {"HandlerErrors": 1}),
     (503, {"HandlerErrors": 1})],
)  # fmt: skip
def test_an_answer_counts_handler_errors_and_rate_limited_requests(status: int, counted: dict[str, int]) -> None:
    metrics.begin()
    metrics.count(metrics.INVOCATIONS)

    metrics.answered(status)

    document = metrics.document("dev", at_ms=0)
    assert document is not None
    assert {name: document[name] for name in ("RateLimited", "HandlerErrors") if name in document} == counted


def test_one_invocation_does_not_leak_into_the_next() -> None:
    metrics.begin()
    metrics.count(metrics.HANDLER_ERRORS)
    metrics.begin()  # the next invocation, after one that never flushed (it timed out)
    metrics.count(metrics.INVOCATIONS)

    document = metrics.document("dev", at_ms=0)
    assert document is not None and "HandlerErrors" not in document
