"""Messaging: sending, reading, typing and opening pattern conversations, for REST and socket alike.

Each write is decided by the domain (``plan_send``, ``plan_read``), written in one DynamoDB transaction, and then
delivered by the notifier. Once a write has committed nothing can turn the answer into an error: delivery and
presenting failures are logged and the committed result is returned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from pynamodb.transactions import TransactWrite

from chalicelib import metrics
from chalicelib.adapters.dynamodb import Conversation, Message, UserProfile, blocks
from chalicelib.adapters.dynamodb.batch import Batch, Key, batch_get
from chalicelib.adapters.dynamodb.rate_limits import charge, spend
from chalicelib.adapters.dynamodb.records import (
    conversation_state,
    message_record,
    send_keys,
    send_snapshot,
    write_read,
    write_send,
)
from chalicelib.adapters.dynamodb.transactions import commit, with_retries
from chalicelib.domain.clock import iso
from chalicelib.domain.ids import parse_message_id
from chalicelib.domain.principal import Principal
from chalicelib.domain.reading import ReadPlan, plan_read
from chalicelib.domain.sending import Replay, SendCommand, SendPlan, VerifyUpload, plan_send, snapshot_keys
from chalicelib.domain.uploads import Verified
from chalicelib.errors import NotFound
from chalicelib.schemas.events import MessageReadUpdate
from chalicelib.schemas.requests import SendMessageRequest
from chalicelib.schemas.responses import ConversationOut, MessageOut, PatternConversationOut, ReadOut, SendOut
from chalicelib.services.attachments import Attachments
from chalicelib.services.conversations import Conversations, get_conversation_by_id
from chalicelib.services.directory import Directory
from chalicelib.services.notify import Notifier
from chalicelib.services.ports import Clock
from chalicelib.services.presenters import Presenter, conversation_out
from chalicelib.services.sessions import connections_of
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")


def after_commit(step: str, action: Callable[[], T], fallback: T) -> T:
    """Run what follows a committed write; a failure is logged, never answered."""
    try:
        return action()
    except Exception:
        logger.exception("after a committed write, %s failed; the stored result is answered", step)
        return fallback


def send_command(principal: Principal, request: SendMessageRequest) -> SendCommand:
    return SendCommand(
        sender_id=principal.user_id,
        content=request.content,
        conversation_id=request.conversation_id,
        recipient_id=request.recipient_id,
        pattern_id=request.pattern_id,
        attachment_id=request.attachment.attachment_id if request.attachment else None,
        client_message_id=request.client_message_id,
        sender_name=principal.name,
        sender_picture=principal.picture,
        reply_to_id=request.reply_to.message_id if request.reply_to else None,
    )


@dataclass
class Sent:
    """A send's answer: the stored message and its conversation; ``created`` False for a retry."""

    out: SendOut
    created: bool


@dataclass
class Read:
    out: ReadOut
    changed: bool


class Messaging:
    """The use cases that write messages and read positions, then tell the connections concerned."""

    def __init__(
        self,
        notifier: Notifier,
        presenter: Presenter,
        attachments: Attachments,
        conversations: Conversations,
        clock: Clock,
    ) -> None:
        self.notifier = notifier
        self.presenter = presenter
        self.attachments = attachments
        self.conversations = conversations
        self.clock = clock

    # --- sending ---------------------------------------------------------------------------------------

    def send(
        self, principal: Principal, request: SendMessageRequest, *, origin_connection_id: str | None = None
    ) -> Sent:
        """Store a message (creating the conversation when needed) in one transaction, then deliver it to the room
        and the recipient's devices; a retry with the same ``clientMessageId`` answers the original, delivering
        nothing.

        Cost: one BatchGetItem and one TransactWriteItems, and one BatchGetItem of the two profiles for delivery.
        Concurrent writers to the same conversation serialize on its ``version`` and retry. A block between the two
        users (either way) is a condition of the transaction: 403 ``recipient_unavailable``, race-free, no read.
        A message request (``domain.folders``) or a muted recipient gets no notification.
        """
        command = send_command(principal, request)
        keys = send_keys(snapshot_keys(command))
        # The upload's S3 check, done once per status it is seen in however often the write is retried (processing
        # finishing meanwhile changes what a message serves: the check is then that of the processed image).
        verified: dict[str, Verified] = {}

        def attempt() -> SendPlan | Replay:
            found = batch_get(list(keys.values()))
            snapshot = send_snapshot(keys, found)
            if snapshot.upload is not None and snapshot.upload.status in verified:
                snapshot = replace(snapshot, verified=verified[snapshot.upload.status])
            plan = plan_send(snapshot, command, iso(self.clock()))
            if isinstance(plan, VerifyUpload):
                checked = verified[plan.upload.status] = self.attachments.verify_upload(plan.upload)
                plan = plan_send(replace(snapshot, verified=checked), command, iso(self.clock()))
                assert not isinstance(plan, VerifyUpload)  # nosec B101 # narrows the type; the check is done now
            if isinstance(plan, SendPlan):
                # A block either way (read nowhere before: the condition is the check) answers 403.
                commit(lambda transaction: write_send(transaction, plan), refused=blocks.refusal)
            return plan

        plan = with_retries(attempt, max_attempts=get_settings().send_max_attempts)
        if isinstance(plan, Replay):
            return Sent(self._replay(plan, command), created=False)
        metrics.count(metrics.MESSAGES_SENT)
        if plan.attachment is not None:
            # Tags follow the committed record: only now is the upload part of a message.
            claimed = plan.attachment.attachment_id
            after_commit("tagging", lambda: self.attachments.attach(claimed, plan.message.attachment), None)
        recipient_state = plan.conversation.state_of(plan.recipient_id)
        message = self.presenter.committed_message(plan.message, recipient_state, original=plan.original)
        conversation = conversation_out(plan.conversation)
        after_commit(
            "delivery",
            lambda: self._deliver(plan, message, conversation, principal, origin_connection_id),
            None,
        )
        return Sent(SendOut(message=message, conversation=conversation), created=True)

    def _deliver(
        self,
        plan: SendPlan,
        message: MessageOut,
        conversation: ConversationOut,
        principal: Principal,
        origin_connection_id: str | None,
    ) -> None:
        conversation_id = plan.conversation.id
        found = batch_get(
            [
                (UserProfile, plan.recipient_id, None),
                (UserProfile, plan.sender_id, None),
                # The room as it is now, after the commit: a connection that joined while the send ran is in it (the
                # room read before the transaction may predate the join, and the joiner's catch-up the message).
                (Conversation, conversation_id, None),
            ]
        )
        directory = Directory.from_batch(found, caller=principal)
        stored = found.item(Conversation, conversation_id)
        room = conversation_state(stored) if stored is not None else plan.conversation
        recipient_settings = plan.conversation.settings_of(plan.recipient_id)
        self.notifier.message(
            message,
            room,
            directory,
            recipient_unread=plan.conversation.state_of(plan.recipient_id).unread,
            conversation_created=conversation if plan.conversation_created else None,
            origin_connection_id=origin_connection_id,
            notify=not plan.is_request and not recipient_settings.is_muted(plan.message.sent_at),
        )

    def _replay(self, replay: Replay, command: SendCommand) -> SendOut:
        """The answer to a retried send: the message the first attempt stored, and what it quotes (one
        BatchGetItem)."""
        conversation_id = replay.conversation_id
        quoted = parse_message_id(command.reply_to_id) if command.reply_to_id else None
        keys: list[Key] = [(Conversation, conversation_id, None), (Message, conversation_id, replay.message_seq)]
        if quoted is not None and quoted[0] == conversation_id:
            keys.append((Message, conversation_id, quoted[1]))
        found = batch_get(keys)
        stored = found.item(Conversation, conversation_id)
        item = found.item(Message, conversation_id, replay.message_seq)
        if stored is None or item is None:
            raise NotFound("message not found")
        conversation = conversation_state(stored)
        message = message_record(item)
        quoted_item = found.get((Message, conversation_id, message.reply_to.seq)) if message.reply_to else None
        original = message_record(quoted_item) if isinstance(quoted_item, Message) else None
        return SendOut(
            message=self.presenter.message(
                message, conversation.receipts_shown_to(command.sender_id, message.recipient_id), original=original
            ),
            conversation=conversation_out(conversation),
        )

    # --- reading ---------------------------------------------------------------------------------------

    def read(self, principal: Principal, message_id: str, *, whole_conversation: bool) -> Read:
        """Move the caller's read position (one message, and everything addressed to them before it, or the whole
        conversation), then tell the room and the other participant. Idempotent.

        Counted against the reader's ``read`` limit: inside the write when the position moves, else by one UpdateItem
        (3 round trips either way)."""
        reader = principal.user_id
        parsed = parse_message_id(message_id)
        if parsed is None:
            raise NotFound("message not found")
        conversation_id, seq = parsed

        totals_before: dict[str, int] = {}  # the reader's total unread as the committed attempt read it

        def attempt() -> ReadPlan:
            found = batch_get(
                [(Message, conversation_id, seq), (Conversation, conversation_id, None), (UserProfile, reader, None)]
            )
            stored = found.item(Conversation, conversation_id)
            item = found.item(Message, conversation_id, seq)
            plan = plan_read(
                conversation_state(stored) if stored is not None else None,
                message_record(item) if item is not None else None,
                reader,
                whole_conversation=whole_conversation,
                now=iso(self.clock()),
            )
            if plan.changed:

                def build(transaction: TransactWrite) -> None:
                    write_read(transaction, plan)
                    charge(transaction, reader, "read")

                commit(build)
            else:
                spend(reader, "read")
            totals_before["reader"] = _total_unread(found.item(UserProfile, reader))
            return plan

        plan = with_retries(attempt, max_attempts=get_settings().send_max_attempts)
        other = plan.conversation.other_than(reader)

        def read_profiles() -> Batch:
            return batch_get(
                [(UserProfile, reader, None), (UserProfile, other, None), *blocks.block_keys(reader, other)]
            )

        # After a committed read the fresh totals are only presentation: failing to read them falls back to what
        # the attempt read, moved by what this read changed.
        profiles = after_commit("reading the profiles", read_profiles, Batch()) if plan.changed else read_profiles()
        after = plan.after
        total = (
            _total_unread(profiles.item(UserProfile, reader))
            if (UserProfile, reader, None) in profiles
            else max(totals_before.get("reader", 0) + plan.total_unread_delta, 0)
        )
        out = ReadOut(
            conversation_id=conversation_id,
            message_id=message_id,
            last_read_message_id=after.last_read_message_id,
            read_at=after.last_read_at,
            unread_count=after.unread,
            total_unread=total,
        )
        if plan.changed:
            update = MessageReadUpdate(
                conversation_id=conversation_id,
                reader_id=reader,
                last_read_message_id=after.last_read_message_id,
                read_at=after.last_read_at,
            )
            other_profile = profiles.item(UserProfile, other) if (UserProfile, other, None) in profiles else None
            if blocks.blocked_between(profiles, reader, other):
                other_profile = None  # the blocked (or blocking) user's connections get nothing of it
            after_commit("delivery", lambda: self.notifier.read(reader, update, plan.conversation, other_profile), None)
        return Read(out, plan.changed)

    # --- typing and pattern conversations --------------------------------------------------------------

    def typing(self, principal: Principal, conversation_id: str, *, typing: bool) -> None:
        """Tell the conversation's room that the caller started or stopped typing (nothing is stored; counted
        against the ``typing`` limit by one UpdateItem)."""
        conversation = get_conversation_by_id(conversation_id, principal.user_id)
        spend(principal.user_id, "typing")
        self.notifier.typing(conversation, principal.user_id, typing=typing)

    def open_pattern_conversation(
        self, principal: Principal, pattern_id: str, creator_id: str | None
    ) -> tuple[PatternConversationOut, bool]:
        """Get or create the conversation with a pattern's creator; a new one is announced to the creator."""
        result = self.conversations.open_with_creator(principal, pattern_id, creator_id)
        if result.created and result.creator is not None:
            creator = result.creator
            after_commit(
                "delivery",
                lambda: self.notifier.conversation_opened(connections_of(creator), result.conversation, result.caller),
                None,
            )
        return PatternConversationOut(conversation=result.conversation), result.created


def _total_unread(profile: UserProfile | None) -> int:
    return max(int(profile.total_unread or 0), 0) if profile is not None else 0
