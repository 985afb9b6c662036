"""Concurrency: parallel writers never lose, double or reorder a message, and counters stay exact.

DynamoDB isolates transactions; moto does not, so tests/integration/conftest.py serializes moto's
transactions the way DynamoDB does (dev.moto_isolation). The races below are real threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chalicelib.adapters.dynamodb import Conversation, Message
from chalicelib.bootstrap import services
from chalicelib.domain.ids import conversation_id_for
from chalicelib.domain.principal import Principal
from chalicelib.schemas.requests import SendMessageRequest
from chalicelib.services.messaging import Sent
from tests.integration.conftest import Api
from tests.integration.sockets import Sockets

BLANKET = conversation_id_for("alice", "bob", "p1")
K = 16


def _send(user: str, **fields: object) -> Sent:
    request = SendMessageRequest.model_validate(fields)
    return services().messaging.send(Principal(user), request)


def test_k_parallel_sends_store_k_messages_in_gapless_order(marketplace: Api) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1", content="start")

    # 4 writers at once on one conversation is far beyond a 1:1 chat's real contention; each loser retries.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: _send("bob", conversationId=BLANKET, content=f"m{i}"), range(K)))

    stored = list(Message.query(BLANKET, consistent_read=True))
    assert [m.seq for m in stored] == list(range(1, K + 2))
    assert sorted(m.content for m in stored[1:]) == sorted(f"m{i}" for i in range(K))
    assert sorted(int(r.out.message.id.rsplit("_", 1)[1]) for r in results) == list(range(2, K + 2))
    assert [m.recipient_receipt for m in stored] == list(range(1, K + 2))
    assert marketplace.conversations("alice").body["totalUnread"] == K + 1
    assert Conversation.get(BLANKET).message_count == K + 1


def test_both_directions_in_parallel_keep_each_users_counter_exact(marketplace: Api) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1", content="start")
    senders = ["bob", "alice"] * (K // 2)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda who: _send(who, conversationId=BLANKET, content=who), senders))

    assert marketplace.conversations("alice").body["totalUnread"] == K // 2 + 1
    assert marketplace.conversations("bob").body["totalUnread"] == K // 2


def test_the_same_client_message_id_sent_concurrently_is_one_message(marketplace: Api, sockets: Sockets) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1", content="start")
    alice = sockets.connect("alice")
    sockets.send(alice, "join_conversation", conversationId=BLANKET)
    sockets.clear()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda _: _send("bob", conversationId=BLANKET, content="once", clientMessageId="c-1"), range(K))
        )

    assert sum(r.created for r in results) == 1
    assert len({r.out.message.id for r in results}) == 1
    assert Conversation.get(BLANKET).message_count == 2
    assert len(sockets.events(alice, "message_received")) == 1  # delivered once, by the send that stored it
