"""Per-user rate limits that cost no extra round trip where a request writes: the counter rides in its transaction.

Each limited write adds one conditional ``ADD hits 1`` on the user's counter for the current window;
over the limit, the condition fails, the whole transaction is cancelled (nothing is written) and the
caller gets 429 with ``Retry-After``. Counters live in DynamoDB, so the limit holds across Lambdas.
Requests that write nothing (typing, ping, the expensive GETs, a read or join that changes nothing) ``spend``
instead: the same conditional update on its own, one UpdateItem.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

from pynamodb.constants import ALL_OLD
from pynamodb.exceptions import CancellationReason, UpdateError

from chalicelib.adapters.dynamodb.limits import RateCounter
from chalicelib.errors import RateLimited
from chalicelib.settings import get_settings

_PREFIX = "rate#"


def charge(transaction: Any, user_id: str, action: str, *, now: float | None = None) -> None:
    """Count one ``action`` by ``user_id`` in ``transaction``; the transaction fails when over the limit."""
    maximum, period = get_settings().rate_limits[action]
    if maximum <= 0:
        return
    now = time.time() if now is None else now
    window = int(now // period)
    counter = RateCounter(f"{_PREFIX}{action}#{period}#{window}#{user_id}")
    transaction.update(
        counter,
        actions=[RateCounter.hits.add(1), RateCounter.expires_at.set(datetime.fromtimestamp(now + 2 * period, UTC))],
        condition=RateCounter.hits.does_not_exist() | (RateCounter.hits < maximum),
        return_values=ALL_OLD,
    )


def spend(user_id: str, action: str, *, now: float | None = None) -> None:
    """Count one ``action`` by ``user_id`` on its own (one UpdateItem); RateLimited when over the limit."""
    maximum, period = get_settings().rate_limits[action]
    if maximum <= 0:
        return
    now = time.time() if now is None else now
    window = int(now // period)
    try:
        RateCounter(f"{_PREFIX}{action}#{period}#{window}#{user_id}").update(
            actions=[
                RateCounter.hits.add(1),
                RateCounter.expires_at.set(datetime.fromtimestamp(now + 2 * period, UTC)),
            ],
            condition=RateCounter.hits.does_not_exist() | (RateCounter.hits < maximum),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        raise _refusal(action, period, window, now) from exc


def _refusal(action: str, period: int, window: int, now: float) -> RateLimited:
    retry_after = max(1, math.ceil((window + 1) * period - now))
    return RateLimited(f"too many {action} requests; retry in {retry_after} s", retry_after=retry_after)


def rate_limited(reasons: list[CancellationReason | None], *, now: float | None = None) -> RateLimited | None:
    """The 429 for a transaction cancelled by a full counter, or None when something else cancelled it."""
    now = time.time() if now is None else now
    for reason in reasons:
        if reason is None or reason.code != "ConditionalCheckFailed" or not reason.raw_item:
            continue
        key = reason.raw_item.get("key", {}).get("S", "")
        if not key.startswith(_PREFIX):
            continue
        action, period, window, _ = key[len(_PREFIX) :].split("#", 3)
        return _refusal(action, int(period), int(window), now)
    return None
