"""The search probe of ``make bench-load`` (``bench/load.py``): which messages it samples, that it holds each user
under the search rate limit, and that a message not found within the bound is reported as a miss. (The lag itself
is measured, never asserted.)"""

from __future__ import annotations

import asyncio

import pytest

from bench import load


def _probe(every: int = 10) -> load.SearchProbe:
    plan = load.Plan(
        {"conv_a": ("u1", "u2"), "conv_b": ("u3", "u4")},
        [load.Client(0, "u1", "conv_a"), load.Client(1, "u2", "conv_a"), load.Client(2, "u3", "conv_b")],
    )
    return load.SearchProbe("http://127.0.0.1:9", plan, every=every, poll_s=0.5, seed=1)


def test_one_message_in_n_is_sampled_and_a_conversation_has_one_probe_at_a_time() -> None:
    probe = _probe(every=10)
    a, b = probe.plan.clients[0], probe.plan.clients[2]
    assert probe.word_for(3, a) is None  # not one in ten
    first = probe.word_for(10, a)
    assert first is not None and len(first.word) == 10 and first.word.isalpha()
    assert probe.word_for(20, a) is None  # conv_a still has a probe in flight
    other = probe.word_for(20, b)
    assert other is not None and other.word != first.word
    assert _probe(every=0).word_for(0, a) is None  # --search-every 0: no probe


def test_a_failed_send_frees_its_conversation_and_is_not_counted_as_probed() -> None:
    probe = _probe()
    client = probe.plan.clients[0]
    probed = probe.word_for(10, client)
    assert probed is not None
    probe.start(probed, load.Sent(10, 0, "conv_a", 0.0, error="TimeoutError"), client.user)
    assert probed.unsent and "conv_a" not in probe.busy and not probe.tasks
    assert probe.summary(1.0)["probed"] == 0


def test_each_user_is_held_under_the_search_limit() -> None:
    probe = _probe()

    async def polls() -> None:
        for _ in range(load.SEARCH_POLLS_PER_MINUTE):
            await asyncio.wait_for(probe._within_limit("u1"), 0.5)  # within the budget: at once
        with pytest.raises(TimeoutError):  # the next waits for the oldest to leave the 60 s window
            await asyncio.wait_for(probe._within_limit("u1"), 0.2)
        await asyncio.wait_for(probe._within_limit("u2"), 0.5)  # another user's budget is its own

    asyncio.run(polls())
    assert load.SEARCH_POLLS_PER_MINUTE < 30  # RATE_LIMIT_SEARCH's default: 30 per 60 s


def test_found_past_the_bound_or_never_is_a_miss() -> None:
    probe = _probe()
    found, late, never = (load.Probed(i, "conv_a", w, acked_at=0.0) for i, w in ((1, "x"), (2, "y"), (3, "z")))
    found.found_at, late.found_at, late.late = 1.5, load.SEARCH_BOUND_SECONDS + 1, True
    probe.probed = [found, late, never]
    summary = probe.summary(10.0)
    assert (summary["probed"], summary["found"]) == (3, 1)
    assert summary["lag_ms"]["p50"] == 1500.0
    assert len(summary["missed"]) == 2 and "past the bound" in summary["missed"][0]
    rows = load._search_rows(summary)
    assert "1 of 3" in rows[0] and "**missed**" in rows[0]


def test_misses_are_searched_again_after_the_sends_and_found_late_ones_are_told_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    probe = _probe()
    indexed_late = load.Probed(1, "conv_a", "x", acked_at=0.0, message_id="m1", recipient="u2")
    lost = load.Probed(2, "conv_b", "y", acked_at=0.0, message_id="m2", recipient="u4")
    probe.probed = [indexed_late, lost]
    monkeypatch.setattr(load, "SEARCH_RECHECK_SECONDS", 0.3)
    monkeypatch.setattr(load, "SEARCH_RECHECK_EVERY_SECONDS", 0.05)
    monkeypatch.setattr(probe, "_search", lambda user, word, message_id: message_id == "m1")
    asyncio.run(probe._recheck_misses())
    summary = probe.summary(1.0)
    assert (summary["found"], len(summary["found_late"]), summary["never_found"]) == (0, 1, 1)
    assert "1 of the misses found" in load._search_rows(summary)[0] and "1 never" in load._search_rows(summary)[0]
