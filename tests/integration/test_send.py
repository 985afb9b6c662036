"""POST /api/messages: creating conversations, pattern rules, idempotency, concurrency, bad input."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.adapters.dynamodb import Conversation, Message
from chalicelib.bootstrap import services
from chalicelib.domain.principal import Principal
from chalicelib.schemas.requests import SendMessageRequest
from chalicelib.services.messaging import Sent
from tests.integration.conftest import Api


def stored_messages(conversation_id: str) -> list[Message]:
    return list(Message.query(conversation_id, consistent_read=True))


def test_first_message_about_a_pattern_creates_the_conversation(marketplace: Api) -> None:
    sent = marketplace.send("bob", recipientId="alice", patternId="p1", content="  Which hook size?  ")

    assert sent.status == 201, sent.body
    message, conversation = sent.body["message"], sent.body["conversation"]
    assert message["content"] == "Which hook size?"
    assert message["senderId"] == "bob" and message["recipientId"] == "alice"
    assert message["isRead"] is False and "readAt" not in message
    assert message["sentAt"].endswith("Z") and message["conversationId"] == conversation["id"]
    assert conversation["patternId"] == "p1"
    assert conversation["title"] == "Granny Square Blanket"
    assert conversation["participantIds"] == ["alice", "bob"]
    assert conversation["lastMessageId"] == message["id"]
    assert conversation["isActive"] is True


def test_both_directions_and_later_sends_share_one_conversation(marketplace: Api) -> None:
    first = marketplace.send("bob", recipientId="alice", patternId="p1").body["conversation"]["id"]
    reply = marketplace.send("alice", recipientId="bob", patternId="p1").body["conversation"]["id"]
    by_id = marketplace.send("bob", conversationId=first).body["conversation"]["id"]
    direct = marketplace.send("bob", recipientId="alice").body["conversation"]["id"]

    assert first == reply == by_id
    assert direct != first  # no pattern is another thread
    assert len(stored_messages(first)) == 3


def test_buyer_without_purchase_is_refused(marketplace: Api) -> None:
    sent = marketplace.send("carol", recipientId="alice", patternId="p1")

    assert sent.status == 403
    assert sent.body["error"]["code"] == "purchase_required"


def test_creator_can_always_write_to_a_buyer(marketplace: Api) -> None:
    assert marketplace.send("alice", recipientId="carol", patternId="p1").status == 201


@pytest.mark.parametrize(
    ("sender", "body", "status", "code"),
    [
        ("bob", {"recipientId": "carol", "patternId": "p1"}, 403, "not_pattern_creator"),
        ("bob", {"recipientId": "alice", "patternId": "nope"}, 404, "not_found"),
        ("bob", {"recipientId": "nobody"}, 404, "not_found"),
        ("bob", {"recipientId": "bob"}, 400, "self_conversation"),
        ("bob", {"conversationId": "conv_aaaaaaaaaaaaaaaaaaaaaaaaaa"}, 404, "not_found"),
        ("bob", {"conversationId": "not-an-id"}, 404, "not_found"),
        ("bob", {"recipientId": "alice", "attachment": {"attachmentId": "a1"}}, 400, "attachment_not_found"),
    ],
)
def test_refusals(marketplace: Api, sender: str, body: dict, status: int, code: str) -> None:
    sent = marketplace.send(sender, **body)

    assert sent.status == status, sent.body
    assert sent.body["error"]["code"] == code
    assert sent.body["error"]["message"]


def test_stranger_cannot_post_into_a_conversation(marketplace: Api) -> None:
    conversation_id = marketplace.send("bob", recipientId="alice", patternId="p1").body["conversation"]["id"]

    sent = marketplace.send("carol", conversationId=conversation_id, content="let me in")

    assert sent.status == 404
    assert sent.body["error"]["code"] == "not_found"
    assert len(stored_messages(conversation_id)) == 1


def test_retry_with_same_client_message_id_returns_the_original(marketplace: Api) -> None:
    first = marketplace.send("bob", recipientId="alice", content="hi", clientMessageId="c-1")
    retry = marketplace.send("bob", recipientId="alice", content="hi", clientMessageId="c-1")

    assert first.status == 201 and retry.status == 200
    assert retry.body["message"] == first.body["message"]
    assert retry.body["message"]["clientMessageId"] == "c-1"
    assert len(stored_messages(first.body["conversation"]["id"])) == 1
    assert marketplace.conversations("alice").body["totalUnread"] == 1


def test_reused_client_message_id_with_other_content_is_a_conflict(marketplace: Api) -> None:
    marketplace.send("bob", recipientId="alice", content="hi", clientMessageId="c-1")

    clash = marketplace.send("bob", recipientId="alice", content="something else", clientMessageId="c-1")

    assert clash.status == 409
    assert clash.body["error"]["code"] == "idempotency_key_reused"


def test_client_message_ids_are_per_sender(marketplace: Api) -> None:
    assert marketplace.send("bob", recipientId="alice", clientMessageId="same").status == 201
    assert marketplace.send("alice", recipientId="bob", clientMessageId="same").status == 201


def _send_as(user: str, **body: object) -> Sent:
    return services().messaging.send(Principal(user), SendMessageRequest.model_validate(body))


def test_simultaneous_first_messages_of_both_users_make_one_conversation(marketplace: Api) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(
                lambda pair: _send_as(pair[0], recipientId=pair[1], patternId="p1", content=f"from {pair[0]}"),
                [("bob", "alice"), ("alice", "bob")] * 4,
            )
        )

    conversation_ids = {result.out.conversation.id for result in results}
    assert len(conversation_ids) == 1
    conversation_id = conversation_ids.pop()
    messages = stored_messages(conversation_id)
    assert [m.seq for m in messages] == list(range(1, 9))
    assert Conversation.get(conversation_id).message_count == 8


def test_parallel_sends_and_retries_store_each_message_exactly_once(marketplace: Api) -> None:
    conversation_id = marketplace.send("bob", recipientId="alice", content="start").body["conversation"]["id"]
    requests = [
        {"conversationId": conversation_id, "content": f"m{i % 6}", "clientMessageId": f"k{i % 6}"} for i in range(12)
    ]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda body: _send_as("bob", **body), requests))

    messages = stored_messages(conversation_id)
    assert len(messages) == 7
    assert sorted(m.content for m in messages[1:]) == [f"m{i}" for i in range(6)]
    assert sum(result.created for result in results) == 6
    assert marketplace.conversations("alice").body["totalUnread"] == 7


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"recipientId": "alice", "content": "   "}, "body"),
        ({"recipientId": "alice", "content": "x" * 5001}, "content"),
        ({"recipientId": "alice", "content": "bell \x07"}, "content"),
        ({"content": "no target"}, "body"),
        ({"recipientId": "alice", "conversationId": "conv_x", "content": "both"}, "body"),
        ({"conversationId": "conv_x", "patternId": "p1", "content": "x"}, "body"),
        ({"recipientId": "alice", "content": "x", "senderId": "carol"}, "senderId"),
        ({"recipientId": "alice", "content": 42}, "content"),
        ({"recipientId": "alice", "content": "x", "clientMessageId": "has spaces"}, "clientMessageId"),
        ({"recipientId": "alice", "content": "x", "attachment": {"url": "http://x"}}, "attachment"),
    ],
)
def test_malformed_bodies_get_400_with_field_details(marketplace: Api, body: dict, field: str) -> None:
    sent = marketplace.call("POST", "/api/messages", "bob", body)

    assert sent.status == 400, sent.body
    assert sent.body["error"]["code"] == "invalid_request"
    assert any(detail["field"].startswith(field) for detail in sent.body["error"]["details"]), sent.body


@pytest.mark.parametrize(
    ("raw", "headers", "status", "code"),
    [
        ("{not json", {}, 400, "invalid_json"),
        (b"\xff\xfe", {}, 400, "invalid_json"),
        ("[1, 2]", {}, 400, "invalid_request"),
        ('{"content": "hi", "recipientId": "alice"}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (json.dumps({"recipientId": "alice", "content": "x" * 70_000}), {}, 413, "payload_too_large"),
        ("[" * 5000 + "]" * 5000, {}, 400, "invalid_json"),
        ('{"recipientId": "alice", "content": "a\\ud800b"}', {}, 400, "invalid_json"),
    ],
)
def test_unparseable_bodies_are_refused_cleanly(
    marketplace: Api, raw: str | bytes, headers: dict, status: int, code: str
) -> None:
    sent = marketplace.call("POST", "/api/messages", "bob", raw, headers=headers)

    assert sent.status == status, sent.body
    assert sent.body["error"]["code"] == code
