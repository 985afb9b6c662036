"""The e2e stacks run with ``make dev``'s settings, not with the in-process suites' tuning."""

from __future__ import annotations

import os

from tests.e2e.conftest import stack_environment
from tests.tuning import IN_PROCESS_TUNING, RATE_LIMITS_OFF


def test_the_stack_leaves_out_the_in_process_tuning() -> None:
    assert os.environ["CONNECT_GRACE_SECONDS"] == "0"  # what this process runs with (tests/conftest.py)
    env = stack_environment({"DEV_API_PORT": 8123})
    # With a grace of 0 a fan-out that races a reconnect (410 before $connect returned) forgets the new socket.
    assert not set(IN_PROCESS_TUNING) & set(env)
    assert env["DEV_API_PORT"] == "8123"


def test_the_stack_keeps_rate_limits_off() -> None:
    env = stack_environment({})
    assert {name: env.get(name) for name in RATE_LIMITS_OFF} == RATE_LIMITS_OFF
