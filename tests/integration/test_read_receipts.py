"""PUT /api/messages/{id}/read: read positions, exact counters, who may mark what."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chalicelib.bootstrap import services
from chalicelib.domain.principal import Principal
from chalicelib.schemas.requests import SendMessageRequest
from tests.integration.conftest import Api


def bob_writes(api: Api, count: int) -> list[dict]:
    return [api.send("bob", recipientId="alice", content=f"question {i}").body["message"] for i in range(count)]


def test_marking_a_message_reads_everything_up_to_it(marketplace: Api) -> None:
    messages = bob_writes(marketplace, 3)

    marked = marketplace.mark_read("alice", messages[1]["id"])

    assert marked.status == 200, marked.body
    assert marked.body["unreadCount"] == 1
    assert marked.body["totalUnread"] == 1
    assert marked.body["lastReadMessageId"] == messages[1]["id"]
    history = marketplace.conversation("alice", messages[0]["conversationId"]).body["messages"]
    assert [m["isRead"] for m in history] == [True, True, False]
    assert history[0]["readAt"] == history[1]["readAt"] == marked.body["readAt"]
    assert "readAt" not in history[2]


def test_mark_conversation_reads_all_and_is_idempotent(marketplace: Api) -> None:
    messages = bob_writes(marketplace, 4)

    first = marketplace.mark_read("alice", messages[0]["id"], whole=True)
    again = marketplace.mark_read("alice", messages[0]["id"], whole=True)

    assert first.status == again.status == 200
    assert first.body["unreadCount"] == again.body["unreadCount"] == 0
    assert first.body["totalUnread"] == again.body["totalUnread"] == 0
    assert again.body["readAt"] == first.body["readAt"]
    assert first.body["lastReadMessageId"] == messages[-1]["id"]


def test_reading_an_older_message_never_moves_the_position_back(marketplace: Api) -> None:
    messages = bob_writes(marketplace, 3)
    marketplace.mark_read("alice", messages[2]["id"])

    older = marketplace.mark_read("alice", messages[0]["id"])

    assert older.body["unreadCount"] == 0
    assert older.body["lastReadMessageId"] == messages[2]["id"]


def test_only_the_recipient_can_mark_a_message(marketplace: Api) -> None:
    message = bob_writes(marketplace, 1)[0]

    by_sender = marketplace.mark_read("bob", message["id"])
    by_stranger = marketplace.mark_read("carol", message["id"])
    by_stranger_whole = marketplace.mark_read("carol", message["id"], whole=True)

    assert by_sender.status == 403 and by_sender.body["error"]["code"] == "not_recipient"
    assert by_stranger.status == 404 and by_stranger.body["error"]["code"] == "not_found"
    assert by_stranger_whole.status == 404
    assert marketplace.conversations("alice").body["totalUnread"] == 1


def test_unknown_and_malformed_message_ids_are_404(marketplace: Api) -> None:
    message = bob_writes(marketplace, 1)[0]
    unknown = message["id"].rsplit("_", 1)[0] + "_99"

    for message_id in (unknown, "msg_nope", "x" * 300):
        response = marketplace.mark_read("alice", message_id)
        assert response.status == 404, (message_id, response.body)
        assert response.body["error"]["code"] == "not_found"


def test_mark_read_body_is_validated(marketplace: Api) -> None:
    message = bob_writes(marketplace, 1)[0]

    response = marketplace.call("PUT", f"/api/messages/{message['id']}/read", "alice", {"markConversation": "yes"})

    assert response.status == 400
    assert response.body["error"]["details"][0]["field"] == "markConversation"


def test_counters_stay_exact_across_interleaved_sends_and_reads(marketplace: Api) -> None:
    """Two conversations, both directions, reads in between: every counter matches a recount."""
    pattern_chat = marketplace.send("bob", recipientId="alice", patternId="p1", content="a").body["message"]
    direct_chat = marketplace.send("carol", recipientId="alice", content="b").body["message"]
    marketplace.send("alice", conversationId=pattern_chat["conversationId"], content="reply")
    marketplace.send("bob", conversationId=pattern_chat["conversationId"], content="c")
    marketplace.mark_read("alice", pattern_chat["id"])
    marketplace.send("carol", conversationId=direct_chat["conversationId"], content="d")
    alices_reply = marketplace.conversation("bob", pattern_chat["conversationId"]).body["messages"][1]
    marketplace.mark_read("bob", alices_reply["id"])
    marketplace.send("bob", conversationId=pattern_chat["conversationId"], content="e")

    alice = marketplace.conversations("alice").body
    bob = marketplace.conversations("bob").body
    unread_by_conversation = {c["id"]: c["unreadCount"] for c in alice["conversations"]}

    def recount(user: str, conversation_id: str) -> int:
        history = marketplace.conversation(user, conversation_id).body["messages"]
        return sum(1 for m in history if m["recipientId"] == user and not m["isRead"])

    for chat in (pattern_chat, direct_chat):
        assert unread_by_conversation[chat["conversationId"]] == recount("alice", chat["conversationId"]) == 2
    assert alice["totalUnread"] == 4
    assert bob["totalUnread"] == 0


def test_reads_racing_sends_never_lose_or_go_negative(marketplace: Api) -> None:
    conversation_id = marketplace.send("bob", recipientId="alice", content="0").body["conversation"]["id"]
    bob, alice = Principal("bob"), Principal("alice")

    def send(index: int) -> None:
        services().messaging.send(bob, SendMessageRequest(conversation_id=conversation_id, content=f"m{index}"))

    def read_latest(_: int) -> None:
        latest = marketplace.conversation("alice", conversation_id, "&limit=1").body["messages"][-1]
        result = services().messaging.read(alice, latest["id"], whole_conversation=False).out
        assert result.unread_count >= 0 and result.total_unread >= 0

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda i: send(i) if i % 2 else read_latest(i), range(16)))

    detail = marketplace.conversation("alice", conversation_id).body
    unread = sum(1 for m in detail["messages"] if not m["isRead"])
    assert detail["conversation"]["unreadCount"] == unread
    assert marketplace.conversations("alice").body["totalUnread"] == unread
    assert len(detail["messages"]) == 9
