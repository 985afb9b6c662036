"""Request validation: what a client may send, and everything it may not."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.schemas.requests import MessagesQuery, PageQuery, SendMessageRequest
from chalicelib.settings import get_settings

MAX_CHARS = get_settings().message_max_chars
CONVERSATIONS_MAX = get_settings().conversations_page_max
MESSAGES_MAX = get_settings().messages_page_max
ATTACHMENT = {"attachmentId": "att_123"}


def send(**body: Any) -> SendMessageRequest:
    """Validate a wire body (camelCase keys, as clients send them)."""
    return SendMessageRequest.model_validate(body)


def assert_invalid(model: type[Any], body: dict[str, Any], *, mentions: str | None = None) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    if mentions is not None:
        assert mentions in str(caught.value)


# --- SendMessageRequest: content -------------------------------------------------------------------


def test_default_message_limit_is_5000() -> None:
    assert MAX_CHARS == 5000


def test_valid_message_to_a_recipient() -> None:
    request = send(recipientId="bob", patternId="pattern-1", content="Hi!", clientMessageId="c-1")
    assert request.recipient_id == "bob"
    assert request.pattern_id == "pattern-1"
    assert request.conversation_id is None
    assert request.content == "Hi!"
    assert request.client_message_id == "c-1"


def test_valid_message_to_a_conversation() -> None:
    request = send(conversationId="conv_abc", content="Hello again")
    assert request.conversation_id == "conv_abc"
    assert request.recipient_id is None


@pytest.mark.parametrize(
    ("content", "stored"),
    [
        ("  hello  ", "hello"),
        ("\n\thello\r\n", "hello"),
        ("line one\nline two", "line one\nline two"),  # inner newlines are kept
        ("tab\tinside", "tab\tinside"),
        ("crlf\r\ninside", "crlf\r\ninside"),
        ("emoji 🧶 and accents é", "emoji 🧶 and accents é"),
    ],
)
def test_content_is_trimmed_and_keeps_inner_whitespace(content: str, stored: str) -> None:
    assert send(recipientId="bob", content=content).content == stored


def test_content_at_the_limit_is_accepted() -> None:
    assert len(send(recipientId="bob", content="x" * MAX_CHARS).content) == MAX_CHARS


def test_limit_counts_characters_after_trimming() -> None:
    assert len(send(recipientId="bob", content=f"   {'x' * MAX_CHARS}\n\n").content) == MAX_CHARS


def test_limit_counts_characters_not_bytes() -> None:
    assert len(send(recipientId="bob", content="🧶" * MAX_CHARS).content) == MAX_CHARS


def test_content_over_the_limit_is_refused() -> None:
    assert_invalid(SendMessageRequest, {"recipientId": "bob", "content": "x" * (MAX_CHARS + 1)}, mentions="at most")


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x10", "\x1b", "\x1f"])
def test_control_characters_are_refused(char: str) -> None:
    assert_invalid(SendMessageRequest, {"recipientId": "bob", "content": f"a{char}b"}, mentions="control characters")


@pytest.mark.parametrize("char", ["\x7f", "\x85", "\x9b"])
def test_del_and_c1_control_characters_are_refused(char: str) -> None:
    assert_invalid(SendMessageRequest, {"recipientId": "bob", "content": f"a{char}b"})


@pytest.mark.parametrize("content", ["", "   ", "\n\t "])
def test_empty_content_is_refused_without_attachment(content: str) -> None:
    assert_invalid(SendMessageRequest, {"recipientId": "bob", "content": content}, mentions="must not be empty")


def test_missing_content_is_refused_without_attachment() -> None:
    assert_invalid(SendMessageRequest, {"recipientId": "bob"}, mentions="must not be empty")


@pytest.mark.parametrize("body", [{}, {"content": ""}, {"content": "  "}, {"content": "caption"}])
def test_attachment_may_come_with_or_without_content(body: dict[str, Any]) -> None:
    request = send(conversationId="conv_abc", attachment=ATTACHMENT, **body)
    assert request.attachment is not None
    assert request.attachment.attachment_id == "att_123"
    assert request.content == body.get("content", "").strip()


@pytest.mark.parametrize("attachment", [{}, {"attachmentId": ""}, {"attachmentId": "a", "url": "https://x"}, "a"])
def test_malformed_attachment_is_refused(attachment: Any) -> None:
    assert_invalid(SendMessageRequest, {"recipientId": "bob", "content": "hi", "attachment": attachment})


# --- SendMessageRequest: target --------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        {},
        {"conversationId": "conv_abc", "recipientId": "bob"},
        {"conversationId": None, "recipientId": None},
    ],
    ids=["neither", "both", "both null"],
)
def test_exactly_one_target(target: dict[str, Any]) -> None:
    assert_invalid(SendMessageRequest, {"content": "hi", **target}, mentions="exactly one")


def test_pattern_only_with_recipient() -> None:
    assert_invalid(
        SendMessageRequest,
        {"conversationId": "conv_abc", "patternId": "pattern-1", "content": "hi"},
        mentions="patternId goes with recipientId",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"recipientId": "bob smith"},
        {"recipientId": ""},
        {"recipientId": "a" * 129},
        {"recipientId": "bob\n"},
        {"recipientId": 42},
        {"recipientId": "bob", "patternId": "pattern/1"},
        {"conversationId": ""},
        {"conversationId": "c" * 257},
    ],
)
def test_malformed_ids_are_refused(body: dict[str, Any]) -> None:
    assert_invalid(SendMessageRequest, {"content": "hi", **body})


# --- SendMessageRequest: unknown fields and clientMessageId ----------------------------------------


@pytest.mark.parametrize(
    "field",
    ["senderId", "sender_id", "id", "sentAt", "readAt", "recipientReceipt", "isAdmin"],
)
def test_unknown_fields_are_refused(field: str) -> None:
    assert_invalid(SendMessageRequest, {"recipientId": "bob", "content": "hi", field: "mallory"}, mentions=field)


@pytest.mark.parametrize("client_message_id", ["a", "c-1", "2026-01-01T00:00:00.000Z", "A_b.c:d-9", "x" * 64])
def test_client_message_id_accepted(client_message_id: str) -> None:
    request = send(recipientId="bob", content="hi", clientMessageId=client_message_id)
    assert request.client_message_id == client_message_id


@pytest.mark.parametrize(
    "client_message_id",
    ["", "x" * 65, "has space", "slash/inside", "hash#inside", "new\nline", "trailing\n", "é", 123],
)
def test_client_message_id_refused(client_message_id: Any) -> None:
    assert_invalid(SendMessageRequest, {"recipientId": "bob", "content": "hi", "clientMessageId": client_message_id})


# --- MessagesQuery ---------------------------------------------------------------------------------


def test_messages_query_defaults() -> None:
    assert MessagesQuery.model_validate({}).model_dump() == {
        **dict.fromkeys(["conversation_id", "limit", "cursor", "before", "after"]),
        "folder": "inbox",
    }


def test_messages_query_parses_query_string_values() -> None:
    query = MessagesQuery.model_validate({"conversationId": "conv_abc", "limit": "25", "before": "msg_abc_9"})
    assert query.limit == 25
    assert query.before == "msg_abc_9"


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        ({}, 1),
        ({}, CONVERSATIONS_MAX),
        ({"conversationId": "conv_abc"}, 1),
        ({"conversationId": "conv_abc"}, MESSAGES_MAX),
    ],
)
def test_messages_query_limit_bounds_accepted(body: dict[str, Any], limit: int) -> None:
    assert MessagesQuery.model_validate({**body, "limit": limit}).limit == limit


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        ({}, 0),
        ({}, -1),
        ({}, CONVERSATIONS_MAX + 1),  # the conversation list has the smaller page
        ({"conversationId": "conv_abc"}, 0),
        ({"conversationId": "conv_abc"}, MESSAGES_MAX + 1),
        ({"conversationId": "conv_abc"}, "many"),
        ({"conversationId": "conv_abc"}, 2.5),
    ],
)
def test_messages_query_limit_bounds_refused(body: dict[str, Any], limit: Any) -> None:
    assert_invalid(MessagesQuery, {**body, "limit": limit})


def test_before_and_after_together_are_refused() -> None:
    assert_invalid(
        MessagesQuery,
        {"conversationId": "conv_abc", "before": "msg_abc_9", "after": "msg_abc_2"},
        mentions="at most one of before or after",
    )


@pytest.mark.parametrize("direction", ["before", "after"])
def test_before_or_after_without_conversation_is_refused(direction: str) -> None:
    assert_invalid(MessagesQuery, {direction: "msg_abc_9"}, mentions="add conversationId")


@pytest.mark.parametrize("direction", ["before", "after"])
def test_before_or_after_with_conversation_is_accepted(direction: str) -> None:
    query = MessagesQuery.model_validate({"conversationId": "conv_abc", direction: "msg_abc_9"})
    assert getattr(query, direction) == "msg_abc_9"


def test_cursor_pages_the_list_not_a_conversation() -> None:
    assert MessagesQuery.model_validate({"cursor": "abc.def"}).cursor == "abc.def"
    assert_invalid(MessagesQuery, {"conversationId": "conv_abc", "cursor": "abc.def"}, mentions="not cursor")


@pytest.mark.parametrize("body", [{"cursor": ""}, {"cursor": "c" * 2049}, {"userId": "alice"}])
def test_messages_query_refuses_bad_cursor_and_unknown_fields(body: dict[str, Any]) -> None:
    assert_invalid(MessagesQuery, body)


# --- PageQuery -------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, CONVERSATIONS_MAX])
def test_page_query_limit_accepted(limit: int) -> None:
    assert PageQuery.model_validate({"limit": limit}).limit == limit


@pytest.mark.parametrize("limit", [0, -5, CONVERSATIONS_MAX + 1, 10_000])
def test_page_query_limit_refused(limit: int) -> None:
    assert_invalid(PageQuery, {"limit": limit})


def test_page_query_max_error_names_the_maximum() -> None:
    assert_invalid(PageQuery, {"limit": CONVERSATIONS_MAX + 1}, mentions=f"at most {CONVERSATIONS_MAX}")


@pytest.mark.parametrize("body", [{"cursor": ""}, {"cursor": "c" * 2049}, {"offset": 10}])
def test_page_query_refuses_bad_cursor_and_unknown_fields(body: dict[str, Any]) -> None:
    assert_invalid(PageQuery, body)
