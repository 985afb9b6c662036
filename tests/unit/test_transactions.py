"""Optimistic retries: lost races are retried, a conversation that stays busy answers 503 contention."""

from __future__ import annotations

import pytest
from pynamodb.exceptions import PutError

from chalicelib.adapters.dynamodb.transactions import Contention, with_retries
from chalicelib.entrypoints.boundary import to_app_error
from chalicelib.errors import InvalidRequest, ServiceUnavailable


def test_a_lost_race_is_retried_until_it_commits() -> None:
    attempts: list[int] = []

    def attempt() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise Contention("version moved")
        return "committed"

    assert with_retries(attempt, max_attempts=5) == "committed"
    assert len(attempts) == 3


def test_a_conversation_that_stays_busy_gives_503_contention() -> None:
    def attempt() -> None:
        raise Contention("always")

    with pytest.raises(ServiceUnavailable) as caught:
        with_retries(attempt, max_attempts=3)

    assert caught.value.code == "contention" and caught.value.status == 503


def test_client_errors_are_not_retried() -> None:
    calls: list[int] = []

    def attempt() -> None:
        calls.append(1)
        raise InvalidRequest("bad")

    with pytest.raises(InvalidRequest):
        with_retries(attempt, max_attempts=5)
    assert calls == [1]


def test_storage_failures_are_not_retried_and_reach_the_error_boundary_as_503() -> None:
    calls: list[int] = []

    def attempt() -> None:
        calls.append(1)
        raise PutError("throttled")

    with pytest.raises(PutError) as caught:
        with_retries(attempt, max_attempts=5)

    assert calls == [1]
    answered = to_app_error(caught.value)
    assert answered is not None and (answered.status, answered.code) == (503, "temporarily_unavailable")
