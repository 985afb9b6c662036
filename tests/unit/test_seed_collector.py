"""The bulk seed runs with Python's cyclic collector paused, and leaves it as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bench import seed


@pytest.fixture
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_while_seeding_and_on_after(collector_on: None) -> None:
    with seed.collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_failed_seed_turns_the_collector_back_on(collector_on: None) -> None:
    with pytest.raises(RuntimeError), seed.collector_paused():
        raise RuntimeError("write failed")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(collector_on: None) -> None:
    gc.disable()
    with seed.collector_paused():
        pass
    assert not gc.isenabled()


@pytest.mark.parametrize("grow", [seed.grow_inbox, seed.grow_history])
def test_both_growers_run_with_the_collector_paused(grow: object, collector_on: None) -> None:
    assert getattr(grow, "__wrapped__", None) is not None, "grow_inbox / grow_history are wrapped by _paused"
    seen: list[bool] = []
    paused = seed._paused(lambda: seen.append(gc.isenabled()))
    paused()
    assert seen == [False]
    assert gc.isenabled()
