"""Marking messages read, decided without I/O: the caller's new read position and what it changes."""

from __future__ import annotations

from dataclasses import dataclass, replace

from chalicelib.domain.conversations import ConversationState
from chalicelib.domain.folders import inbox_unread
from chalicelib.domain.messages import MessageRecord
from chalicelib.domain.read_state import ParticipantState
from chalicelib.errors import ErrorCode, Forbidden, NotFound


@dataclass(frozen=True)
class ReadPlan:
    """A read's outcome; ``changed`` is False when the position was already there (nothing to write)."""

    reader_id: str
    before: ParticipantState
    after: ParticipantState
    conversation: ConversationState  # after the read
    expected_version: int

    @property
    def changed(self) -> bool:
        return self.after != self.before

    @property
    def unread_delta(self) -> int:
        return self.after.unread - self.before.unread

    @property
    def total_unread_delta(self) -> int:
        """What the read changes in the reader's ``totalUnread``: it counts inbox conversations only."""
        return inbox_unread(self.conversation.settings_of(self.reader_id), self.unread_delta)


def plan_read(
    conversation: ConversationState | None,
    message: MessageRecord | None,
    reader: str,
    *,
    whole_conversation: bool,
    now: str,
) -> ReadPlan:
    """Mark ``message`` read for ``reader`` (and with it everything addressed to them before it), or their whole
    conversation; NotFound when the message is not in one of ``reader``'s conversations."""
    if message is None or conversation is None or reader not in conversation.participant_ids:
        raise NotFound("message not found")
    if not whole_conversation and message.recipient_id != reader:
        raise Forbidden("only the recipient can mark a message read", code=ErrorCode.NOT_RECIPIENT)
    before = conversation.state_of(reader)
    if whole_conversation:
        after = before.read_up_to(before.received, before.last_received_message_id or message.id, now)
    else:
        after = before.read_up_to(message.recipient_receipt, message.id, now)
    if after == before:
        return ReadPlan(reader, before, after, conversation, conversation.version)
    states = {**conversation.states, reader: after}
    return ReadPlan(
        reader,
        before,
        after,
        replace(conversation, states=states, version=conversation.version + 1),
        conversation.version,
    )
