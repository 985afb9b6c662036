"""Concurrent changes of one message never lose an update: every change is conditioned on the version it read,
and a loser reads again and retries (real threads; tests/integration/conftest.py isolates moto's transactions as
DynamoDB does)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.adapters.dynamodb import Conversation, Message
from chalicelib.adapters.dynamodb.batch import batch_get
from chalicelib.adapters.dynamodb.records import change_keys, change_snapshot, write_change
from chalicelib.adapters.dynamodb.transactions import Contention, commit
from chalicelib.bootstrap import services
from chalicelib.domain.clock import now_iso
from chalicelib.domain.ids import conversation_id_for
from chalicelib.domain.lifecycle import REPLIES_FOLLOWING, plan_edit
from chalicelib.domain.principal import Principal
from chalicelib.schemas.requests import SendMessageRequest
from tests.integration.conftest import Api

BLANKET = conversation_id_for("alice", "bob", "p1")
EMOJI = ("👍", "❤️", "😂", "😮", "😢", "🙏", "🎉", "🔥")
WORKERS = 4


def _first_message(api: Api) -> str:
    response = api.send("bob", recipientId="alice", patternId="p1", content="start")
    assert response.status == 201, response.body
    return response.body["message"]["id"]


def _react(user: str, message_id: str, emoji: str, add: bool = True) -> Any:
    return services().lifecycle.react(Principal(user), message_id, emoji, add=add)


def test_parallel_reactions_all_land(marketplace: Api) -> None:
    message_id = _first_message(marketplace)
    wanted = [(user, emoji) for emoji in EMOJI for user in ("alice", "bob")]

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(lambda pair: _react(pair[0], message_id, pair[1]), wanted))

    stored = Message.get(BLANKET, 1, consistent_read=True)
    assert stored.version == 1 + len(wanted)
    assert {(user, r["emoji"]) for r in stored.reactions for user in r["userIds"]} == set(wanted)
    assert sorted(r["emoji"] for r in stored.reactions) == sorted(EMOJI)


def test_parallel_adds_and_removes_keep_every_effect(marketplace: Api) -> None:
    message_id = _first_message(marketplace)
    for emoji in EMOJI[:4]:
        _react("alice", message_id, emoji)

    # alice takes back four reactions while bob adds four others: eight changes, none lost.
    changes = [("alice", e, False) for e in EMOJI[:4]] + [("bob", e, True) for e in EMOJI[4:]]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(lambda change: _react(change[0], message_id, change[1], add=change[2]), changes))

    stored = Message.get(BLANKET, 1, consistent_read=True)
    assert stored.version == 1 + 4 + len(changes)
    assert sorted((r["emoji"], tuple(r["userIds"])) for r in stored.reactions) == sorted(
        (e, ("bob",)) for e in EMOJI[4:]
    )


def test_parallel_edits_and_reactions_serialize(marketplace: Api) -> None:
    message_id = _first_message(marketplace)
    edits = [lambda i=i: services().lifecycle.edit(Principal("bob"), message_id, f"edit {i}") for i in range(6)]
    reactions = [lambda e=e: _react("alice", message_id, e) for e in EMOJI[:6]]

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(lambda call: call(), [c for pair in zip(edits, reactions, strict=True) for c in pair]))

    stored = Message.get(BLANKET, 1, consistent_read=True)
    assert stored.version == 1 + 12
    assert sorted(r.message.version for r in results) == list(range(2, 14))  # each change saw its own version
    assert stored.content in {f"edit {i}" for i in range(6)}
    assert len(stored.reactions) == 6
    # The conversation's preview shows the edit that committed last.
    assert Conversation.get(BLANKET, consistent_read=True).last_message["content"] == stored.content


def test_racing_replies_never_exceed_the_bound_of_replies_that_follow(marketplace: Api) -> None:
    message_id = _first_message(marketplace)
    count = REPLIES_FOLLOWING + 6

    def reply(index: int) -> Any:
        request = SendMessageRequest.model_validate(
            {"conversationId": BLANKET, "content": f"re {index}", "replyTo": {"messageId": message_id}}
        )
        return services().messaging.send(Principal("alice"), request)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        sent = list(pool.map(reply, range(count)))

    original = Message.get(BLANKET, 1, consistent_read=True)
    assert len(sent) == count and Conversation.get(BLANKET).message_count == count + 1
    assert len(original.reply_seqs) == REPLIES_FOLLOWING
    assert original.reply_seqs <= {int(s.out.message.id.rsplit("_", 1)[1]) for s in sent}


def test_an_edit_that_read_before_a_new_reply_does_not_commit(marketplace: Api) -> None:
    """A reply recorded between an edit's read and its commit does not change the original's version; the edit's
    condition on the number of replies it read makes it read again, so the new reply gets the edit too."""
    message_id = _first_message(marketplace)
    assert marketplace.send("bob", conversationId=BLANKET, content="and the yarn?").status == 201
    keys = change_keys(BLANKET, 1)  # not the last message: the edit's transaction leaves the conversation alone
    message, conversation = change_snapshot(keys, batch_get(list(keys.values())))
    plan = plan_edit(message, conversation, editor="bob", content="edited", now=now_iso(), window_seconds=900)
    assert (
        marketplace.send("alice", conversationId=BLANKET, content="re", replyTo={"messageId": message_id}).status == 201
    )

    with pytest.raises(Contention):
        commit(lambda transaction: write_change(transaction, plan))

    assert not plan.preview_changed
    edited = services().lifecycle.edit(Principal("bob"), message_id, "edited")  # reads again, bumps the reply
    assert edited.message.version == 2 and Message.get(BLANKET, 3, consistent_read=True).version == 2
