"""The AsyncAPI contract: generated from the event and frame models, committed, and true of real frames."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from app import app
from chalicelib.entrypoints.http.openapi import build_document as build_openapi
from chalicelib.entrypoints.parsing import parse
from chalicelib.entrypoints.ws.asyncapi import (
    CLIENT_ACTIONS,
    build_document,
    example_event,
    example_frame,
    render,
    render_websocket_md,
)
from chalicelib.entrypoints.ws.dispatcher import ACTIONS
from chalicelib.schemas.events import EVENTS
from tests.integration.conftest import Api
from tests.integration.sockets import Sockets

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOCUMENT = build_document()
MESSAGES = DOCUMENT["components"]["messages"]
BY_NAME = {message["name"]: message for message in MESSAGES.values()}


def test_the_committed_document_is_current() -> None:
    assert (DOCS / "asyncapi.yaml").read_text() == render(), "docs/asyncapi.yaml is stale: run `make asyncapi`"
    assert yaml.safe_load(render()) == DOCUMENT


def test_the_generated_parts_of_websocket_md_are_current() -> None:
    text = (DOCS / "websocket.md").read_text()

    assert render_websocket_md(text) == text, "docs/websocket.md is stale: run `make asyncapi`"


def test_websocket_md_shows_every_event_in_its_table_and_examples() -> None:
    text = (DOCS / "websocket.md").read_text()
    table = text.split("<!-- generated:events:start -->")[1].split("<!-- generated:events:end -->")[0]
    examples = text.split("<!-- generated:examples:start -->")[1].split("<!-- generated:examples:end -->")[0]

    for name, spec in EVENTS.items():
        assert f"| `{name}` | {spec.audience} |" in table
        assert f'"event": "{name}"' in examples
    for name in ACTIONS:
        assert f'"action": "{name}"' in examples


def test_rewriting_keeps_everything_outside_the_markers() -> None:
    text = "intro\n<!-- generated:events:start -->\nold\n<!-- generated:events:end -->\nmiddle\n"
    text += "<!-- generated:examples:start -->\nold\n<!-- generated:examples:end -->\noutro\n"

    rewritten = render_websocket_md(text)

    assert rewritten.startswith("intro\n<!-- generated:events:start -->\n") and rewritten.endswith("\noutro\n")
    assert "\nmiddle\n" in rewritten and "old" not in rewritten
    with pytest.raises(ValueError, match="generated:examples"):
        render_websocket_md(text.replace("<!-- generated:examples:end -->", ""))


def test_every_event_and_every_action_is_documented() -> None:
    channel = DOCUMENT["channels"]["socket"]["messages"]
    operations = DOCUMENT["operations"]

    assert DOCUMENT["asyncapi"] == "3.0.0"
    assert set(BY_NAME) == set(EVENTS) | set(ACTIONS)
    assert set(channel) == set(MESSAGES)
    sent = {ref["$ref"].rsplit("/", 1)[-1] for ref in operations["clientActions"]["messages"]}
    received = {ref["$ref"].rsplit("/", 1)[-1] for ref in operations["serverEvents"]["messages"]}
    assert {MESSAGES[key]["name"] for key in sent} == set(ACTIONS)
    assert {MESSAGES[key]["name"] for key in received} == set(EVENTS)
    assert operations["clientActions"]["action"] == "send" and operations["serverEvents"]["action"] == "receive"
    assert set(DOCUMENT["servers"]) == {"aws", "local"}
    token = DOCUMENT["components"]["securitySchemes"]["token"]
    assert (token["type"], token["in"], token["name"]) == ("httpApiKey", "query", "token")


def test_an_action_the_dispatcher_gains_must_be_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ACTIONS, "dance", ACTIONS["ping"])

    with pytest.raises(RuntimeError, match="dance"):
        build_document()


def test_schemas_shared_with_the_rest_api_are_the_same() -> None:
    rest = build_openapi(app)["components"]["schemas"]
    ours = DOCUMENT["components"]["schemas"]
    shared = ours.keys() & rest.keys()

    assert {"MessageOut", "ConversationOut", "ParticipantOut", "ErrorCode", "AttachmentRef"} <= shared
    for name in shared:
        assert ours[name] == rest[name], name
    new_message = BY_NAME["new_message"]["payload"]["properties"]
    assert {k: v for k, v in new_message.items() if k not in ("action", "requestId")} == rest["SendMessageRequest"][
        "properties"
    ]


# --- payloads validate frames --------------------------------------------------------------------------------


def _validate(name: str, frame: Any) -> None:
    """``frame`` against the payload schema of message ``name`` (its refs resolved in the document)."""
    schema = {**BY_NAME[name]["payload"], "components": DOCUMENT["components"]}
    jsonschema.validate(frame, schema, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_each_payload_accepts_its_examples(name: str) -> None:
    examples = BY_NAME[name]["examples"]

    assert examples
    for example in examples:
        _validate(name, example["payload"])


def test_the_examples_are_the_models_examples() -> None:
    for name in EVENTS:
        assert BY_NAME[name]["examples"][0]["payload"] == example_event(name)
    for action in CLIENT_ACTIONS.values():
        assert BY_NAME[action.name]["examples"][0]["payload"] == example_frame(action)
        fields = {k: v for k, v in action.example.items() if k != "requestId"}
        parse(action.fields, fields)  # the server accepts the example's fields


def test_an_answer_echoes_the_example_frame() -> None:
    for action in CLIENT_ACTIONS.values():
        if action.answer is None:
            continue
        data = example_event(action.answer)["data"]
        for key in action.example.keys() & data.keys():
            assert data[key] == action.example[key], (action.name, key)


@pytest.mark.parametrize(
    ("name", "frame"),
    [
        ("pong", {"event": "ping", "data": {}}),  # another event's name
        ("message_received", {"event": "message_received", "data": {"id": "m"}}),  # required fields missing
        ("error", {"event": "error", "data": {"code": "no_such_code", "message": "x", "action": None}}),
        ("read_updated", {"event": "read_updated"}),
        ("join_conversation", {"action": "join_conversation"}),
        ("join_conversation", {"action": "join_conversation", "conversationId": "c", "extra": 1}),
        ("ping", {"action": "ping", "requestId": "has spaces"}),
        ("new_message", {"action": "new_message", "content": 5}),
    ],
)
def test_the_schema_check_itself_rejects_wrong_frames(name: str, frame: Any) -> None:
    with pytest.raises(jsonschema.ValidationError):
        _validate(name, frame)


# --- real frames ----------------------------------------------------------------------------------------------


class RecordingSockets:
    """``Sockets`` that keeps every frame it sends, to check the client side too."""

    def __init__(self, sockets: Sockets) -> None:
        self.sockets = sockets
        self.sent: list[dict[str, Any]] = []

    def send(self, connection_id: str, action: str, **fields: Any) -> None:
        self.sent.append({"action": action, **fields})
        self.sockets.send(connection_id, action, **fields)


def test_real_frames_match_their_schemas(marketplace: Api, sockets: Sockets) -> None:
    client = RecordingSockets(sockets)
    alice = sockets.connect("alice")
    bob = sockets.connect("bob")

    client.send(bob, "ping", requestId="p1")
    client.send(bob, "new_message", recipientId="alice", patternId="p1", content="hello", clientMessageId="c1")
    conversation_id = sockets.events(bob, "message_sent")[0]["conversation"]["id"]
    for connection in (alice, bob):
        client.send(connection, "join_conversation", conversationId=conversation_id, requestId="j1")
    bob_phone = sockets.connect("bob")  # not bob's first connection: no presence_update
    client.send(bob, "new_message", conversationId=conversation_id, content="row 3?")
    message_id = sockets.events(alice, "message_received")[-1]["id"]
    client.send(alice, "message_read", messageId=message_id, requestId="r1")
    client.send(alice, "typing_start", conversationId=conversation_id)
    client.send(alice, "typing_stop", conversationId=conversation_id)
    client.send(alice, "new_message", conversationId=conversation_id, content="3", replyTo={"messageId": message_id})
    client.send(bob, "edit_message", messageId=message_id, content="row 3, please?", requestId="e1")
    client.send(alice, "add_reaction", messageId=message_id, emoji="🧶", requestId="a1")
    client.send(alice, "remove_reaction", messageId=message_id, emoji="🧶")
    client.send(bob, "delete_message", messageId=message_id, requestId="d1")
    client.send(alice, "watch_presence", userIds=["bob", "carol"], requestId="w1")
    client.send(bob, "leave_conversation", conversationId=conversation_id)
    client.send(bob, "dance")
    client.send(bob, "message_read", messageId="msg_nope")
    sockets.disconnect(bob_phone)
    sockets.disconnect(bob)  # bob's last connection: alice, in the room, sees him go offline

    received = [frame for connection in (alice, bob) for frame in sockets.frames(connection)]
    names = {frame["event"] for frame in received}
    assert names >= {
        "message_sent",
        "message_received",
        "new_message_notification",
        "notification",
        "read_updated",
        "message_read_update",
        "user_typing",
        "user_stopped_typing",
        "presence_update",
        "conversation_joined",
        "conversation_left",
        "pong",
        "error",
        "message_edited",
        "message_updated",
        "reaction_added",
        "reaction_removed",
        "reaction_updated",
        "message_removed",
        "message_deleted",
        "presence_watched",
    }
    for frame in received:
        _validate(frame["event"], frame)
    assert {frame["action"] for frame in client.sent} == set(ACTIONS) | {"dance"}
    for frame in client.sent:
        if frame["action"] in ACTIONS:
            _validate(frame["action"], frame)


def test_an_error_answer_to_a_frame_with_a_request_id_validates(marketplace: Api, sockets: Sockets) -> None:
    bob = sockets.connect("bob")

    sockets.send_raw(bob, json.dumps({"action": "join_conversation", "requestId": "x1"}))

    [error] = sockets.frames(bob)
    assert error["event"] == "error" and error["data"]["requestId"] == "x1" and "details" in error["data"]
    _validate("error", error)
