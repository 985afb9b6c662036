"""Committing a group of writes atomically, and telling contention from real failure."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import AppError, ServiceUnavailable
from chalicelib.models import Conversation
from chalicelib.services.rate_limits import rate_limited

T = TypeVar("T")

_RETRYABLE_REASONS = {"ConditionalCheckFailed", "TransactionConflict"}


class Contention(Exception):
    """Another writer changed what this attempt read: read again and retry."""


def commit(build: Callable[[TransactWrite], None]) -> None:
    """Write what ``build`` adds to one TransactWriteItems, all or nothing.

    A fresh client request token per attempt makes the SDK's own retries idempotent. Raises
    Contention for a lost race (a condition failed), ServiceUnavailable for anything else.
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
        reasons = {reason.code for reason in exc.cancellation_reasons if reason is not None}
        if exc.cause_response_code == "TransactionCanceledException" and reasons & _RETRYABLE_REASONS:
            raise Contention(sorted(reasons)) from exc
        raise ServiceUnavailable(
            "storage is busy, retry the request", details={"cause": exc.cause_response_code}
        ) from exc


def with_retries(attempt: Callable[[], T], *, max_attempts: int) -> T:
    """Run ``attempt`` (read, decide, commit) until it commits without losing a race."""
    for number in range(max_attempts):
        try:
            return attempt()
        except Contention:
            time.sleep(random.uniform(0, 0.01 * (2**number)))
        except AppError:
            raise
        except PynamoDBException as exc:
            raise ServiceUnavailable(
                "storage is unavailable, retry the request", details={"cause": type(exc).__name__}
            ) from exc
    raise ServiceUnavailable("the conversation is busy, retry the request", code="contention")
