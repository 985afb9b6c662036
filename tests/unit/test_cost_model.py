"""The arithmetic of ``bench/units.py`` and ``bench/cost.py``: DynamoDB's sizing and billing rules, and a bill that
scales with its profile. (The benchmark's figures themselves are measured, never asserted.)"""

from __future__ import annotations

import pytest

from bench import cost, units


def test_item_size_follows_dynamodbs_rules() -> None:
    assert units.item_size({"id": {"S": "abc"}}) == 2 + 3
    assert units.item_size({"n": {"N": "123"}}) == 1 + 3  # two significant digits a byte, plus one
    assert units.item_size({"n": {"N": "1000"}}) == 1 + 2  # trailing zeros are not significant
    assert units.item_size({"é": {"S": "ü"}}) == 2 + 2  # UTF-8 bytes, names included
    assert units.item_size({"b": {"BOOL": True}, "z": {"NULL": True}}) == 2 + 2
    assert units.item_size({"m": {"M": {"a": {"S": "x"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert units.item_size({"l": {"L": [{"S": "x"}, {"S": "yz"}]}}) == 1 + 3 + (1 + 1) + (1 + 2)
    assert units.item_size({"s": {"SS": ["ab", "c"]}}) == 1 + 3
    assert units.item_size(None) == 0


@pytest.mark.parametrize(
    ("size", "consistent", "transactional", "expected"),
    [(100, True, False, 1.0), (100, False, False, 0.5), (4096, True, False, 1.0), (4097, True, False, 2.0),
     (5000, False, False, 1.0), (100, True, True, 2.0)],
)  # fmt: skip
def test_reads_are_billed_per_4_kb(size: int, consistent: bool, transactional: bool, expected: float) -> None:
    assert units.read_units(size, consistent=consistent, transactional=transactional) == expected


def test_writes_are_billed_per_kb_and_double_in_a_transaction() -> None:
    assert units.write_units(10) == 1
    assert units.write_units(1025) == 2
    assert units.write_units(1025, transactional=True) == 4


def test_an_index_is_written_when_its_item_is_or_was_in_it() -> None:
    keys = ["user_id", "activity_at"]
    before = {"user_id": {"S": "a"}, "activity_at": {"S": "1"}}
    moved = {"user_id": {"S": "a"}, "activity_at": {"S": "2"}}
    assert units.index_writes(None, {"user_id": {"S": "a"}}, keys) == 0  # no range key: not in the index
    assert units.index_writes(None, before, keys) == 1
    assert units.index_writes(before, None, keys) == 1
    assert units.index_writes(before, {**before, "x": {"S": "y"}}, keys) == 1  # same key: one write
    assert units.index_writes(before, moved, keys) == 2  # a new key: a delete and a put


def test_s3_requests_fall_in_their_price_class() -> None:
    assert units.s3_request_class("PutObject") == units.s3_request_class("PutObjectTagging") == "put"
    assert units.s3_request_class("GetObject") == units.s3_request_class("HeadObject") == "get"
    assert units.s3_request_class("DeleteObject") is None


def _units() -> dict[str, cost.Units]:
    base = {
        "round_trips": 3,
        "transactions": 1,
        "read_units": 4.0,
        "write_units": 10.0,
        "posts": 2,
        "post_bytes": [300, 300],
        "client_frames": [120],
        "invocations": {"websocket_message": 1},
        "log_bytes": 250,
        "own_ms": 5.0,
        "stored_bytes": {"messages": 400},
        "stored_items": {"messages": 1},
    }
    found = {name: cost.Units(name=name, **base) for name in cost.Profile().operations()}
    found["photo processing"].stored_bytes = {"s3": 1_000_000}
    found["photo upload request"].client_upload_bytes = 2_000_000
    return found


def test_the_bill_grows_with_its_users_and_prices_every_line() -> None:
    small = cost.bill(_units(), cost.Profile(mau=1000), {"websocket_message": 200.0})
    large = cost.bill(_units(), cost.Profile(mau=2000), {"websocket_message": 200.0})
    assert small.total > 0
    assert large.total == pytest.approx(2 * small.total, rel=0.01)  # data transfer stays under the free 100 GB
    assert small.per_million_messages() == pytest.approx(large.per_million_messages(), rel=0.01)
    by_item = {(line.service, line.item): line for line in small.lines}
    writes = by_item[("DynamoDB", "writes (tables and indexes)")]
    assert writes.usd == pytest.approx(writes.quantity * 0.625 / 1e6)
    assert small.hosted()["twilio"] == pytest.approx((1000 - 200) * 0.05)


def test_lambda_time_is_scaled_to_the_cpu_share_of_its_memory() -> None:
    op = cost.Units(name="x", round_trips=2, transactions=1, own_ms=10.0)
    # 10 ms on a full core is ~34.6 ms at 512 MB; plus a read (5 ms) and a transaction (10 ms).
    assert cost.billed_ms(op, 512) == 50
    assert cost.billed_ms(op, 2048) == 25


def test_the_asynchronous_path_is_priced_per_message_and_shrinks_with_bigger_windows() -> None:
    one = sum(step.usd() for step in cost.async_path(1.0))
    five = sum(step.usd() for step in cost.async_path(5.0))
    assert 0 < five < one
    # Every message pays its window check and its webhook, whatever the window.
    assert five > cost.async_path(5.0)[1].usd() + cost.async_path(5.0)[3].usd() > 0
    rows = cost.render_async_path()
    assert any("total, every message its own window" in row for row in rows)


def test_web_push_is_a_row_of_the_asynchronous_path() -> None:
    steps = [step for step in cost.async_path(1.0) if step.what.startswith("push:")]
    assert len(steps) == 2 and all(step.usd() > 0 for step in steps)
    job = steps[1]
    assert (job.read_units, job.write_units, job.lambda_invocations) == (2.0, 1.0, 1.0)
    assert any(row.startswith("| push: queue, job") for row in cost.render_async_path())


def _search_measurement(typical_items: int) -> dict[str, object]:
    """The shape ``python -m bench.search_index`` writes to bench/out/search_index.json."""
    return {
        "rows": [
            {"message": "short", "characters": 7, "items": 9},
            {"message": "typical", "characters": 93, "items": typical_items},
        ]
    }


def test_search_indexing_is_a_row_of_the_asynchronous_path_from_the_measured_items() -> None:
    without = cost.async_path(1.0)
    measured = cost.async_path(1.0, _search_measurement(114))
    assert not any(step.what.startswith("search:") for step in without)
    (search,) = [step for step in measured if step.what.startswith("search:")]
    assert search.write_units == 114 and "93-character" in search.what
    assert search.usd() * 1e6 == pytest.approx(114 * 0.625)  # one WRU per index item, on-demand
    # Derived from the measurement, not a constant: twice the items, twice the row.
    (doubled,) = [s for s in cost.async_path(1.0, _search_measurement(228)) if s.what.startswith("search:")]
    assert doubled.usd() == pytest.approx(2 * search.usd())
    # The other rows keep their places and the total grows by the search row, whatever the window.
    assert measured[: len(without)] == without
    for window in (1.0, 5.0):
        plain = sum(step.usd() for step in cost.async_path(window))
        assert sum(step.usd() for step in cost.async_path(window, _search_measurement(114))) == pytest.approx(
            plain + search.usd()
        )


def test_the_search_row_is_rendered_and_counted_in_the_totals() -> None:
    rows = cost.render_async_path(_search_measurement(114))
    assert any(row.startswith("| search: index items of a typical 93-character message") for row in rows)
    assert any(row.endswith("| 71.25 |") for row in rows)
    plain = sum(step.usd() for step in cost.async_path(1.0)) * 1e6
    total = next(row for row in rows if "total, every message its own window" in row)
    assert f"**{plain + 71.25:,.2f}**" in total
    assert not any(row.startswith("| search:") for row in cost.render_async_path())
    bill = cost.bill(_units(), cost.Profile(), {"websocket_message": 200.0})
    assert any(row.startswith("| search:") for row in cost.render(bill, search=_search_measurement(114)))


def test_make_bench_renders_the_asynchronous_path_once() -> None:
    """bench/run.py writes the table as a section of its own: the cost section leaves it out."""
    bill = cost.bill(_units(), cost.Profile(), {"websocket_message": 200.0})
    title = "Asynchronous path per message"
    assert sum(row.startswith(title) for row in cost.render(bill)) == 1
    assert not any(row.startswith(title) for row in cost.render(bill, async_path=False))
    assert any(row.startswith("**$") for row in cost.render(bill, async_path=False))


def test_a_measurement_without_the_billed_message_is_refused() -> None:
    with pytest.raises(KeyError, match="typical"):
        cost.search_indexing({"rows": [{"message": "short", "characters": 7, "items": 9}]})
