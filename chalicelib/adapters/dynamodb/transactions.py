"""Committing a group of writes atomically, and telling contention from real failure."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from pynamodb.exceptions import CancellationReason, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb.conversations import Conversation
from chalicelib.adapters.dynamodb.rate_limits import rate_limited
from chalicelib.errors import AppError, ErrorCode, ServiceUnavailable

T = TypeVar("T")

_RETRYABLE_REASONS = {"ConditionalCheckFailed", "TransactionConflict"}

MAX_ITEMS = 100  # DynamoDB's limit of actions in one TransactWriteItems

Write = Callable[[TransactWrite], None]  # adds one action (one item) to a transaction


class Contention(Exception):
    """Another writer changed what this attempt read: read again and retry."""


Refusal = Callable[[list[CancellationReason | None]], AppError | None]


def commit(build: Callable[[TransactWrite], None], *, refused: Refusal | None = None) -> None:
    """Write what ``build`` adds to one TransactWriteItems, all or nothing.

    A fresh client request token per attempt makes the SDK's own retries idempotent. Raises RateLimited when a
    rate counter refused it, Contention for a lost race (a condition failed); any other failure propagates to
    the error boundary (a retryable 503). ``refused`` names the conditions that are an answer rather than a lost
    race (``blocks.refusal``: a block between the two users): the error it returns is raised.
    """
    try:
        with TransactWrite(
            connection=Conversation._get_connection().connection,
            client_request_token=uuid.uuid4().hex,
        ) as transaction:
            build(transaction)
    except TransactWriteError as exc:
        limited = rate_limited(list(exc.cancellation_reasons))
        if limited is not None:
            raise limited from exc
        refusal = refused(list(exc.cancellation_reasons)) if refused is not None else None
        if refusal is not None:
            raise refusal from exc
        reasons = {reason.code for reason in exc.cancellation_reasons if reason is not None}
        if exc.cause_response_code == "TransactionCanceledException" and reasons & _RETRYABLE_REASONS:
            raise Contention(sorted(reasons)) from exc
        raise


def commit_in_chunks(writes: list[Write]) -> int:
    """Commit ``writes`` (one item each) in as few transactions of at most ``MAX_ITEMS`` as they need, in order;
    returns how many. Each chunk is atomic, the whole is not: put the write that makes the rest findable again
    (say, deleting the item that lists them) last, so that a failure part-way can be retried."""
    chunks = [writes[start : start + MAX_ITEMS] for start in range(0, len(writes), MAX_ITEMS)]
    for chunk in chunks:

        def build(transaction: TransactWrite, chunk: list[Write] = chunk) -> None:
            for write in chunk:
                write(transaction)

        commit(build)
    return len(chunks)


def with_retries(attempt: Callable[[], T], *, max_attempts: int) -> T:
    """Run ``attempt`` (read, decide, commit) until it commits without losing a race."""
    for number in range(max_attempts):
        try:
            return attempt()
        except Contention:
            time.sleep(random.uniform(0, 0.01 * (2**number)))  # nosec B311 # backoff jitter, not a secret
    raise ServiceUnavailable("the conversation is busy, retry the request", code=ErrorCode.CONTENTION)
