"""Per-participant read state of a conversation, and the unread arithmetic built on it.

Every message addressed to a user gets that user's next *receipt number* (1, 2, 3, …). A user's read
position is the highest receipt number they have read, so

    unread = received - read_position

is exact and costs nothing to compute, whatever the history's length. "Read up to" is how every
hosted chat API models receipts; ``read_marks`` keep when each position was reached, so a message's
``readAt`` is the time of the first mark that covers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

MAX_READ_MARKS = 100


@dataclass(frozen=True)
class ParticipantState:
    """What a conversation knows about one participant."""

    received: int = 0
    read_position: int = 0
    last_received_message_id: str | None = None
    last_read_message_id: str | None = None
    last_read_at: str | None = None
    read_marks: tuple[tuple[int, str], ...] = field(default_factory=tuple)

    @property
    def unread(self) -> int:
        return self.received - self.read_position

    def receive(self, message_id: str) -> ParticipantState:
        """The state after one more message addressed to this participant."""
        return replace(self, received=self.received + 1, last_received_message_id=message_id)

    def read_up_to(self, position: int, message_id: str, at: str) -> ParticipantState:
        """The state after reading up to receipt ``position``; never moves backwards."""
        position = min(position, self.received)
        if position <= self.read_position:
            return self
        marks = (*self.read_marks, (position, at))[-MAX_READ_MARKS:]
        return replace(
            self,
            read_position=position,
            last_read_message_id=message_id,
            last_read_at=at,
            read_marks=marks,
        )

    def read_at(self, receipt: int) -> str | None:
        """When the message with this receipt number was read, or None while it is unread."""
        if receipt > self.read_position:
            return None
        for position, at in self.read_marks:
            if position >= receipt:
                return at
        return self.last_read_at

    def to_item(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "readPosition": self.read_position,
            "lastReceivedMessageId": self.last_received_message_id,
            "lastReadMessageId": self.last_read_message_id,
            "lastReadAt": self.last_read_at,
            "readMarks": [[position, at] for position, at in self.read_marks],
        }

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> ParticipantState:
        if not item:
            return cls()
        return cls(
            received=int(item.get("received", 0)),
            read_position=int(item.get("readPosition", 0)),
            last_received_message_id=item.get("lastReceivedMessageId"),
            last_read_message_id=item.get("lastReadMessageId"),
            last_read_at=item.get("lastReadAt"),
            read_marks=tuple((int(p), str(a)) for p, a in item.get("readMarks") or ()),
        )
