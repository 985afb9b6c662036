"""Independent DynamoDB requests of one invocation in flight at once.

A stream batch is up to 100 records, and what a consumer writes for them (hundreds of index items, a conditional
update per recipient) does not depend on one another: one request after another would make the batch's duration,
its billed time and the stream's lag, their sum. botocore's clients are thread-safe; the pool stays within the
default connection pool of 10.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

WORKERS = 8


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """One pool per container: threads started per batch would cost more than the requests."""
    return ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="dynamodb")


def each(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``function`` of every item, up to ``WORKERS`` at once; the results in the items' order. An exception of one
    is raised after the others ran. ``function`` must not call ``each`` itself (the pool is shared and bounded)."""
    items = list(items)
    if len(items) <= 1:
        return [function(item) for item in items]
    # Each item in a copy of the caller's context: the request's bound log fields (``logs.bind``) reach the pool's
    # threads. One copy per item, because a context cannot be entered by two threads at once.
    futures = [_pool().submit(contextvars.copy_context().run, function, item) for item in items]
    wait(futures)  # none left running behind a failure: the caller reports the batch as it ended
    return [future.result() for future in futures]
