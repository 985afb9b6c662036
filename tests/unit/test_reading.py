"""Read receipts, decided without I/O (``domain.reading.plan_read``)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.conversations import ConversationState, new_conversation
from chalicelib.domain.ids import message_id_for
from chalicelib.domain.messages import MessageRecord
from chalicelib.domain.reading import plan_read
from chalicelib.errors import AppError, ErrorCode

NOW = "2026-12-01T10:00:00.000Z"


def chat_with_three_from_bob() -> tuple[ConversationState, list[MessageRecord]]:
    conversation = new_conversation("bob", "alice", "p1", None, NOW)
    messages = []
    for seq in (1, 2, 3):
        message_id = message_id_for(conversation.id, seq)
        states = {**conversation.states, "alice": conversation.state_of("alice").receive(message_id)}
        conversation = replace(conversation, states=states, message_count=seq, version=seq)
        messages.append(MessageRecord(conversation.id, seq, message_id, "bob", "alice", seq, f"m{seq}", NOW))
    return conversation, messages


def test_reading_a_message_reads_everything_before_it_and_moves_the_version() -> None:
    conversation, messages = chat_with_three_from_bob()

    plan = plan_read(conversation, messages[1], "alice", whole_conversation=False, now=NOW)

    assert plan.changed and plan.unread_delta == -2
    assert (plan.after.read_position, plan.after.last_read_message_id) == (2, messages[1].id)
    assert (plan.expected_version, plan.conversation.version) == (3, 4)
    assert plan.conversation.state_of("alice").unread == 1


def test_reading_the_whole_conversation_reads_up_to_the_last_received() -> None:
    conversation, messages = chat_with_three_from_bob()

    plan = plan_read(conversation, messages[0], "alice", whole_conversation=True, now=NOW)

    assert plan.after.unread == 0 and plan.after.last_read_message_id == messages[2].id


def test_reading_again_changes_nothing() -> None:
    conversation, messages = chat_with_three_from_bob()
    first = plan_read(conversation, messages[2], "alice", whole_conversation=False, now=NOW)

    again = plan_read(first.conversation, messages[0], "alice", whole_conversation=False, now=NOW)

    assert not again.changed and again.conversation is first.conversation and again.unread_delta == 0


@pytest.mark.parametrize(
    ("reader", "whole", "expected"),
    [("bob", False, (403, ErrorCode.NOT_RECIPIENT)), ("carol", False, (404, ErrorCode.NOT_FOUND))],
)
def test_only_the_recipient_reads_a_message_and_a_stranger_learns_nothing(
    reader: str, whole: bool, expected: tuple[int, str]
) -> None:
    conversation, messages = chat_with_three_from_bob()

    with pytest.raises(AppError) as refused:
        plan_read(conversation, messages[0], reader, whole_conversation=whole, now=NOW)

    assert (refused.value.status, refused.value.code) == expected


def test_the_sender_may_mark_the_whole_conversation_read() -> None:
    conversation, messages = chat_with_three_from_bob()

    plan = plan_read(conversation, messages[0], "bob", whole_conversation=True, now=NOW)

    assert not plan.changed  # nothing was addressed to bob


def test_a_missing_message_or_conversation_is_not_found() -> None:
    conversation, messages = chat_with_three_from_bob()
    for args in ((None, messages[0]), (conversation, None)):
        with pytest.raises(AppError) as refused:
            plan_read(*args, "alice", whole_conversation=False, now=NOW)
        assert refused.value.code == ErrorCode.NOT_FOUND
