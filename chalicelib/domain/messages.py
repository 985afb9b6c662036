"""A stored message as the rules see it, its preview and its place in the participants' timelines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.conversations import PREVIEW_CHARS
from chalicelib.domain.ids import message_id_for


@dataclass(frozen=True)
class Reaction:
    """One emoji on a message and who reacted with it, in the order they did."""

    emoji: str
    user_ids: tuple[str, ...]


@dataclass(frozen=True)
class ReplyRef:
    """The message a reply quotes (always of the same conversation): its sequence number and its sender."""

    seq: int
    sender_id: str


@dataclass(frozen=True)
class Quote:
    """What a reply shows of the message it quotes: the original's current state, its content cut short."""

    id: str
    sender_id: str
    content: str
    is_deleted: bool
    attachment_kind: str | None = None


@dataclass(frozen=True)
class EarlierVersion:
    """A text a message showed before an edit replaced it: what a report's evidence keeps (never shown to users)."""

    content: str
    version: int
    since: str  # when this text became the message's (its send, or the edit that wrote it)


@dataclass(frozen=True)
class MessageRecord:
    """A message, keyed by its conversation and its gapless sequence number (commit order).

    ``version`` starts at 1 and grows by one with every change (edit, deletion, reaction, a quoted original's
    change): every change is conditioned on the version it read, and clients keep the highest version per id.
    """

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
    version: int = 1
    edited_at: str | None = None
    deleted_at: str | None = None
    reactions: tuple[Reaction, ...] = ()  # by first use
    reply_to: ReplyRef | None = None
    reply_seqs: frozenset[int] = frozenset()  # the replies quoting it that follow its changes (domain.lifecycle)
    earlier_versions: tuple[EarlierVersion, ...] = ()  # oldest first, bounded (domain.lifecycle.EARLIER_VERSIONS_KEPT)
    # Its report's summary (issue 16: id, reason, reporterId, status, createdAt, resolvedAt?, action?), for the
    # messages stream's consumers; a report holds the attachment's objects as evidence (a deletion keeps them).
    report: Mapping[str, Any] | None = None

    @property
    def attachment_kind(self) -> str | None:
        return (self.attachment or {}).get("kind")

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def reported(self) -> bool:
        return self.report is not None


def quote_of(message: MessageRecord, original: MessageRecord | None) -> Quote | None:
    """What ``message`` shows of the message it replies to, from the original as read now (None: not a reply, or
    a deleted reply). Without the original (not read) only its id and sender are known."""
    ref = message.reply_to
    if ref is None or message.is_deleted:
        return None
    original_id = message_id_for(message.conversation_id, ref.seq)
    if original is None or original.seq != ref.seq:
        return Quote(original_id, ref.sender_id, "", False)
    if original.is_deleted:
        return Quote(original.id, original.sender_id, "", True)
    return Quote(original.id, original.sender_id, original.content[:PREVIEW_CHARS], False, original.attachment_kind)


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
    if message.edited_at:
        preview["editedAt"] = message.edited_at
    if message.is_deleted:
        preview["isDeleted"] = True
    return preview


def timeline_position(sent_at: str, conversation_id: str, seq: int) -> str:
    """Time first; the zero-padded sequence number keeps one conversation's same-millisecond messages in order."""
    return f"{sent_at}#{conversation_id}#{seq:012d}"


def timeline_entries(message: MessageRecord, at: str | None = None) -> list[TimelineRecord]:
    """``message`` in both participants' timelines: when it was sent, or ``at`` (when it changed)."""
    position = timeline_position(at or message.sent_at, message.conversation_id, message.seq)
    return [
        TimelineRecord(user, position, message.conversation_id, message.seq)
        for user in sorted({message.sender_id, message.recipient_id})
    ]
