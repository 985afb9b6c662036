"""``adapters.dynamodb.parallel.each``: independent requests of a stream batch go out together, results in order."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from chalicelib import logs
from chalicelib.adapters.dynamodb import parallel


def test_results_keep_the_items_order() -> None:
    assert parallel.each(lambda n: n * n, range(20)) == [n * n for n in range(20)]


def test_items_run_at_once() -> None:
    # Each item waits for all the others: one after another, the first would wait alone and the barrier break.
    barrier = threading.Barrier(parallel.WORKERS, timeout=5)
    assert parallel.each(lambda n: barrier.wait() >= 0 and n, range(parallel.WORKERS)) == list(range(parallel.WORKERS))


def test_a_failure_is_raised_after_the_others_ran() -> None:
    done: list[int] = []

    def work(n: int) -> int:
        if n == 0:
            raise ValueError("refused")
        done.append(n)
        return n

    with pytest.raises(ValueError, match="refused"):
        parallel.each(work, range(6))
    assert sorted(done) == [1, 2, 3, 4, 5]


def test_one_item_runs_on_the_callers_thread() -> None:
    assert parallel.each(lambda _: threading.current_thread(), [None]) == [threading.current_thread()]
    assert parallel.each(lambda n: n, []) == []


def test_the_callers_log_fields_reach_every_item() -> None:
    # A log line written inside a pool thread carries the request's correlation ids, as on the caller's thread.
    formatter = logs.JsonFormatter()
    logs.bind(request_id="req-7", user_id="alice")
    try:
        lines = parallel.each(
            lambda n: json.loads(formatter.format(logging.makeLogRecord({"msg": f"item {n}"}))), range(parallel.WORKERS)
        )
    finally:
        logs.clear()
    assert [(line["request_id"], line["user_id"], line["message"]) for line in lines] == [
        ("req-7", "alice", f"item {n}") for n in range(parallel.WORKERS)
    ]
