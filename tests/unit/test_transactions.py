"""Optimistic retries: lost races are retried, a conversation that stays busy answers 503 contention."""

from __future__ import annotations

import pytest
from pynamodb.exceptions import PutError

from chalicelib.errors import InvalidRequest, ServiceUnavailable
from chalicelib.services.transactions import Contention, with_retries


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


def test_storage_failures_become_503() -> None:
    def attempt() -> None:
        raise PutError("throttled")

    with pytest.raises(ServiceUnavailable) as caught:
        with_retries(attempt, max_attempts=5)

    assert caught.value.code == "temporarily_unavailable"
