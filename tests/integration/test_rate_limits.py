"""Per-user rate limits (OWASP API4): 429 + Retry-After on REST, an error frame on the socket, nothing written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.adapters.dynamodb import Attachment, Conversation, RateCounter, rate_limits
from chalicelib.domain.ids import conversation_id_for
from chalicelib.settings import get_settings
from tests.integration.conftest import Api, DynamoCalls
from tests.integration.sockets import Sockets

BLANKET = conversation_id_for("alice", "bob", "p1")


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Small, slow windows, so a test crosses them deterministically."""
    monkeypatch.setenv("RATE_LIMIT_SEND", "3/3600")
    monkeypatch.setenv("RATE_LIMIT_CONVERSATION", "2/3600")
    monkeypatch.setenv("RATE_LIMIT_PRESIGN", "2/3600")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_sends_over_the_limit_get_429_and_store_nothing(marketplace: Api, limits: None) -> None:
    statuses = [marketplace.send("bob", recipientId="alice", patternId="p1", content=f"m{i}").status for i in range(4)]

    refused = marketplace.send("bob", recipientId="alice", patternId="p1", content="one more")
    assert statuses == [201, 201, 201, 429]
    assert refused.status == 429
    assert refused.body["error"]["code"] == "rate_limited"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 3600 and refused.body["error"]["details"]["retryAfter"] == retry_after
    assert Conversation.get(BLANKET).message_count == 3
    assert marketplace.conversations("alice").body["totalUnread"] == 3


def test_limits_are_per_user(marketplace: Api, limits: None) -> None:
    for index in range(3):
        marketplace.send("bob", recipientId="alice", content=f"{index}")

    assert marketplace.send("bob", recipientId="alice").status == 429
    assert marketplace.send("alice", recipientId="bob").status == 201


def test_idempotent_retries_are_not_counted(marketplace: Api, limits: None) -> None:
    first = marketplace.send("bob", recipientId="alice", clientMessageId="same")
    retries = [marketplace.send("bob", recipientId="alice", clientMessageId="same").status for _ in range(5)]

    assert first.status == 201 and retries == [200] * 5
    assert marketplace.send("bob", recipientId="alice", content="new").status == 201


def test_opening_conversations_is_limited(marketplace: Api, limits: None) -> None:
    for user in ("u1", "u2", "u3"):
        marketplace.user(user)

    opened = [marketplace.send("dave", recipientId=user).status for user in ("u1", "u2", "u3")]
    pattern = marketplace.call("GET", "/api/messages/pattern/p1", "bob")

    assert opened == [201, 201, 429]
    assert pattern.status == 201  # bob's own budget
    assert marketplace.conversations("dave").body["conversations"].__len__() == 2


def test_presigns_are_limited(marketplace: Api, limits: None) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1")
    body = {"conversationId": BLANKET, "fileName": "a.png", "contentType": "image/png", "size": 10}

    statuses = [marketplace.call("POST", "/api/attachments", "bob", body).status for _ in range(3)]

    assert statuses == [201, 201, 429]
    assert Attachment.count() == 2


def test_the_socket_answers_with_an_error_frame(marketplace: Api, sockets: Sockets, limits: None) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1")
    bob = sockets.connect("bob")

    for index in range(3):
        sockets.send(bob, "new_message", conversationId=BLANKET, content=f"{index}")

    assert len(sockets.events(bob, "message_sent")) == 2
    [error] = sockets.events(bob, "error")
    assert error["code"] == "rate_limited" and error["action"] == "new_message"
    assert error["details"]["retryAfter"] >= 1


def test_limits_cost_no_extra_round_trip(marketplace: Api, dynamo_calls: DynamoCalls, limits: None) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1")
    dynamo_calls.reset()

    marketplace.send("bob", conversationId=BLANKET)

    assert dict(dynamo_calls.operations) == {"BatchGetItem": 2, "TransactWriteItems": 1}
    assert RateCounter.count() >= 1


def test_retry_after_points_at_the_end_of_the_window() -> None:
    from pynamodb.exceptions import CancellationReason

    full = CancellationReason(code="ConditionalCheckFailed", raw_item={"key": {"S": "rate#send#2#500#bob"}})

    limited = rate_limits.rate_limited([None, full], now=1000.5)

    assert limited is not None and limited.retry_after == 2  # window 500 covers [1000, 1002)
    other = CancellationReason(code="ConditionalCheckFailed", raw_item={"id": {"S": "conv_x"}})
    assert rate_limits.rate_limited([other]) is None
