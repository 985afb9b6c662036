"""The one error boundary, end to end: storage failures are a documented 503 wherever they happen, a committed write
is answered as committed whatever fails after it, and a bug is still answered in the one error shape."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.dynamodb import Message
from chalicelib.bootstrap import Services
from chalicelib.domain.ids import conversation_id_for
from tests.integration.conftest import Api
from tests.integration.sockets import Sockets

PATTERN_CHAT = conversation_id_for("alice", "bob", "p1")


def throttled(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, operation)


@contextmanager
def dynamodb_failing(operation: str, *, nth: int | None = None) -> Iterator[list[str]]:
    """DynamoDB's ``operation`` raises what botocore raises when throttled: every call, or only the ``nth``."""
    original = botocore.client.BaseClient._make_api_call
    seen: list[str] = []

    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb" and operation_name == operation:
            seen.append(operation_name)
            if nth is None or len(seen) == nth:
                raise throttled(operation_name)
        return original(self, operation_name, api_params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
        yield seen


def test_a_sync_whose_query_fails_is_a_retryable_503_not_a_bare_500(marketplace: Api) -> None:
    """Regression: a QueryError in sync escaped as Chalice's bare 500."""
    cursor = marketplace.call("GET", "/api/messages/sync", "alice").body["nextCursor"]

    with dynamodb_failing("Query"):
        failed = marketplace.call("GET", f"/api/messages/sync?since={cursor}", "alice")
    retried = marketplace.call("GET", f"/api/messages/sync?since={cursor}", "alice")

    assert failed.status == 503, failed.body
    assert failed.body["error"] == {
        "code": "temporarily_unavailable",
        "message": "storage is unavailable, retry the request",
        "details": {"cause": "QueryError"},
    }
    assert retried.status == 200


def test_a_read_failing_after_a_committed_send_still_answers_201_with_the_stored_message(marketplace: Api) -> None:
    """Regression: the profiles read for delivery failed after the send's transaction had committed, and the
    client got a 500 for a message that was stored (a retry without clientMessageId would then duplicate it)."""
    assert marketplace.send("bob", recipientId="alice", patternId="p1", content="first").status == 201

    # A send reads its snapshot (1st BatchGetItem), commits, then reads the two profiles for delivery (2nd).
    with dynamodb_failing("BatchGetItem", nth=2) as seen:
        response = marketplace.send("bob", conversationId=PATTERN_CHAT, content="stored whatever happens next")

    assert seen == ["BatchGetItem", "BatchGetItem"]
    assert response.status == 201, response.body
    assert response.body["message"]["content"] == "stored whatever happens next"
    stored = [m.content for m in Message.query(PATTERN_CHAT, consistent_read=True)]
    assert stored == ["first", "stored whatever happens next"]


def test_a_socket_frame_meeting_a_storage_failure_gets_an_error_frame(marketplace: Api, sockets: Sockets) -> None:
    assert marketplace.send("bob", recipientId="alice", patternId="p1", content="first").status == 201
    bob = sockets.connect("bob")
    sockets.clear()

    with dynamodb_failing("TransactWriteItems"):
        sockets.send(bob, "new_message", conversationId=PATTERN_CHAT, content="not now", requestId="r1")

    [error] = sockets.events(bob, "error")
    assert (error["code"], error["action"], error["requestId"]) == ("temporarily_unavailable", "new_message", "r1")


class BrokenFiles:
    """An S3 adapter with a bug in it (not a storage failure): every call raises a plain exception."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def broken(*args: Any, **kwargs: Any) -> Any:
            raise KeyError("a bug, not an outage")

        return broken


def test_a_bug_is_answered_as_500_in_the_one_error_shape(
    marketplace: Api, install_services: Callable[..., Services]
) -> None:
    opened = marketplace.send("bob", recipientId="alice", patternId="p1", content="first")
    install_services(files=BrokenFiles())

    response = marketplace.call(
        "POST",
        "/api/attachments",
        "bob",
        {
            "conversationId": opened.body["conversation"]["id"],
            "fileName": "a.pdf",
            "contentType": "application/pdf",
            "size": 9,
        },
    )

    assert response.status == 500
    assert response.body == {"error": {"code": "internal_error", "message": "internal error"}}


def test_a_read_failing_after_a_committed_read_receipt_still_answers_it(marketplace: Api) -> None:
    sent = [marketplace.send("bob", recipientId="alice", patternId="p1", content=f"m{i}").body for i in range(3)]
    newest = sent[-1]["message"]["id"]

    # A read takes its snapshot (1st BatchGetItem), commits, then reads both profiles (2nd).
    with dynamodb_failing("BatchGetItem", nth=2) as seen:
        response = marketplace.mark_read("alice", newest)

    assert seen == ["BatchGetItem", "BatchGetItem"]
    assert response.status == 200, response.body
    assert (response.body["unreadCount"], response.body["totalUnread"], response.body["lastReadMessageId"]) == (
        0,
        0,
        newest,
    )
    assert marketplace.conversations("alice").body["totalUnread"] == 0  # stored, not just answered
