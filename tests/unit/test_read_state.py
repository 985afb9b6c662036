"""Per-participant read state: receipts, the read position, read marks and their persistence."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.read_state import MAX_READ_MARKS, ParticipantState


def t(n: int) -> str:
    """The n-th instant of a test, as the wire formats it (lexicographic order is time order)."""
    return f"2026-01-01T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000Z"


def received(count: int) -> ParticipantState:
    """A state that has received ``count`` messages m1 … m<count> and read none."""
    state = ParticipantState()
    for receipt in range(1, count + 1):
        state = state.receive(f"m{receipt}")
    return state


# --- receiving -------------------------------------------------------------------------------------


def test_new_state_is_empty() -> None:
    state = ParticipantState()
    assert (state.received, state.read_position, state.unread) == (0, 0, 0)
    assert state.read_marks == ()
    assert state.last_read_at is None


def test_receive_counts_and_remembers_the_last_message() -> None:
    state = received(3)
    assert state.received == 3
    assert state.unread == 3
    assert state.last_received_message_id == "m3"


def test_receive_returns_a_new_state() -> None:
    before = ParticipantState()
    after = before.receive("m1")
    assert before.received == 0
    assert after.received == 1


# --- reading ---------------------------------------------------------------------------------------


def test_read_up_to_moves_the_position_and_records_when() -> None:
    state = received(5).read_up_to(3, "m3", t(1))
    assert state.read_position == 3
    assert state.unread == 2
    assert state.last_read_message_id == "m3"
    assert state.last_read_at == t(1)
    assert state.read_marks == ((3, t(1)),)


@pytest.mark.parametrize("position", [0, 1, 2, 3])
def test_read_up_to_never_moves_backwards(position: int) -> None:
    state = received(5).read_up_to(3, "m3", t(1))
    assert state.read_up_to(position, f"m{position}", t(2)) == state


def test_read_up_to_clamps_to_what_was_received() -> None:
    state = received(3).read_up_to(10, "m10", t(1))
    assert state.read_position == 3
    assert state.unread == 0
    assert state.read_marks == ((3, t(1)),)


def test_reading_past_received_when_caught_up_changes_nothing() -> None:
    state = received(3).read_up_to(3, "m3", t(1))
    assert state.read_up_to(5, "m5", t(2)) == state


def test_unread_arithmetic_across_receives_and_reads() -> None:
    state = received(4).read_up_to(2, "m2", t(1))
    assert state.unread == 2
    state = state.receive("m5").receive("m6")
    assert (state.received, state.read_position, state.unread) == (6, 2, 4)
    state = state.read_up_to(6, "m6", t(2))
    assert state.unread == 0
    state = state.receive("m7")
    assert state.unread == 1


# --- read_at ---------------------------------------------------------------------------------------


def test_read_at_is_none_for_unread_receipts() -> None:
    state = received(5).read_up_to(2, "m2", t(1))
    assert state.read_at(3) is None
    assert state.read_at(5) is None


def test_read_at_is_the_first_mark_that_covers_the_receipt() -> None:
    state = received(6).read_up_to(2, "m2", t(1)).read_up_to(5, "m5", t(2))
    assert [state.read_at(receipt) for receipt in range(1, 7)] == [t(1), t(1), t(2), t(2), t(2), None]


def test_read_at_without_marks_falls_back_to_last_read_at() -> None:
    # A state persisted before read marks existed: a position and a time, no marks.
    state = ParticipantState(received=3, read_position=2, last_read_at=t(7))
    assert state.read_at(1) == t(7)
    assert state.read_at(3) is None


def test_read_marks_are_capped_keeping_the_latest() -> None:
    state = received(MAX_READ_MARKS + 20)
    for position in range(1, MAX_READ_MARKS + 21):
        state = state.read_up_to(position, f"m{position}", t(position))
    assert len(state.read_marks) == MAX_READ_MARKS
    assert state.read_marks[0] == (21, t(21))
    assert state.read_marks[-1] == (MAX_READ_MARKS + 20, t(MAX_READ_MARKS + 20))
    # The newest receipts keep their exact time.
    assert state.read_at(MAX_READ_MARKS + 20) == t(MAX_READ_MARKS + 20)
    assert state.read_at(50) == t(50)
    # Receipts whose mark was dropped are still read, at the oldest time still known.
    assert state.read_at(1) == t(21)


# --- persistence -----------------------------------------------------------------------------------


def test_to_item_uses_the_stored_field_names() -> None:
    item = received(3).read_up_to(2, "m2", t(1)).to_item()
    assert item == {
        "received": 3,
        "readPosition": 2,
        "lastReceivedMessageId": "m3",
        "lastReadMessageId": "m2",
        "lastReadAt": t(1),
        "readMarks": [[2, t(1)]],
    }


@pytest.mark.parametrize(
    "state",
    [
        ParticipantState(),
        received(2),
        received(6).read_up_to(2, "m2", t(1)).read_up_to(5, "m5", t(2)),
    ],
)
def test_to_item_from_item_round_trip(state: ParticipantState) -> None:
    assert ParticipantState.from_item(state.to_item()) == state


def test_from_item_accepts_what_dynamodb_returns() -> None:
    item: dict[str, Any] = {
        "received": Decimal(4),
        "readPosition": Decimal(2),
        "readMarks": [[Decimal(1), t(1)], [Decimal(2), t(2)]],
    }
    state = ParticipantState.from_item(item)
    assert (state.received, state.read_position, state.unread) == (4, 2, 2)
    assert state.read_marks == ((1, t(1)), (2, t(2)))
    assert state.read_at(2) == t(2)


@pytest.mark.parametrize("item", [None, {}])
def test_from_item_of_nothing_is_a_fresh_state(item: dict[str, Any] | None) -> None:
    assert ParticipantState.from_item(item) == ParticipantState()


def test_from_item_with_null_marks() -> None:
    state = ParticipantState.from_item({"received": 1, "readPosition": 1, "readMarks": None, "lastReadAt": t(3)})
    assert state.read_marks == ()
    assert state.read_at(1) == t(3)
