"""Conversation and message identifiers: deterministic, order-independent, and strict when parsed."""

from __future__ import annotations

import pytest

from chalicelib.domain.ids import (
    CONVERSATION_PREFIX,
    MESSAGE_PREFIX,
    conversation_id_for,
    is_conversation_id,
    is_entity_id,
    message_id_for,
    parse_message_id,
)

CONVERSATION = conversation_id_for("alice", "bob", "pattern-1")


# --- conversation_id_for ---------------------------------------------------------------------------


def test_conversation_id_is_deterministic() -> None:
    assert conversation_id_for("alice", "bob", "pattern-1") == conversation_id_for("alice", "bob", "pattern-1")


@pytest.mark.parametrize("pattern_id", [None, "pattern-1"])
def test_conversation_id_does_not_depend_on_who_writes_first(pattern_id: str | None) -> None:
    assert conversation_id_for("alice", "bob", pattern_id) == conversation_id_for("bob", "alice", pattern_id)


def test_conversation_id_has_the_documented_shape() -> None:
    assert CONVERSATION.startswith(CONVERSATION_PREFIX)
    assert len(CONVERSATION) == len(CONVERSATION_PREFIX) + 26
    assert is_conversation_id(CONVERSATION)


def test_conversation_id_differs_by_pattern() -> None:
    ids = {
        conversation_id_for("alice", "bob", None),
        conversation_id_for("alice", "bob", "pattern-1"),
        conversation_id_for("alice", "bob", "pattern-2"),
    }
    assert len(ids) == 3


def test_no_pattern_and_empty_pattern_are_the_same_conversation() -> None:
    assert conversation_id_for("alice", "bob", None) == conversation_id_for("alice", "bob", "")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("alice", "bob"), ("alice", "carol")),
        (("alice", "bob"), ("carol", "bob")),
        # Naive concatenation would make these collide: "ab" + "c" == "a" + "bc".
        (("ab", "c"), ("a", "bc")),
        (("alice", "bob"), ("alice|bob", "")),
    ],
)
def test_conversation_id_differs_by_pair(first: tuple[str, str], second: tuple[str, str]) -> None:
    assert conversation_id_for(*first, "p") != conversation_id_for(*second, "p")


def test_pattern_is_not_confused_with_a_participant() -> None:
    assert conversation_id_for("alice", "bob", "carol") != conversation_id_for("alice", "carol", "bob")


# --- is_conversation_id ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        CONVERSATION_PREFIX,
        CONVERSATION[len(CONVERSATION_PREFIX) :],  # digest without prefix
        CONVERSATION[:-1],  # too short
        CONVERSATION + "a",  # too long
        CONVERSATION.upper(),  # base32 here is lower case
        CONVERSATION[:-1] + "1",  # '1' is not a base32 digit
        CONVERSATION[:-1] + "=",
        "msg_" + CONVERSATION[len(CONVERSATION_PREFIX) :],
        " " + CONVERSATION,
    ],
)
def test_is_conversation_id_rejects(value: str) -> None:
    assert not is_conversation_id(value)


def test_is_conversation_id_rejects_trailing_newline() -> None:
    assert not is_conversation_id(CONVERSATION + "\n")


# --- message ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seq", [1, 2, 42, 10**6, 999_999_999_999])
def test_message_id_round_trips(seq: int) -> None:
    message_id = message_id_for(CONVERSATION, seq)
    assert message_id.startswith(MESSAGE_PREFIX)
    assert parse_message_id(message_id) == (CONVERSATION, seq)


def test_message_ids_of_different_conversations_differ() -> None:
    other = conversation_id_for("alice", "bob", None)
    assert message_id_for(CONVERSATION, 1) != message_id_for(other, 1)
    assert parse_message_id(message_id_for(other, 1)) == (other, 1)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "msg_",
        "hello",
        CONVERSATION,  # a conversation id is not a message id
        "msg_" + CONVERSATION[len(CONVERSATION_PREFIX) :],  # no seq
        "msg_" + CONVERSATION[len(CONVERSATION_PREFIX) :] + "_",  # empty seq
        "msg_" + CONVERSATION[len(CONVERSATION_PREFIX) :] + "_0",  # seq starts at 1
        "msg_" + CONVERSATION[len(CONVERSATION_PREFIX) :] + "_01",  # leading zero
        "msg_" + CONVERSATION[len(CONVERSATION_PREFIX) :] + "_-1",
        "msg_" + CONVERSATION[len(CONVERSATION_PREFIX) :] + "_1.5",
        "msg_" + CONVERSATION[len(CONVERSATION_PREFIX) :] + "_1000000000000",  # 13 digits
        "msg_" + CONVERSATION[len(CONVERSATION_PREFIX) :] + "_1_2",
        "msg_" + CONVERSATION[len(CONVERSATION_PREFIX) :].upper() + "_1",
        "msg_" + CONVERSATION[len(CONVERSATION_PREFIX) : -1] + "_1",  # digest too short
        "MSG_" + CONVERSATION[len(CONVERSATION_PREFIX) :] + "_1",
        "msg_" + CONVERSATION[len(CONVERSATION_PREFIX) :] + "_1 ",
        "msg_" + CONVERSATION[len(CONVERSATION_PREFIX) :] + "_\u0661",  # Arabic-Indic digit one
        "65f0c2a1e4b0a1b2c3d4e5f6",  # a Mongo ObjectId from the old backend
    ],
)
def test_parse_message_id_rejects_foreign_or_malformed(value: str) -> None:
    assert parse_message_id(value) is None


def test_parse_message_id_rejects_trailing_newline() -> None:
    assert parse_message_id(message_id_for(CONVERSATION, 5) + "\n") is None


# --- is_entity_id ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "alice",
        "a",
        "x" * 128,
        "65f0c2a1e4b0a1b2c3d4e5f6",
        "auth0|65f0c2a1",
        "google-oauth2|1234567890",
        "user@example.com",
        "user.name+tag",
        "urn:user:42",
        "snake_case-id",
    ],
)
def test_is_entity_id_accepts(value: str) -> None:
    assert is_entity_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x" * 129,
        "has space",
        "slash/inside",
        "hash#inside",  # '#' separates parts of composite DynamoDB keys
        "new\nline",
        "tab\t",
        "nul\x00",
        "émile",
        "quote'",
        "<script>",
    ],
)
def test_is_entity_id_rejects(value: str) -> None:
    assert not is_entity_id(value)


def test_is_entity_id_rejects_trailing_newline() -> None:
    assert not is_entity_id("alice\n")
