"""The rules of a message's changes, decided without I/O (``domain.lifecycle``), and the reply rules of a send."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from chalicelib.domain.conversations import ConversationState, new_conversation
from chalicelib.domain.ids import conversation_id_for, message_id_for
from chalicelib.domain.lifecycle import (
    DELETED,
    EDITED,
    REPLIES_FOLLOWING,
    ChangePlan,
    canonical_emoji,
    plan_delete,
    plan_edit,
    plan_reaction,
)
from chalicelib.domain.messages import MessageRecord, Reaction, ReplyRef, preview_of, quote_of
from chalicelib.domain.sending import SendCommand, SendPlan, SendSnapshot, plan_send, snapshot_keys
from chalicelib.errors import AppError

SENT = "2026-12-01T10:00:00.000Z"
NOW = "2026-12-01T10:05:00.000Z"
CHAT = conversation_id_for("alice", "bob", "p1")
ALLOWED = ("👍", "❤️", "🧶")


def message(seq: int = 1, **fields: object) -> MessageRecord:
    values: dict[str, object] = {
        "conversation_id": CHAT,
        "seq": seq,
        "id": message_id_for(CHAT, seq),
        "sender_id": "bob",
        "recipient_id": "alice",
        "recipient_receipt": seq,
        "content": "Which hook?",
        "sent_at": SENT,
    }
    return MessageRecord(**{**values, **fields})  # type: ignore[arg-type]


def conversation(last: MessageRecord | None = None) -> ConversationState:
    base = new_conversation("bob", "alice", "p1", "Granny Square Blanket", SENT)
    last = last or message()
    return replace(base, message_count=last.seq, version=7, last_message_id=last.id, last_message=preview_of(last))


def refusal(call: object) -> tuple[int, str]:
    with pytest.raises(AppError) as refused:
        call()  # type: ignore[operator]
    return refused.value.status, str(refused.value.code)


def edit(
    target: MessageRecord | None = None,
    *,
    editor: str = "bob",
    content: str = "Which hook, 4 mm?",
    now: str = NOW,
    window: int = 900,
    chat: ConversationState | None = None,
) -> ChangePlan:
    target = message() if target is None else target
    return plan_edit(
        target, chat or conversation(target), editor=editor, content=content, now=now, window_seconds=window
    )


# --- edits ---------------------------------------------------------------------------------------------


def test_an_edit_changes_text_version_and_time_and_both_timelines() -> None:
    plan = edit()

    assert plan.changed and plan.kind == EDITED
    assert (plan.message.content, plan.message.version, plan.message.edited_at) == ("Which hook, 4 mm?", 2, NOW)
    assert [(e.user_id, e.position) for e in plan.timeline] == [
        ("alice", f"{NOW}#{CHAT}#{1:012d}"),
        ("bob", f"{NOW}#{CHAT}#{1:012d}"),
    ]


def test_an_edit_of_the_last_message_rewrites_the_preview_without_a_new_conversation_version() -> None:
    plan = edit()

    assert plan.preview_changed
    assert plan.conversation.last_message == {
        "id": message().id,
        "senderId": "bob",
        "content": "Which hook, 4 mm?",
        "sentAt": SENT,
        "editedAt": NOW,
    }
    assert plan.conversation.version == 7  # the write is conditioned on it; a preview changes no counter


def test_an_edit_of_an_older_message_leaves_the_conversation() -> None:
    plan = edit(chat=conversation(message(2)))

    assert not plan.preview_changed


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda: edit(editor="alice"), (403, "not_sender")),
        (lambda: edit(editor="carol"), (404, "not_found")),
        (
            lambda: plan_edit(None, conversation(), editor="bob", content="x", now=NOW, window_seconds=900),
            (404, "not_found"),
        ),
        (lambda: edit(message(deleted_at=SENT)), (409, "message_deleted")),
        (lambda: edit(now="2026-12-01T10:15:00.001Z"), (403, "edit_window_passed")),
        (lambda: edit(content=""), (400, "invalid_request")),
    ],
    ids=["another participant", "a stranger", "missing", "deleted", "after the window", "empty text"],
)
def test_edit_refusals(change: object, expected: tuple[int, str]) -> None:
    assert refusal(change) == expected


def test_the_window_edge_is_still_open() -> None:
    assert edit(now="2026-12-01T10:15:00.000Z").changed


def test_an_attachment_message_may_lose_its_caption_and_keeps_its_attachment() -> None:
    attachment = {"id": "att_x", "kind": "file", "name": "chart.pdf"}

    plan = edit(message(attachment=attachment), content="")

    assert (plan.message.content, plan.message.attachment) == ("", attachment)


def test_the_same_text_is_no_change() -> None:
    plan = edit(content="Which hook?")

    assert not plan.changed and plan.message == plan.before and plan.timeline == []


def test_an_edit_bumps_the_replies_that_follow_and_puts_them_in_the_timelines() -> None:
    plan = edit(message(reply_seqs=frozenset({3, 5})))

    assert plan.replies == (3, 5)
    assert sorted({e.seq for e in plan.timeline}) == [1, 3, 5] and len(plan.timeline) == 6


# --- deletion ------------------------------------------------------------------------------------------


def test_a_deletion_leaves_a_tombstone_and_releases_the_attachment() -> None:
    attachment = {"id": "att_x", "kind": "image", "key": "k"}
    target = message(
        attachment=attachment, reactions=(Reaction("🧶", ("alice",)),), reply_to=ReplyRef(1, "alice"), seq=2
    )

    plan = plan_delete(target, conversation(target), actor="bob", now=NOW)

    after = plan.message
    assert (after.content, after.attachment, after.reactions, after.reply_to) == ("", None, (), None)
    assert (after.is_deleted, after.deleted_at, after.version, plan.kind) == (True, NOW, 2, DELETED)
    assert plan.released == attachment
    assert plan.conversation.last_message is not None and plan.conversation.last_message["isDeleted"] is True


def test_deleting_twice_changes_nothing_and_only_the_sender_deletes() -> None:
    deleted = message(deleted_at=SENT, content="", version=2)

    assert not plan_delete(deleted, conversation(deleted), actor="bob", now=NOW).changed
    assert refusal(lambda: plan_delete(message(), conversation(), actor="alice", now=NOW)) == (403, "not_sender")
    assert refusal(lambda: plan_delete(message(), conversation(), actor="carol", now=NOW)) == (404, "not_found")


# --- reactions -----------------------------------------------------------------------------------------


def react(target: MessageRecord, user: str, emoji: str, add: bool = True, max_kinds: int = 20) -> ChangePlan:
    return plan_reaction(target, conversation(target), user=user, emoji=emoji, add=add, now=NOW, max_kinds=max_kinds)


def test_reactions_keep_first_use_order_and_who_in_order() -> None:
    target = message()
    for user, emoji in (("alice", "🧶"), ("bob", "👍"), ("bob", "🧶")):
        target = react(target, user, emoji).message

    assert target.reactions == (Reaction("🧶", ("alice", "bob")), Reaction("👍", ("bob",)))
    assert target.version == 4


def test_removing_the_last_reaction_of_an_emoji_drops_it_and_a_later_one_goes_last() -> None:
    target = message(reactions=(Reaction("🧶", ("alice",)), Reaction("👍", ("bob",))))

    target = react(target, "alice", "🧶", add=False).message
    target = react(target, "alice", "🧶").message

    assert target.reactions == (Reaction("👍", ("bob",)), Reaction("🧶", ("alice",)))


def test_reactions_are_idempotent() -> None:
    target = message(reactions=(Reaction("🧶", ("alice",)),))

    assert not react(target, "alice", "🧶").changed
    assert not react(target, "bob", "🧶", add=False).changed


def test_the_cap_counts_distinct_emoji() -> None:
    target = message(reactions=(Reaction("🧶", ("alice",)), Reaction("👍", ("bob",))))

    assert refusal(lambda: react(target, "alice", "❤️", max_kinds=2)) == (409, "too_many_reactions")
    assert react(target, "alice", "👍", max_kinds=2).changed


def test_reactions_need_a_participant_and_a_message_that_is_not_deleted() -> None:
    assert refusal(lambda: react(message(), "carol", "🧶")) == (404, "not_found")
    assert refusal(lambda: react(message(deleted_at=SENT), "alice", "🧶")) == (409, "message_deleted")


def test_a_reaction_leaves_the_preview_and_the_replies_alone() -> None:
    plan = react(message(reply_seqs=frozenset({2})), "alice", "🧶")

    assert not plan.preview_changed and plan.replies == ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("🧶", "🧶"), ("❤", "❤️"), ("❤️", "❤️"), ("👍🏽", None), ("smile", None), ("", None), ("🧶🧶", None)],
)
def test_canonical_emoji(value: str, expected: str | None) -> None:
    assert canonical_emoji(value, ALLOWED) == expected


# --- quotes --------------------------------------------------------------------------------------------


def test_a_quote_shows_the_original_as_it_is() -> None:
    reply = message(2, sender_id="alice", recipient_id="bob", reply_to=ReplyRef(1, "bob"))

    assert quote_of(reply, message(content="x" * 200)).content == "x" * 140  # type: ignore[union-attr]
    deleted = quote_of(reply, message(deleted_at=NOW, content=""))
    assert deleted is not None and (deleted.content, deleted.is_deleted) == ("", True)
    unknown = quote_of(reply, None)
    assert unknown is not None and (unknown.id, unknown.sender_id) == (message().id, "bob")
    assert quote_of(replace(reply, deleted_at=NOW), message()) is None
    assert quote_of(message(), None) is None


def _reply_command(target: str) -> SendCommand:
    return SendCommand(sender_id="alice", content="4 mm", conversation_id=CHAT, reply_to_id=target)


def test_a_reply_reads_its_original_with_the_send_and_is_recorded_on_it() -> None:
    command = _reply_command(message_id_for(CHAT, 1))
    assert snapshot_keys(command)["original"] == (CHAT, 1)

    plan = plan_send(SendSnapshot(conversation=conversation(), original=message()), command, NOW)

    assert isinstance(plan, SendPlan)
    assert plan.message.reply_to == ReplyRef(1, "bob")
    assert plan.quoted is not None and (plan.quoted.seq, plan.quoted.follows) == (1, True)


def test_past_the_bound_a_reply_is_not_recorded() -> None:
    full = message(reply_seqs=frozenset(range(2, 2 + REPLIES_FOLLOWING)))

    plan = plan_send(SendSnapshot(conversation=conversation(), original=full), _reply_command(full.id), NOW)

    assert isinstance(plan, SendPlan) and plan.quoted is not None and not plan.quoted.follows


def test_reply_refusals() -> None:
    other = conversation_id_for("alice", "carol", None)
    assert "original" not in snapshot_keys(_reply_command(message_id_for(other, 1)))
    for snapshot, target in (
        (SendSnapshot(conversation=conversation()), message_id_for(CHAT, 1)),  # not read: missing
        (SendSnapshot(conversation=conversation()), message_id_for(other, 1)),  # another conversation's
        (SendSnapshot(conversation=conversation()), "garbage"),
    ):
        assert refusal(lambda s=snapshot, t=target: plan_send(s, _reply_command(t), NOW)) == (400, "invalid_reply")
    deleted = SendSnapshot(conversation=conversation(), original=message(deleted_at=SENT))
    assert refusal(lambda: plan_send(deleted, _reply_command(message().id), NOW)) == (409, "message_deleted")


def test_a_replys_request_hash_differs_and_a_plain_sends_is_unchanged() -> None:
    plain = SendCommand(sender_id="alice", content="4 mm", conversation_id=CHAT)

    assert _reply_command(message().id).request_hash != plain.request_hash
    # The hash of a send without a quote is what it was before quotes existed (stored idempotency records match).
    before = {"content": "4 mm", "conversation_id": CHAT, "recipient_id": None, "pattern_id": None, "attachment": None}
    assert plain.request_hash == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()
