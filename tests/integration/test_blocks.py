"""Blocking (issue 16): while either of two users has blocked the other, nothing passes between them: sends either way
(REST and socket) answer 403 ``recipient_unavailable`` whoever blocked, no pattern conversation opens, rooms cannot be
joined, typing and presence do not flow, and open connections stop receiving the other's events. The check is a
condition of the send's transaction: a block committed between a send's read and its write still refuses it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.adapters.dynamodb import Block, Conversation, Message
from chalicelib.bootstrap import services
from chalicelib.domain.connections import parse_room
from chalicelib.domain.ids import conversation_id_for
from chalicelib.domain.principal import Principal
from chalicelib.errors import AppError
from chalicelib.schemas.requests import SendMessageRequest
from chalicelib.services import messaging
from tests.integration.conftest import Api, Response
from tests.integration.sockets import Sockets

BLANKET = conversation_id_for("alice", "bob", "p1")
REFUSED = (403, "recipient_unavailable")


def outcome(response: Response) -> tuple[int, str | None]:
    return response.status, response.body["error"]["code"] if response.status >= 400 else None


def block(api: Api, user: str, other: str) -> Response:
    return api.call("PUT", f"/api/me/blocks/{other}", user)


@pytest.fixture
def chat(marketplace: Api) -> str:
    """bob's message to alice about the blanket: its id."""
    sent = marketplace.send("bob", recipientId="alice", patternId="p1", content="which hook?")
    return str(sent.body["message"]["id"])


def test_block_unblock_and_list(marketplace: Api) -> None:
    first = block(marketplace, "alice", "carol")
    again = block(marketplace, "alice", "carol")
    block(marketplace, "alice", "bob")

    assert first.status == 201 and again.status == 200
    assert first.body == again.body
    assert first.body["block"]["userId"] == "carol" and first.body["block"]["blockedAt"]
    listed = marketplace.call("GET", "/api/me/blocks", "alice").body
    assert [b["userId"] for b in listed["blocks"]] == ["bob", "carol"] and listed["nextCursor"] is None
    assert marketplace.call("GET", "/api/me/blocks", "carol").body["blocks"] == []  # who blocked you is not shown

    removed = marketplace.call("DELETE", "/api/me/blocks/carol", "alice")
    removed_again = marketplace.call("DELETE", "/api/me/blocks/carol", "alice")

    assert removed.status == removed_again.status == 200
    assert removed.body == removed_again.body == {"userId": "carol", "blocked": False}
    assert [b["userId"] for b in marketplace.call("GET", "/api/me/blocks", "alice").body["blocks"]] == ["bob"]


def test_the_block_list_pages_with_a_signed_cursor(marketplace: Api) -> None:
    for index in range(5):
        block(marketplace, "alice", f"user{index}")

    seen, cursor = [], None
    while True:
        page = marketplace.call("GET", "/api/me/blocks?limit=2" + (f"&cursor={cursor}" if cursor else ""), "alice")
        seen += [b["userId"] for b in page.body["blocks"]]
        cursor = page.body["nextCursor"]
        if cursor is None:
            break
        foreign = marketplace.call("GET", f"/api/me/blocks?cursor={cursor}", "bob")
        assert outcome(foreign) == (400, "invalid_cursor")

    assert seen == [f"user{index}" for index in range(5)]


def test_a_user_cannot_block_themself_and_odd_ids_are_missing(marketplace: Api) -> None:
    assert outcome(block(marketplace, "alice", "alice")) == (400, "self_conversation")
    assert outcome(marketplace.call("PUT", "/api/me/blocks/not%20an%20id", "alice")) == (404, "not_found")


@pytest.mark.parametrize("blocker", ["alice", "bob"])
def test_sends_either_way_are_refused_the_same_whoever_blocked(
    marketplace: Api, chat: str, sockets: Sockets, blocker: str
) -> None:
    block(marketplace, blocker, "bob" if blocker == "alice" else "alice")
    before = Conversation.get(BLANKET).message_count

    answers = [
        marketplace.send("bob", conversationId=BLANKET, content="hello?"),
        marketplace.send("alice", conversationId=BLANKET, content="hello?"),
        marketplace.send("alice", recipientId="bob", content="a new conversation"),
        marketplace.send("bob", recipientId="alice", content="a new conversation"),
    ]
    connection = sockets.connect("bob")
    sockets.send(connection, "new_message", conversationId=BLANKET, content="over the socket")

    assert [outcome(a) for a in answers] == [REFUSED] * 4
    assert len({a.body["error"]["message"] for a in answers}) == 1  # nothing tells who blocked
    [error] = sockets.events(connection, "error")
    assert (error["code"], error["action"]) == ("recipient_unavailable", "new_message")
    assert Conversation.get(BLANKET).message_count == before
    assert Conversation.count(conversation_id_for("alice", "bob", None)) == 0


def test_unblocking_lets_them_talk_again(marketplace: Api, chat: str) -> None:
    block(marketplace, "alice", "bob")
    marketplace.call("DELETE", "/api/me/blocks/bob", "alice")

    assert marketplace.send("bob", conversationId=BLANKET, content="hello again").status == 201


def test_a_blocked_pair_cannot_open_a_pattern_conversation(marketplace: Api) -> None:
    marketplace.user("buyer")
    marketplace.purchase("p1", "buyer")
    block(marketplace, "alice", "buyer")

    opened = marketplace.call("GET", "/api/messages/pattern/p1", "buyer")
    by_message = marketplace.send("buyer", recipientId="alice", patternId="p1", content="hi")

    assert outcome(opened) == REFUSED and outcome(by_message) == REFUSED
    assert Conversation.count(conversation_id_for("alice", "buyer", "p1")) == 0


def test_an_existing_pattern_conversation_stays_readable(marketplace: Api, chat: str) -> None:
    block(marketplace, "alice", "bob")

    assert marketplace.call("GET", "/api/messages/pattern/p1", "bob").status == 200
    assert marketplace.conversation("bob", BLANKET).status == 200


def test_blocking_empties_the_rooms_and_presence_between_them(marketplace: Api, chat: str, sockets: Sockets) -> None:
    alice, bob = sockets.connect("alice"), sockets.connect("bob")
    for connection in (alice, bob):
        sockets.send(connection, "join_conversation", conversationId=BLANKET)
        sockets.send(connection, "watch_presence", userIds=["alice" if connection == bob else "bob"])
    sockets.clear()

    block(marketplace, "alice", "bob")

    assert parse_room(Conversation.get(BLANKET).room) == {}
    sockets.send(bob, "typing_start", conversationId=BLANKET)
    sockets.send(alice, "typing_start", conversationId=BLANKET)
    later = sockets.connect("alice")  # presence: alice was online already; a second connection
    sockets.disconnect(alice)
    sockets.disconnect(later)  # alice goes offline
    assert sockets.names(bob) == []
    sockets.send(bob, "join_conversation", conversationId=BLANKET)
    sockets.send(bob, "watch_presence", userIds=["alice"])
    assert [e["code"] for e in sockets.events(bob, "error")] == ["recipient_unavailable"]
    assert sockets.events(bob, "presence_watched")[0]["userIds"] == []


def test_the_blocked_users_connections_get_nothing_of_the_blocker(
    marketplace: Api, chat: str, sockets: Sockets
) -> None:
    mine = marketplace.send("alice", conversationId=BLANKET, content="4 mm").body["message"]["id"]
    bob = sockets.connect("bob")
    sockets.send(bob, "join_conversation", conversationId=BLANKET)
    block(marketplace, "alice", "bob")
    sockets.clear()

    assert marketplace.mark_read("alice", chat).status == 200
    assert marketplace.call("PATCH", f"/api/messages/{mine}", "alice", {"content": "5 mm"}).status == 200
    assert marketplace.call("DELETE", f"/api/messages/{mine}", "alice").status == 200

    assert sockets.names(bob) == []


def test_a_block_committed_between_a_sends_read_and_its_write_refuses_it(
    marketplace: Api, chat: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The send read no block; alice's block commits before its transaction: the condition refuses it."""
    original = messaging.batch_get
    blocked = []

    def read_then_block(keys: list[Any]) -> Any:
        found = original(keys)
        if not blocked:
            Block("alice", "bob", created_at="2026-12-02T00:00:00.000Z").save()
            blocked.append(True)
        return found

    monkeypatch.setattr(messaging, "batch_get", read_then_block)
    request = SendMessageRequest(conversation_id=BLANKET, content="just in time?")

    with pytest.raises(AppError) as refused:
        services().messaging.send(Principal("bob"), request)

    assert (refused.value.status, str(refused.value.code)) == REFUSED
    assert Conversation.get(BLANKET).message_count == 1


def test_concurrent_block_and_sends_never_store_a_message_after_the_block(marketplace: Api, chat: str) -> None:
    def send(index: int) -> str:
        try:
            services().messaging.send(
                Principal("bob"), SendMessageRequest(conversation_id=BLANKET, content=f"m{index}")
            )
            return "sent"
        except AppError as exc:
            return str(exc.code)

    def act(index: int) -> str:
        if index == 4:
            block(marketplace, "alice", "bob")
            return "blocked"
        return send(index)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(act, range(12)))

    assert set(results) <= {"sent", "recipient_unavailable", "blocked"}
    stored = list(Message.query(BLANKET, consistent_read=True))
    assert len(stored) == 1 + results.count("sent")  # every refused send stored nothing
    assert outcome(marketplace.send("bob", conversationId=BLANKET, content="after")) == REFUSED
    assert Conversation.get(BLANKET).message_count == len(stored)
