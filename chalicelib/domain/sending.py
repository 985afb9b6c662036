"""Sending a message, decided without I/O: ``plan_send(snapshot, command, now)`` → every item the send writes.

The use case reads a snapshot (one BatchGetItem), checks the upload in S3, asks this module what to write, and
writes the plan in one transaction. Seeders and benchmarks build their data with the same plan, so an item
has one shape wherever it is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.domain.conversations import ConversationState, counters_of, new_conversation
from chalicelib.domain.folders import ParticipantSettings
from chalicelib.domain.ids import conversation_id_for, is_conversation_id, message_id_for, parse_message_id
from chalicelib.domain.lifecycle import REPLIES_FOLLOWING
from chalicelib.domain.messages import MessageRecord, ReplyRef, TimelineRecord, preview_of, timeline_entries
from chalicelib.domain.uploads import UploadState, Verified, attachment_snapshot, check_attachable
from chalicelib.errors import Conflict, ErrorCode, Forbidden, InvalidRequest, NotFound

SEND, CONVERSATION = "send", "conversation"  # the rate-limited actions a send counts


@dataclass(frozen=True)
class SendCommand:
    """What a sender asked for (validated by the wire model), with who they are."""

    sender_id: str
    content: str
    conversation_id: str | None = None
    recipient_id: str | None = None
    pattern_id: str | None = None
    attachment_id: str | None = None
    client_message_id: str | None = None
    sender_name: str | None = None  # the token's profile claims, kept for others to see
    sender_picture: str | None = None
    reply_to_id: str | None = None  # the message this one quotes

    @property
    def request_hash(self) -> str:
        """What makes two sends with one ``clientMessageId`` the same request."""
        payload: dict[str, Any] = {
            "content": self.content,
            "conversation_id": self.conversation_id,
            "recipient_id": self.recipient_id,
            "pattern_id": self.pattern_id,
            "attachment": {"attachment_id": self.attachment_id} if self.attachment_id else None,
        }
        if self.reply_to_id is not None:  # only then: the hashes of sends stored before replies existed still match
            payload["reply_to"] = self.reply_to_id
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    @property
    def idempotency_key(self) -> str | None:
        return f"send#{self.sender_id}#{self.client_message_id}" if self.client_message_id else None


def target_conversation_id(command: SendCommand) -> str:
    """The conversation a send goes to (NotFound for an id that cannot be ours)."""
    if command.conversation_id is not None:
        if not is_conversation_id(command.conversation_id):
            raise NotFound("conversation not found")
        return command.conversation_id
    assert command.recipient_id is not None  # nosec B101 # narrows the type; the wire model requires one of the two
    if command.recipient_id == command.sender_id:
        raise InvalidRequest("you cannot message yourself", code=ErrorCode.SELF_CONVERSATION)
    return conversation_id_for(command.sender_id, command.recipient_id, command.pattern_id)


@dataclass(frozen=True)
class PatternInfo:
    creator_id: str
    title: str


@dataclass(frozen=True)
class IdempotencyHit:
    """An earlier send with the same ``clientMessageId``."""

    request_hash: str
    conversation_id: str
    message_id: str
    message_seq: int


@dataclass(frozen=True)
class SendSnapshot:
    """Everything a send's rules look at, as read in one round trip (plus the upload's verified size)."""

    conversation: ConversationState | None
    idempotency: IdempotencyHit | None = None
    upload: UploadState | None = None
    verified: Verified | None = None  # the upload as the use case checked it (size; a file's copy)
    recipient_exists: bool = False
    pattern: PatternInfo | None = None
    purchased: bool = False
    original: MessageRecord | None = None  # the message a reply quotes, when it is one of the conversation's
    # Message requests (a new conversation's recipient, read with their profile): whether they are a creator who
    # takes requests, and whether the sender bought one of their patterns (``customer_key``).
    recipient_is_creator: bool = False
    recipient_accepts_everyone: bool = False
    sender_is_customer: bool = False


@dataclass(frozen=True)
class Replay:
    """A retried send: answer with the message the first attempt stored."""

    conversation_id: str
    message_seq: int


@dataclass(frozen=True)
class VerifyUpload:
    """The rules accept the send so far; the upload's object must be checked in S3 before it is planned."""

    upload: UploadState


@dataclass(frozen=True)
class AttachmentClaim:
    """The upload becomes part of the message, once (the condition fails if processing changed it meanwhile)."""

    attachment_id: str
    message_id: str
    verified: Verified
    expected_status: str


@dataclass(frozen=True)
class QuotedOriginal:
    """The message a reply quotes: it must still be undeleted when the send commits; the first
    ``REPLIES_FOLLOWING`` replies are recorded on it (``follows``: the reply follows its changes)."""

    seq: int
    follows: bool


@dataclass(frozen=True)
class IdempotencyEntry:
    key: str
    request_hash: str
    conversation_id: str
    message_id: str
    message_seq: int
    created_at: str


@dataclass(frozen=True)
class ProfileClaims:
    user_id: str
    name: str | None
    picture: str | None


@dataclass(frozen=True)
class SendPlan:
    """Every write of one send; written in one transaction, all or nothing."""

    conversation: ConversationState  # after the send
    conversation_created: bool
    expected_version: int  # the version read: the write is conditioned on it
    message: MessageRecord
    timeline: list[TimelineRecord]
    unread_increments: Mapping[str, int]  # user → added to their total unread
    charges: tuple[str, ...]  # rate-limited actions counted for the sender
    sender_id: str
    attachment: AttachmentClaim | None = None
    idempotency: IdempotencyEntry | None = None
    claims: ProfileClaims | None = None
    memberships_for: tuple[str, ...] = field(default=())  # whose membership copies are rewritten
    quoted: QuotedOriginal | None = None
    original: MessageRecord | None = None  # as read: what the reply shows of it
    requests_increments: Mapping[str, int] = field(default_factory=dict)  # user → added to their requests count
    accepted: bool = False  # the sender replied to a message request waiting for them: it is accepted
    unarchived: bool = False  # the recipient had archived the conversation: it is back in their inbox

    @property
    def recipient_id(self) -> str:
        return self.message.recipient_id

    @property
    def pair(self) -> tuple[str, str]:
        """The two users whose blocks (either way) the transaction checks."""
        return self.sender_id, self.message.recipient_id

    @property
    def is_request(self) -> bool:
        """The message lands in the recipient's requests: no notification beyond the requests badge."""
        return self.conversation.is_request_for(self.message.recipient_id)


def _title_for_new(command: SendCommand, snapshot: SendSnapshot) -> str | None:
    """Whether the sender may open this conversation; its title (the pattern's)."""
    if command.pattern_id is None:
        if not snapshot.recipient_exists:
            raise NotFound("recipient not found")
        return None
    pattern = snapshot.pattern
    if pattern is None:
        raise NotFound("pattern not found")
    if pattern.creator_id not in (command.sender_id, command.recipient_id):
        raise Forbidden("pattern conversations are held with the pattern's creator", code=ErrorCode.NOT_PATTERN_CREATOR)
    if pattern.creator_id == command.recipient_id:
        if not snapshot.purchased:
            raise Forbidden("buy this pattern to message its creator", code=ErrorCode.PURCHASE_REQUIRED)
    elif not snapshot.recipient_exists:
        raise NotFound("recipient not found")
    return pattern.title


def plan_send(snapshot: SendSnapshot, command: SendCommand, now: str) -> SendPlan | Replay | VerifyUpload:
    """Decide a send: refuse it (an ``AppError``), replay an earlier one, ask for the upload's S3 check (once
    the rules that need no I/O accepted it), or plan every item it writes."""
    sender = command.sender_id
    conversation_id = target_conversation_id(command)
    if snapshot.idempotency is not None:
        hit = snapshot.idempotency
        if hit.request_hash != command.request_hash:
            raise Conflict(
                "clientMessageId was already used for a different message", code=ErrorCode.IDEMPOTENCY_KEY_REUSED
            )
        return Replay(hit.conversation_id, hit.message_seq)
    conversation = snapshot.conversation
    created = conversation is None
    if conversation is None:
        if command.conversation_id is not None:
            raise NotFound("conversation not found")
        assert command.recipient_id is not None  # nosec B101 # narrows the type (no conversation id, so a recipient)
        title = _title_for_new(command, snapshot)
        conversation = new_conversation(sender, command.recipient_id, command.pattern_id, title, now)
        if _is_request(snapshot, command):
            conversation = replace(conversation, settings={command.recipient_id: ParticipantSettings(request=True)})
    elif sender not in conversation.participant_ids:
        raise NotFound("conversation not found")
    reply = _reply(snapshot.original, command)
    upload = None
    if command.attachment_id is not None:
        upload = check_attachable(snapshot.upload, sender, conversation_id)
        if snapshot.verified is None:
            return VerifyUpload(upload)
    recipient = conversation.other_than(sender)
    seq = conversation.message_count + 1
    message_id = message_id_for(conversation_id, seq)
    states = dict(conversation.states)
    states[recipient] = conversation.state_of(recipient).receive(message_id)
    states.setdefault(sender, conversation.state_of(sender))
    message = MessageRecord(
        conversation_id=conversation_id,
        seq=seq,
        id=message_id,
        sender_id=sender,
        recipient_id=recipient,
        recipient_receipt=states[recipient].received,
        content=command.content,
        sent_at=now,
        client_message_id=command.client_message_id,
        attachment=attachment_snapshot(upload, snapshot.verified) if upload else None,
        reply_to=ReplyRef(reply.seq, reply.sender_id) if reply else None,
    )
    # The sender replying accepts a request waiting for them; the recipient's archive gives the message back.
    settings = dict(conversation.settings)
    sender_before, recipient_before = conversation.settings_of(sender), conversation.settings_of(recipient)
    settings[sender] = replace(sender_before, request=False)
    settings[recipient] = replace(recipient_before, archived=False)
    after = replace(
        conversation,
        message_count=seq,
        version=conversation.version + 1,
        states=states,
        last_message_id=message_id,
        last_message_at=now,
        last_message=preview_of(message),
        updated_at=now,
        settings=settings,
    )
    counters = counters_of(None if created else conversation, after)
    key = command.idempotency_key
    return SendPlan(
        conversation=after,
        conversation_created=created,
        expected_version=conversation.version,
        message=message,
        timeline=timeline_entries(message),
        unread_increments={user: change.unread for user, change in counters.items() if change.unread},
        charges=(SEND, CONVERSATION) if created else (SEND,),
        sender_id=sender,
        attachment=(
            AttachmentClaim(upload.id, message_id, snapshot.verified, upload.status)
            if upload and snapshot.verified
            else None
        ),
        idempotency=(
            IdempotencyEntry(key, command.request_hash, conversation_id, message_id, seq, now) if key else None
        ),
        claims=_claims(command),
        memberships_for=after.participant_ids,
        quoted=(QuotedOriginal(reply.seq, follows=len(reply.reply_seqs) < REPLIES_FOLLOWING) if reply else None),
        original=reply,
        requests_increments={user: change.requests for user, change in counters.items() if change.requests},
        accepted=sender_before.request,
        unarchived=recipient_before.archived,
    )


def _is_request(snapshot: SendSnapshot, command: SendCommand) -> bool:
    """A new conversation to a creator (who does not take everyone's messages) from someone who bought none of their
    patterns is a message request for them. A purchase of the pattern it is about counts as one."""
    if not snapshot.recipient_is_creator or snapshot.recipient_accepts_everyone or snapshot.sender_is_customer:
        return False
    bought_this = snapshot.pattern is not None and snapshot.pattern.creator_id == command.recipient_id
    return not (bought_this and snapshot.purchased)


def customer_key(buyer_id: str, creator_id: str) -> tuple[str, str]:
    """The purchases table's marker that ``buyer_id`` bought at least one of ``creator_id``'s patterns (its range key
    ``creator#<id>``: ``#`` is in no pattern id, so it never meets a real purchase)."""
    return buyer_id, f"creator#{creator_id}"


def _reply(original: MessageRecord | None, command: SendCommand) -> MessageRecord | None:
    """The message a send quotes: one of its conversation's (``invalid_reply`` otherwise), not deleted."""
    if command.reply_to_id is None:
        return None
    if original is None or original.id != command.reply_to_id:
        raise InvalidRequest("replyTo must be a message of this conversation", code=ErrorCode.INVALID_REPLY)
    if original.is_deleted:
        raise Conflict("the message you reply to was deleted", code=ErrorCode.MESSAGE_DELETED)
    return original


def _claims(command: SendCommand) -> ProfileClaims | None:
    if not command.sender_name and not command.sender_picture:
        return None
    return ProfileClaims(command.sender_id, command.sender_name, command.sender_picture)


def snapshot_keys(command: SendCommand) -> dict[str, Any]:
    """What a send reads, by role: the adapter turns it into one BatchGetItem."""
    keys: dict[str, Any] = {"conversation": target_conversation_id(command)}
    if command.idempotency_key:
        keys["idempotency"] = command.idempotency_key
    if command.attachment_id:
        keys["upload"] = command.attachment_id
    original = parse_message_id(command.reply_to_id) if command.reply_to_id else None
    if original is not None and original[0] == keys["conversation"]:
        keys["original"] = original
    if command.recipient_id is not None:
        keys["recipient"] = command.recipient_id
        keys["customer"] = customer_key(command.sender_id, command.recipient_id)
        if command.pattern_id is not None:
            keys["pattern"] = command.pattern_id
            keys["purchase"] = (command.sender_id, command.pattern_id)
    return keys
