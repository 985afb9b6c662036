"""Ids in paths, queries, bodies and frames that cannot be ours are answered 400/404, never 500 or a 503 that no
retry can cure. moto checks DynamoDB's key-size limits only on writes; here it applies them to reads too, as
DynamoDB does (hash key ≤ 2048 bytes, range key ≤ 1024 bytes: ``ValidationException``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend

from tests.integration.conftest import Api
from tests.integration.sockets import Sockets

HUGE = 2100


@pytest.fixture(autouse=True)
def dynamodb_key_limits_on_reads() -> Iterator[None]:
    original = DynamoDBBackend.get_item

    def get_item(self: Any, table_name: str, keys: dict[str, Any], projection_expressions: Any = None) -> Any:
        self.get_table(table_name)._validate_key_sizes(keys)
        return original(self, table_name, keys, projection_expressions)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DynamoDBBackend, "get_item", get_item)
        yield


def test_the_limits_are_really_applied(marketplace: Api) -> None:
    """Guard for the tests below: an oversized key read straight from the table is refused by (patched) moto."""
    from pynamodb.exceptions import GetError

    from chalicelib.adapters.dynamodb import Attachment
    from chalicelib.entrypoints.boundary import to_app_error

    with pytest.raises(GetError) as refused:
        Attachment.get("a" * HUGE)
    assert "ValidationException" in str(refused.value)
    answered = to_app_error(refused.value)  # what the boundary makes of it if one ever slips through: a 400
    assert answered is not None and (answered.status, answered.code) == (400, "invalid_request")


NOT_FOUND = (404, "not_found")
INVALID = (400, "invalid_request")

REST: dict[str, tuple[str, str, Any, tuple[int, str]]] = {
    "attachment": ("GET", "/api/attachments/" + "a" * HUGE, None, NOT_FOUND),
    "attachment, odd characters": ("GET", "/api/attachments/att_%00%01", None, NOT_FOUND),
    "pattern": ("GET", "/api/messages/pattern/" + "p" * HUGE, None, NOT_FOUND),
    "pattern with creatorId": ("GET", "/api/messages/pattern/" + "p" * 1100 + "?creatorId=alice", None, NOT_FOUND),
    "creatorId": ("GET", "/api/messages/pattern/p1?creatorId=" + "c" * HUGE, None, INVALID),
    "conversation": ("GET", "/api/messages/conversations/" + "c" * HUGE, None, NOT_FOUND),
    "conversation, seed form": ("GET", "/api/messages?conversationId=" + "c" * 250, None, NOT_FOUND),
    "message to read": ("PUT", "/api/messages/" + "m" * HUGE + "/read", {}, NOT_FOUND),
    "history cursor": ("GET", "/api/messages/conversations/conv_x?before=" + "m" * 250, None, NOT_FOUND),
    "recipient": ("POST", "/api/messages", {"recipientId": "r" * HUGE, "content": "hi"}, INVALID),
    "pattern of a send": ("POST", "/api/messages", {"recipientId": "alice", "patternId": "p" * 1100}, INVALID),
    "attachment of a send": (
        "POST",
        "/api/messages",
        {"recipientId": "alice", "content": "", "attachment": {"attachmentId": "a" * HUGE}},
        INVALID,
    ),
}


@pytest.mark.parametrize("case", sorted(REST))
def test_an_id_that_cannot_be_ours_is_400_or_404_never_5xx(marketplace: Api, case: str) -> None:
    method, path, body, expected = REST[case]

    response = marketplace.call(method, path, "bob", body)

    assert (response.status, response.body["error"]["code"]) == expected, response.body


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("join_conversation", {"conversationId": "c" * 250}),
        ("typing_start", {"conversationId": "c" * 250}),
        ("message_read", {"messageId": "m" * 250}),
        ("new_message", {"conversationId": "c" * 250, "content": "hi"}),
        ("new_message", {"recipientId": "r" * HUGE, "content": "hi"}),
    ],
)
def test_frames_with_ids_that_cannot_be_ours_get_a_client_error(
    marketplace: Api, sockets: Sockets, action: str, fields: dict[str, Any]
) -> None:
    bob = sockets.connect("bob")
    sockets.clear()

    sockets.send(bob, action, **fields)

    [error] = sockets.events(bob, "error")
    assert error["code"] in ("not_found", "invalid_request"), error
