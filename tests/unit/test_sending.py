"""The send rules, decided without I/O (``domain.sending.plan_send``): what a send may do and every item it writes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.conversations import ConversationState, new_conversation
from chalicelib.domain.ids import conversation_id_for, message_id_for
from chalicelib.domain.sending import (
    CONVERSATION,
    SEND,
    IdempotencyHit,
    PatternInfo,
    Replay,
    SendCommand,
    SendPlan,
    SendSnapshot,
    VerifyUpload,
    plan_send,
    snapshot_keys,
)
from chalicelib.domain.uploads import PENDING, READY, REJECTED, UploadState, Verified
from chalicelib.errors import AppError, ErrorCode

NOW = "2026-12-01T10:00:00.000Z"
LATER = "2026-12-01T10:00:05.000Z"
CHAT = conversation_id_for("alice", "bob", "p1")
DIRECT = conversation_id_for("alice", "carol", None)


def existing(*, messages: int = 0) -> ConversationState:
    """alice and bob's conversation about p1, with ``messages`` from bob to alice already in it."""
    conversation = new_conversation("bob", "alice", "p1", "Granny Square Blanket", NOW)
    for seq in range(1, messages + 1):
        states = dict(conversation.states)
        states["alice"] = states["alice"].receive(message_id_for(CHAT, seq))
        conversation = replace(conversation, states=states, message_count=seq, version=seq)
    return conversation


def to_chat(sender: str = "bob", **fields: object) -> SendCommand:
    return SendCommand(sender_id=sender, content="hello", conversation_id=CHAT, **fields)  # type: ignore[arg-type]


def planned(snapshot: SendSnapshot, command: SendCommand, now: str = LATER) -> SendPlan:
    plan = plan_send(snapshot, command, now)
    assert isinstance(plan, SendPlan), plan
    return plan


def refusal(snapshot: SendSnapshot, command: SendCommand) -> tuple[int, str]:
    with pytest.raises(AppError) as refused:
        plan_send(snapshot, command, LATER)
    return refused.value.status, str(refused.value.code)


def upload(**fields: object) -> UploadState:
    values: dict[str, object] = {
        "id": "att_AAAAAAAAAAAAAAAAAAAAAAAA",
        "conversation_id": CHAT,
        "uploader_id": "bob",
        "key": f"conversations/{CHAT}/att_AAAAAAAAAAAAAAAAAAAAAAAA/original",
        "kind": "file",
        "content_type": "application/pdf",
        "file_name": "chart.pdf",
        "declared_size": 2048,
        "status": PENDING,
        **fields,
    }
    return UploadState(**values)  # type: ignore[arg-type]


# --- into an existing conversation ---------------------------------------------------------------------


def test_a_send_into_a_conversation_writes_the_next_message_and_everything_it_changes() -> None:
    conversation = existing(messages=2)

    plan = planned(SendSnapshot(conversation=conversation), to_chat())

    message = plan.message
    assert (message.seq, message.id, message.sender_id, message.recipient_id) == (
        3,
        message_id_for(CHAT, 3),
        "bob",
        "alice",
    )
    assert message.recipient_receipt == 3 and message.sent_at == LATER
    assert not plan.conversation_created and plan.expected_version == 2 and plan.conversation.version == 3
    assert plan.conversation.message_count == 3 and plan.conversation.state_of("alice").unread == 3
    assert plan.conversation.last_message == {"id": message.id, "senderId": "bob", "content": "hello", "sentAt": LATER}
    assert plan.unread_increments == {"alice": 1}
    assert plan.charges == (SEND,)
    assert plan.memberships_for == ("alice", "bob")
    assert [(entry.user_id, entry.seq) for entry in plan.timeline] == [("alice", 3), ("bob", 3)]
    assert plan.idempotency is None and plan.attachment is None and plan.claims is None


def test_a_stranger_cannot_send_into_a_conversation_and_learns_nothing() -> None:
    assert refusal(SendSnapshot(conversation=existing()), to_chat("carol")) == (404, ErrorCode.NOT_FOUND)
    assert refusal(SendSnapshot(conversation=None), to_chat("carol")) == (404, ErrorCode.NOT_FOUND)


def test_a_conversation_id_that_cannot_be_ours_is_not_found() -> None:
    command = SendCommand(sender_id="bob", content="x", conversation_id="conv_not-one-of-ours")

    assert refusal(SendSnapshot(conversation=None), command) == (404, ErrorCode.NOT_FOUND)


def test_the_token_claims_ride_along_to_be_shown_to_others() -> None:
    plan = planned(SendSnapshot(conversation=existing()), to_chat(sender_name="Bob Stitch"))

    assert plan.claims is not None and (plan.claims.user_id, plan.claims.name) == ("bob", "Bob Stitch")


# --- opening a conversation ----------------------------------------------------------------------------


def test_the_first_direct_message_opens_the_conversation_for_a_known_recipient() -> None:
    command = SendCommand(sender_id="carol", content="hi", recipient_id="alice")

    plan = planned(SendSnapshot(conversation=None, recipient_exists=True), command)

    assert plan.conversation_created and plan.expected_version == 0
    assert plan.conversation.id == DIRECT and plan.conversation.participant_ids == ("alice", "carol")
    assert plan.charges == (SEND, CONVERSATION)
    assert plan.message.seq == 1 and plan.conversation.created_at == LATER
    assert refusal(SendSnapshot(conversation=None, recipient_exists=False), command) == (404, ErrorCode.NOT_FOUND)


def test_nobody_messages_themself() -> None:
    command = SendCommand(sender_id="alice", content="hi", recipient_id="alice")

    assert refusal(SendSnapshot(conversation=None, recipient_exists=True), command) == (
        400,
        ErrorCode.SELF_CONVERSATION,
    )


@pytest.mark.parametrize(
    ("sender", "recipient", "pattern", "purchased", "expected"),
    [
        ("bob", "alice", PatternInfo("alice", "Granny Square Blanket"), True, None),
        ("bob", "alice", PatternInfo("alice", "Granny Square Blanket"), False, (403, ErrorCode.PURCHASE_REQUIRED)),
        ("bob", "carol", PatternInfo("alice", "Granny Square Blanket"), True, (403, ErrorCode.NOT_PATTERN_CREATOR)),
        ("alice", "bob", PatternInfo("alice", "Granny Square Blanket"), False, None),  # the creator writes a buyer
        ("bob", "alice", None, True, (404, ErrorCode.NOT_FOUND)),
    ],
)
def test_a_pattern_conversation_is_held_with_the_creator_by_a_buyer(
    sender: str, recipient: str, pattern: PatternInfo | None, purchased: bool, expected: tuple[int, str] | None
) -> None:
    command = SendCommand(sender_id=sender, content="which hook?", recipient_id=recipient, pattern_id="p1")
    snapshot = SendSnapshot(conversation=None, recipient_exists=True, pattern=pattern, purchased=purchased)

    if expected is None:
        plan = planned(snapshot, command)
        assert plan.conversation.title == "Granny Square Blanket" and plan.conversation.pattern_id == "p1"
    else:
        assert refusal(snapshot, command) == expected


# --- retries -------------------------------------------------------------------------------------------


def test_a_retry_with_the_same_client_message_id_replays_the_original() -> None:
    command = to_chat(client_message_id="c-1")
    hit = IdempotencyHit(command.request_hash, CHAT, message_id_for(CHAT, 7), 7)

    assert plan_send(SendSnapshot(conversation=existing(), idempotency=hit), command, LATER) == Replay(CHAT, 7)


def test_a_reused_client_message_id_with_other_content_is_a_conflict() -> None:
    first = to_chat(client_message_id="c-1")
    hit = IdempotencyHit(first.request_hash, CHAT, message_id_for(CHAT, 7), 7)
    other = replace(first, content="something else")

    assert refusal(SendSnapshot(conversation=existing(), idempotency=hit), other) == (
        409,
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
    )


def test_a_first_send_with_a_client_message_id_records_it_in_the_same_write() -> None:
    command = to_chat(client_message_id="c-1")

    plan = planned(SendSnapshot(conversation=existing()), command)

    assert plan.idempotency is not None
    assert (plan.idempotency.key, plan.idempotency.message_seq) == ("send#bob#c-1", 1)
    assert snapshot_keys(command)["idempotency"] == "send#bob#c-1"


# --- attachments ---------------------------------------------------------------------------------------


def test_an_attachment_is_checked_in_storage_before_the_send_is_planned() -> None:
    command = to_chat(attachment_id=upload().id)
    snapshot = SendSnapshot(conversation=existing(), upload=upload())

    assert plan_send(snapshot, command, LATER) == VerifyUpload(upload())
    plan = planned(replace(snapshot, verified=Verified(2000)), command)

    assert plan.attachment is not None
    assert (plan.attachment.verified.size, plan.attachment.expected_status) == (2000, PENDING)
    assert plan.message.attachment is not None and plan.message.attachment["size"] == 2000
    assert plan.conversation.last_message is not None and plan.conversation.last_message["attachmentType"] == "file"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (upload(uploader_id="alice"), (400, ErrorCode.ATTACHMENT_NOT_FOUND)),
        (upload(conversation_id=DIRECT), (400, ErrorCode.ATTACHMENT_NOT_FOUND)),
        (None, (400, ErrorCode.ATTACHMENT_NOT_FOUND)),
        (upload(message_id=message_id_for(CHAT, 1)), (409, ErrorCode.ATTACHMENT_ALREADY_USED)),
        (upload(status=REJECTED, reason="not a readable image"), (400, ErrorCode.ATTACHMENT_REJECTED)),
    ],
)
def test_only_the_senders_own_unused_upload_into_this_conversation_can_be_attached(
    state: UploadState | None, expected: tuple[int, str]
) -> None:
    snapshot = SendSnapshot(conversation=existing(), upload=state, verified=Verified(10))

    assert refusal(snapshot, to_chat(attachment_id=upload().id)) == expected


def test_a_stranger_with_someone_elses_upload_gets_the_conversations_404_first() -> None:
    snapshot = SendSnapshot(conversation=existing(), upload=upload())

    assert refusal(snapshot, to_chat("carol", attachment_id=upload().id)) == (404, ErrorCode.NOT_FOUND)


def test_a_processed_image_is_claimed_in_the_state_it_was_read() -> None:
    ready = upload(kind="image", content_type="image/png", status=READY, width=40, height=30)

    plan = planned(
        SendSnapshot(conversation=existing(), upload=ready, verified=Verified(900)), to_chat(attachment_id=ready.id)
    )

    assert plan.attachment is not None and plan.attachment.expected_status == READY
    assert plan.message.attachment is not None and plan.message.attachment["width"] == 40
