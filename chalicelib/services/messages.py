"""Sending messages and reading them: every write here is one DynamoDB transaction."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from chalicelib.auth import Principal
from chalicelib.domain.clock import now_iso
from chalicelib.domain.ids import conversation_id_for, is_conversation_id, message_id_for, parse_message_id
from chalicelib.errors import Conflict, Forbidden, InvalidRequest, NotFound
from chalicelib.models import (
    Attachment,
    Conversation,
    FeedEntry,
    IdempotencyRecord,
    Message,
    Pattern,
    Purchase,
    UserProfile,
)
from chalicelib.models.batch import batch_get
from chalicelib.schemas.requests import SendMessageRequest
from chalicelib.schemas.responses import ConversationOut, MessageOut
from chalicelib.services import attachments, rate_limits
from chalicelib.services.conversations import new_conversation, remember_claims
from chalicelib.services.transactions import commit, with_retries
from chalicelib.services.views import conversation_out, membership_for, message_out, participant_states, preview_of
from chalicelib.settings import get_settings


@dataclass
class SendResult:
    message: MessageOut
    conversation: ConversationOut
    created: bool  # False: a retry of an earlier send, answered with the original message
    conversation_created: bool
    stored_conversation: Conversation  # as committed (its room as read before the write)
    recipient_unread: int


@dataclass
class ReadResult:
    conversation_id: str
    last_read_message_id: str | None
    read_at: str | None
    unread_count: int
    total_unread: int
    changed: bool  # False when the read position was already there (nothing to announce)
    stored_conversation: Conversation
    other_participant: UserProfile | None


def _request_hash(request: SendMessageRequest) -> str:
    payload = request.model_dump(mode="json", exclude={"client_message_id"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _target_conversation_id(sender: str, request: SendMessageRequest) -> str:
    if request.conversation_id is not None:
        if not is_conversation_id(request.conversation_id):
            raise NotFound("conversation not found")
        return request.conversation_id
    if request.recipient_id == sender:
        raise InvalidRequest("you cannot message yourself", code="self_conversation")
    return conversation_id_for(sender, request.recipient_id, request.pattern_id)


def _check_new_conversation(sender: str, request: SendMessageRequest, snapshot: dict) -> str | None:
    """Whether ``sender`` may open this conversation; returns its title (the pattern's)."""
    recipient = request.recipient_id
    if request.pattern_id is None:
        if snapshot[(UserProfile, recipient, None)] is None:
            raise NotFound("recipient not found")
        return None
    pattern = snapshot[(Pattern, request.pattern_id, None)]
    if pattern is None:
        raise NotFound("pattern not found")
    if pattern.creator_id not in (sender, recipient):
        raise Forbidden("pattern conversations are held with the pattern's creator", code="not_pattern_creator")
    if pattern.creator_id == recipient:
        if snapshot[(Purchase, sender, request.pattern_id)] is None:
            raise Forbidden("buy this pattern to message its creator", code="purchase_required")
    elif snapshot[(UserProfile, recipient, None)] is None:
        raise NotFound("recipient not found")
    return pattern.title


def create_message(principal: Principal, request: SendMessageRequest) -> SendResult:
    """Store a message (creating the conversation when needed) in one transaction.

    Cost: one BatchGetItem and one TransactWriteItems; a retry with the same ``clientMessageId`` is
    answered from the idempotency record with the original message. Concurrent writers to the same
    conversation serialize on its ``version`` and retry.
    """
    settings = get_settings()
    sender = principal.user_id
    conversation_id = _target_conversation_id(sender, request)
    request_hash = _request_hash(request)
    idempotency_key = f"send#{sender}#{request.client_message_id}" if request.client_message_id else None
    attachment_id = request.attachment.attachment_id if request.attachment else None
    verified: dict[str, int] = {}  # S3 checks of the upload, done once however often the write is retried

    keys: list = [(Conversation, conversation_id, None)]
    if idempotency_key:
        keys.append((IdempotencyRecord, idempotency_key, None))
    if attachment_id:
        keys.append((Attachment, attachment_id, None))
    if request.recipient_id is not None:
        keys.append((UserProfile, request.recipient_id, None))
        if request.pattern_id is not None:
            keys += [(Pattern, request.pattern_id, None), (Purchase, sender, request.pattern_id)]

    def attempt() -> SendResult:
        snapshot = batch_get(keys)
        if idempotency_key and (record := snapshot[(IdempotencyRecord, idempotency_key, None)]) is not None:
            return _replay(record, request_hash, snapshot[(Conversation, conversation_id, None)])
        conversation = snapshot[(Conversation, conversation_id, None)]
        conversation_created = conversation is None
        now = now_iso()
        if conversation is None:
            if request.conversation_id is not None:
                raise NotFound("conversation not found")
            title = _check_new_conversation(sender, request, snapshot)
            conversation = new_conversation(sender, request.recipient_id, request.pattern_id, title, now)
        elif sender not in conversation.participant_ids:
            raise NotFound("conversation not found")
        upload = None
        if attachment_id:
            upload = attachments.check_attachable(snapshot[(Attachment, attachment_id, None)], sender, conversation_id)
            if "size" not in verified:
                verified["size"] = attachments.verify_upload(upload)
                attachments.mark_attached(upload)
        expected_version = int(conversation.version or 0)
        recipient = next(u for u in conversation.participant_ids if u != sender)
        states = participant_states(conversation)
        seq = int(conversation.message_count or 0) + 1
        message_id = message_id_for(conversation_id, seq)
        states[recipient] = states[recipient].receive(message_id)
        message = Message(
            conversation_id,
            seq,
            id=message_id,
            sender_id=sender,
            recipient_id=recipient,
            recipient_receipt=states[recipient].received,
            content=request.content,
            sent_at=now,
            client_message_id=request.client_message_id,
            attachment=attachments.snapshot(upload, verified["size"]) if upload else None,
        )
        conversation.message_count = seq
        conversation.version = expected_version + 1
        conversation.participant_states = {user: state.to_item() for user, state in states.items()}
        conversation.last_message_id = message_id
        conversation.last_message_at = now
        conversation.last_message = preview_of(message)
        conversation.updated_at = now

        def build(transaction) -> None:
            rate_limits.charge(transaction, sender, "send")
            if conversation_created:
                rate_limits.charge(transaction, sender, "conversation")
                transaction.save(conversation, condition=Conversation.id.does_not_exist())
            else:
                # An update, not a put: the room set on this item changes independently (join/leave).
                transaction.update(
                    conversation,
                    actions=_conversation_changes(conversation),
                    condition=Conversation.version == expected_version,
                )
            transaction.save(message, condition=Message.seq.does_not_exist())
            for user in conversation.participant_ids:
                transaction.save(membership_for(conversation, user))
            transaction.update(UserProfile(recipient), actions=[UserProfile.total_unread.add(1)])
            for user in conversation.participant_ids:
                transaction.save(_feed_entry(user, message))
            if upload is not None:
                # Used once: the condition also fails if image processing changed it since it was read.
                transaction.update(
                    upload,
                    actions=[
                        Attachment.message_id.set(message_id),
                        Attachment.size.set(verified["size"]),
                        Attachment.expires_at.remove(),
                    ],
                    condition=Attachment.message_id.does_not_exist() & (Attachment.status == upload.status),
                )
            if idempotency_key:
                record = IdempotencyRecord(
                    idempotency_key,
                    request_hash=request_hash,
                    conversation_id=conversation_id,
                    message_id=message_id,
                    message_seq=seq,
                    created_at=now,
                    expires_at=timedelta(seconds=settings.idempotency_ttl_seconds),
                )
                transaction.save(record, condition=IdempotencyRecord.key.does_not_exist())
            remember_claims(transaction, principal)

        commit(build)
        return SendResult(
            message=message_out(message, states[recipient]),
            conversation=conversation_out(conversation),
            created=True,
            conversation_created=conversation_created,
            stored_conversation=conversation,
            recipient_unread=states[recipient].unread,
        )

    return with_retries(attempt, max_attempts=settings.send_max_attempts)


def _conversation_changes(conversation: Conversation) -> list:
    """The attributes a send changes on an existing conversation."""
    return [
        Conversation.message_count.set(conversation.message_count),
        Conversation.version.set(conversation.version),
        Conversation.participant_states.set(conversation.participant_states),
        Conversation.last_message_id.set(conversation.last_message_id),
        Conversation.last_message_at.set(conversation.last_message_at),
        Conversation.last_message.set(conversation.last_message),
        Conversation.updated_at.set(conversation.updated_at),
    ]


def _feed_entry(user_id: str, message: Message) -> FeedEntry:
    """``message`` in ``user_id``'s timeline (what sync pages through), expiring with the sync window."""
    # Time first; the zero-padded sequence number keeps one conversation's same-millisecond messages in order.
    return FeedEntry(
        user_id,
        f"{message.sent_at}#{message.conversation_id}#{int(message.seq):012d}",
        conversation_id=message.conversation_id,
        message_seq=message.seq,
        expires_at=timedelta(seconds=get_settings().feed_ttl_seconds),
    )


def _replay(record: IdempotencyRecord, request_hash: str, conversation: Conversation | None) -> SendResult:
    """The answer to a retried send: the message the first attempt stored (one more GetItem)."""
    if record.request_hash != request_hash:
        raise Conflict("clientMessageId was already used for a different message", code="idempotency_key_reused")
    if conversation is None or conversation.id != record.conversation_id:
        conversation = Conversation.get(record.conversation_id, consistent_read=True)
    message = Message.get(record.conversation_id, int(record.message_seq), consistent_read=True)
    states = participant_states(conversation)
    return SendResult(
        message=message_out(message, states[message.recipient_id]),
        conversation=conversation_out(conversation),
        created=False,
        conversation_created=False,
        stored_conversation=conversation,
        recipient_unread=states[message.recipient_id].unread,
    )


def _mark_read(principal: Principal, message_id: str, *, whole_conversation: bool) -> ReadResult:
    reader = principal.user_id
    parsed = parse_message_id(message_id)
    if parsed is None:
        raise NotFound("message not found")
    conversation_id, seq = parsed

    def attempt() -> ReadResult:
        snapshot = batch_get([(Message, conversation_id, seq), (Conversation, conversation_id, None)])
        message = snapshot[(Message, conversation_id, seq)]
        conversation = snapshot[(Conversation, conversation_id, None)]
        if message is None or conversation is None or reader not in conversation.participant_ids:
            raise NotFound("message not found")
        if not whole_conversation and message.recipient_id != reader:
            raise Forbidden("only the recipient can mark a message read", code="not_recipient")
        states = participant_states(conversation)
        before = states[reader]
        if whole_conversation:
            after = before.read_up_to(before.received, before.last_received_message_id or message.id, now_iso())
        else:
            after = before.read_up_to(int(message.recipient_receipt), message.id, now_iso())
        if after != before:
            expected_version = int(conversation.version or 0)
            states[reader] = after
            conversation.participant_states = {user: state.to_item() for user, state in states.items()}
            conversation.version = expected_version + 1

            def build(transaction) -> None:
                transaction.update(
                    conversation,
                    actions=[
                        Conversation.participant_states.set(conversation.participant_states),
                        Conversation.version.set(conversation.version),
                    ],
                    condition=Conversation.version == expected_version,
                )
                transaction.save(membership_for(conversation, reader))
                transaction.update(
                    UserProfile(reader), actions=[UserProfile.total_unread.add(after.unread - before.unread)]
                )

            commit(build)
        other = next((u for u in conversation.participant_ids if u != reader), reader)
        profiles = batch_get([(UserProfile, reader, None), (UserProfile, other, None)])
        reader_profile = profiles[(UserProfile, reader, None)]
        return ReadResult(
            conversation_id=conversation_id,
            last_read_message_id=after.last_read_message_id,
            read_at=after.last_read_at,
            unread_count=after.unread,
            total_unread=max(int(reader_profile.total_unread or 0), 0) if reader_profile else 0,
            changed=after != before,
            stored_conversation=conversation,
            other_participant=profiles[(UserProfile, other, None)],
        )

    return with_retries(attempt, max_attempts=get_settings().send_max_attempts)


def mark_message_as_read(principal: Principal, message_id: str) -> ReadResult:
    """Mark a message read, and with it everything addressed to the caller before it. Idempotent."""
    return _mark_read(principal, message_id, whole_conversation=False)


def mark_conversation_messages_as_read(principal: Principal, message_id: str) -> ReadResult:
    """Mark every message addressed to the caller in that message's conversation read. Idempotent."""
    return _mark_read(principal, message_id, whole_conversation=True)
