"""A stored message as the rules see it, its preview and its place in the participants' timelines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.conversations import PREVIEW_CHARS


@dataclass(frozen=True)
class MessageRecord:
    """A message, keyed by its conversation and its gapless sequence number (commit order)."""

    conversation_id: str
    seq: int
    id: str
    sender_id: str
    recipient_id: str
    recipient_receipt: int  # the recipient's receipt number for it (see domain.read_state)
    content: str
    sent_at: str
    client_message_id: str | None = None
    attachment: Mapping[str, Any] | None = None

    @property
    def attachment_kind(self) -> str | None:
        return (self.attachment or {}).get("kind")


@dataclass(frozen=True)
class TimelineRecord:
    """One message in a user's timeline, in commit order: what sync pages through."""

    user_id: str
    position: str
    conversation_id: str
    seq: int


def preview_of(message: MessageRecord) -> dict[str, Any]:
    """The short form of a message kept on conversations and memberships for list views."""
    preview: dict[str, Any] = {
        "id": message.id,
        "senderId": message.sender_id,
        "content": message.content[:PREVIEW_CHARS],
        "sentAt": message.sent_at,
    }
    if message.attachment_kind:
        preview["attachmentType"] = message.attachment_kind
    return preview


def timeline_position(sent_at: str, conversation_id: str, seq: int) -> str:
    """Time first; the zero-padded sequence number keeps one conversation's same-millisecond messages in order."""
    return f"{sent_at}#{conversation_id}#{seq:012d}"


def timeline_entries(message: MessageRecord) -> list[TimelineRecord]:
    """``message`` in both participants' timelines."""
    position = timeline_position(message.sent_at, message.conversation_id, message.seq)
    return [
        TimelineRecord(user, position, message.conversation_id, message.seq)
        for user in sorted({message.sender_id, message.recipient_id})
    ]
