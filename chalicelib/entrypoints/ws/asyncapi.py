"""The AsyncAPI 3.0 document of the socket protocol, generated from the server events (``schemas.events.EVENTS``)
and the client actions (``ACTIONS``, each with the model of its frame's fields), and the generated parts of
``docs/websocket.md`` (the server events table and the example frames).

``python -m chalicelib.entrypoints.ws.asyncapi`` prints the document (``docs/asyncapi.yaml``);
``--websocket-md PATH`` rewrites only the generated blocks of that file. ``make asyncapi`` does both, and a test fails
when either is stale. Payload schemas are made like the OpenAPI document's (``Schemas``, ``clean_schema``), so a model
both documents use (``MessageOut``, ``SendMessageRequest``, ``ErrorCode``) has one definition in both. Dev-time only:
nothing in the Lambda imports this module.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]  # PyYAML comes with the Chalice CLI (dev only)
from pydantic import TypeAdapter
from pydantic.alias_generators import to_camel

from chalicelib.entrypoints.ws.dispatcher import ACTIONS
from chalicelib.schemas import events
from chalicelib.schemas.base import RequestModel
from chalicelib.schemas.events import EVENTS
from chalicelib.schemas.frames import (
    ConversationFrame,
    EditFrame,
    MessageFrame,
    PingFrame,
    ReactionFrame,
    ReadFrame,
    RequestId,
    WatchPresenceFrame,
)
from chalicelib.schemas.jsonschema import Schemas, markdown
from chalicelib.schemas.requests import SendMessageRequest

_CONV = "conv_qdkab7s7n6optsorjd52nty6dd"  # the ids of the events' examples
_MSG = "msg_qdkab7s7n6optsorjd52nty6dd_2"


@dataclass(frozen=True)
class ClientAction:
    """One client frame: the model of its fields, the event that answers it, what others get, an example."""

    name: str
    fields: type[RequestModel]
    description: str
    answer: str | None
    others: tuple[str, ...]
    example: dict[str, Any]  # the frame's fields as sent, ``action`` aside


CLIENT_ACTIONS: dict[str, ClientAction] = {
    action.name: action
    for action in (
        ClientAction(
            "ping", PingFrame, "Keeps API Gateway's 10-minute idle timeout at bay.", "pong", (), {"requestId": "p1"}
        ),
        ClientAction(
            "join_conversation",
            ConversationFrame,
            "Participants only: this connection receives the room's events from now on.",
            "conversation_joined",
            (),
            {"conversationId": _CONV, "requestId": "j1"},
        ),
        ClientAction(
            "leave_conversation",
            ConversationFrame,
            "The connection stops receiving the room's events.",
            "conversation_left",
            (),
            {"conversationId": _CONV},
        ),
        ClientAction(
            "new_message",
            SendMessageRequest,
            "The fields of `POST /api/messages` (`SendMessageRequest`), through the same service; a `senderId` is "
            "ignored (the sender is the connection's user). A retry with the same `clientMessageId` is answered with "
            "the original message and `duplicate: true`.",
            "message_sent",
            ("message_received", "new_message_notification", "notification"),
            {"conversationId": _CONV, "content": "hello", "clientMessageId": "c1"},
        ),
        ClientAction(
            "message_read",
            ReadFrame,
            "The same as `PUT /api/messages/{messageId}/read`.",
            "read_updated",
            ("message_read_update",),
            {"messageId": _MSG},
        ),
        ClientAction(
            "typing_start",
            ConversationFrame,
            "The room sees the user typing; the typist's own connections do not.",
            None,
            ("user_typing",),
            {"conversationId": _CONV},
        ),
        ClientAction(
            "typing_stop",
            ConversationFrame,
            "The room's typing indicator stops.",
            None,
            ("user_stopped_typing",),
            {"conversationId": _CONV},
        ),
        ClientAction(
            "edit_message",
            EditFrame,
            "The same as `PATCH /api/messages/{messageId}`: the sender replaces the text within the edit window. "
            "Replies quoting it (up to 20) get `message_updated` too.",
            "message_edited",
            ("message_updated",),
            {"messageId": _MSG, "content": "hello, with a 4 mm hook", "requestId": "e1"},
        ),
        ClientAction(
            "delete_message",
            MessageFrame,
            "The same as `DELETE /api/messages/{messageId}`: the sender leaves a tombstone. Replies quoting it (up to "
            "20) get `message_updated`.",
            "message_removed",
            ("message_deleted",),
            {"messageId": _MSG, "requestId": "d1"},
        ),
        ClientAction(
            "add_reaction",
            ReactionFrame,
            "The same as `PUT /api/messages/{messageId}/reactions/{emoji}`, the emoji as text.",
            "reaction_added",
            ("reaction_updated",),
            {"messageId": _MSG, "emoji": "🧶", "requestId": "r1"},
        ),
        ClientAction(
            "remove_reaction",
            ReactionFrame,
            "The same as `DELETE /api/messages/{messageId}/reactions/{emoji}`.",
            "reaction_removed",
            ("reaction_updated",),
            {"messageId": _MSG, "emoji": "🧶", "requestId": "r2"},
        ),
        ClientAction(
            "watch_presence",
            WatchPresenceFrame,
            "This connection receives `presence_update` for these users from now on (the partners of the inbox page "
            "on screen), replacing the list it sent before; users the caller shares no conversation with are "
            "ignored. At most 49 (`PRESENCE_WATCH_MAX`).",
            "presence_watched",
            (),
            {"userIds": ["alice", "dave"], "requestId": "w1"},
        ),
    )
}

# Events that answer no action of their own, with what makes them happen (websocket.md's examples).
_OTHER_CAUSES: tuple[tuple[str, dict[str, Any] | None, str], ...] = (
    ("A refused frame (any action)", {"action": "dance"}, "error"),
    ("A user's first connection opens, or their last one closes", None, "presence_update"),
    ("An image sent before its processing finished is ready", None, "attachment_ready"),
    (
        "The user changed their settings of a conversation (`PUT /api/messages/conversations/{id}/settings`)",
        None,
        "conversation_updated",
    ),
)

_SERVERS = {
    "aws": {
        "host": "{apiId}.execute-api.{region}.amazonaws.com",
        "pathname": "/{stage}",
        "protocol": "wss",
        "description": "A deployed stage (make urls STAGE=...)",
        "variables": {
            "apiId": {"description": "The WebSocket API id"},
            "region": {"default": "us-east-1"},
            "stage": {
                "default": "dev",
                "enum": ["dev", "prod"],
                "description": "api_gateway_stage in .chalice/config.json",
            },
        },
        "security": [{"$ref": "#/components/securitySchemes/token"}],
    },
    "local": {
        "host": "127.0.0.1:8001",
        "protocol": "ws",
        "description": "make dev (the local stack)",
        "security": [{"$ref": "#/components/securitySchemes/token"}],
    },
}
_DESCRIPTION = (
    'Clients connect with `?token=<JWT>`, send frames `{"action": NAME, ...fields, "requestId"?}` and receive '
    '`{"event": NAME, "data": {...}}`; an answer to a frame echoes its `requestId`. Every action is authorized like '
    "its REST twin. The operations are a client's: it sends actions and receives events. Prose and limits: "
    "docs/websocket.md; the schemas shared with the REST API are those of docs/openapi.json."
)
_HEADER = (
    "# The WebSocket protocol of crochet-messaging (API Gateway WebSocket API), generated by `make asyncapi` from\n"
    "# chalicelib/schemas/events.py (server events) and chalicelib/entrypoints/ws/asyncapi.py (client actions):\n"
    "# edit those, not this file. Prose and examples: docs/websocket.md.\n"
)


def _action_message(action: ClientAction, schemas: Schemas) -> dict[str, Any]:
    # The frame's fields sit beside `action` and `requestId` at the top level, and unknown fields are refused: the
    # fields' schema is spread into the frame's rather than referred to (additionalProperties would refuse `action`).
    fields = schemas.inline(action.fields, "validation")
    payload = {
        "type": "object",
        "properties": {
            "action": {"type": "string", "const": action.name},
            **fields["properties"],
            "requestId": {"$ref": "#/components/schemas/RequestId"},
        },
        "required": ["action", *fields.get("required", [])],
        "additionalProperties": False,
    }
    answer = f"Answered by `{action.answer}`." if action.answer else "No answer."
    others = f"Others get {', '.join(f'`{name}`' for name in action.others)}." if action.others else ""
    return {
        "name": action.name,
        "description": " ".join(filter(None, [action.description, answer, others])),
        "payload": payload,
        "correlationId": {"$ref": "#/components/correlationIds/frame"},
        "examples": [{"name": action.name, "payload": example_frame(action)}],
    }


def _event_message(name: str, schemas: Schemas) -> dict[str, Any]:
    spec = EVENTS[name]
    message: dict[str, Any] = {
        "name": name,
        "summary": f"To {spec.audience}.",
        "payload": {
            "type": "object",
            "properties": {
                "event": {"type": "string", "const": name},
                "data": schemas.ref(spec.data, "serialization"),
            },
            "required": ["event", "data"],
        },
    }
    if spec.is_reply:
        message["correlationId"] = {"$ref": "#/components/correlationIds/reply"}
    message["examples"] = [{"name": name, "payload": example_event(name)}]
    return message


def example_frame(action: ClientAction) -> dict[str, Any]:
    return {"action": action.name, **action.example}


def example_event(name: str) -> dict[str, Any]:
    return {"event": name, "data": EVENTS[name].example().wire()}


def build_document() -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document of the socket protocol."""
    if set(CLIENT_ACTIONS) != set(ACTIONS):
        raise RuntimeError(f"document every action of the dispatcher: {sorted(set(ACTIONS) ^ set(CLIENT_ACTIONS))}")
    schemas = Schemas()
    sent = {to_camel(name): _action_message(action, schemas) for name, action in CLIENT_ACTIONS.items()}
    received = {to_camel(name): _event_message(name, schemas) for name in EVENTS}
    if sent.keys() & received.keys():
        raise RuntimeError(f"an action and an event share a name: {sorted(sent.keys() & received.keys())}")
    schemas.components["RequestId"] = TypeAdapter(RequestId).json_schema()

    def refs(keys: Iterable[str]) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/socket/messages/{key}"} for key in keys]

    return {
        "asyncapi": "3.0.0",
        "info": {"title": "crochet-messaging WebSocket API", "version": "1.0.0", "description": _DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": _SERVERS,
        "channels": {
            "socket": {
                "address": "/",
                "description": "The connection: every frame and every event travels on it.",
                "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in [*sent, *received]},
            }
        },
        "operations": {
            "clientActions": {
                "action": "send",
                "summary": "Frames a client sends",
                "channel": {"$ref": "#/channels/socket"},
                "messages": refs(sent),
            },
            "serverEvents": {
                "action": "receive",
                "summary": "Events a client receives",
                "channel": {"$ref": "#/channels/socket"},
                "messages": refs(received),
            },
        },
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "messages": {**sent, **received},
            "securitySchemes": {
                "token": {
                    "type": "httpApiKey",
                    "name": "token",
                    "in": "query",
                    "description": "The user's JWT (the same as the REST bearer token). Invalid: the upgrade is "
                    "refused with 401; a service-role token gets 403.",
                }
            },
            "correlationIds": {
                "frame": {"description": "The client's id for this frame", "location": "$message.payload#/requestId"},
                "reply": {
                    "description": "The `requestId` of the frame this event answers",
                    "location": "$message.payload#/data/requestId",
                },
            },
        },
    }


def render() -> str:
    """The document as committed in docs/asyncapi.yaml."""
    body: str = yaml.safe_dump(build_document(), sort_keys=False, allow_unicode=True, width=120)
    return _HEADER + body


# --- docs/websocket.md --------------------------------------------------------------------------------------


_WIDTH = 120


def _json(value: Any, indent: int, column: int) -> str:
    """``value`` as JSON on one line when it fits from ``column`` on, else one member a line, nested the same way."""
    compact = json.dumps(value, ensure_ascii=False)
    if column + len(compact) <= _WIDTH or not isinstance(value, (dict, list)) or not value:
        return compact
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        members = [f"{pad}{json.dumps(key)}: " for key in value]
        lines = [m + _json(v, indent + 2, len(m) + 1) for m, v in zip(members, value.values(), strict=True)]
        brackets = "{}"
    else:
        lines = [pad + _json(item, indent + 2, len(pad) + 1) for item in value]
        brackets = "[]"
    return brackets[0] + "\n" + ",\n".join(lines) + "\n" + " " * indent + brackets[1]


def _line(arrow: str, frame: dict[str, Any]) -> str:
    return f"{arrow} {_json(frame, 0, len(arrow) + 1)}".replace("\n", "\n  ")


def _scene(title: str, frame: dict[str, Any] | None, answer: str | None, others: tuple[str, ...]) -> list[str]:
    lines = [f"{title}:", "", "```text"]
    if frame is not None:
        lines.append(_line("→", frame))
    if answer is not None:
        lines.append(_line("←", example_event(answer)))
    for name in others:
        lines += [f"# to {EVENTS[name].audience}", _line("←", example_event(name))]
    return [*lines, "```", ""]


def examples_block() -> str:
    """The example frames of every action and every event, from the models' example factories."""
    lines = [
        "<!-- make asyncapi writes this block from the examples in chalicelib/schemas/events.py and",
        "     chalicelib/entrypoints/ws/asyncapi.py. -->",
        "",
        "`→` is a frame the client sends, `←` an event it receives; `#` says who else gets the event below it.",
        "",
    ]
    shown: set[str] = set()
    for action in CLIENT_ACTIONS.values():
        lines += _scene(f"`{action.name}`", example_frame(action), action.answer, action.others)
        shown.update([action.answer] if action.answer else [], action.others)
    for title, frame, event in _OTHER_CAUSES:
        answer, others = (event, ()) if frame is not None else (None, (event,))
        lines += _scene(title, frame, answer, others)
        shown.add(event)
    if missing := set(EVENTS) - shown:
        raise RuntimeError(f"no example shows {sorted(missing)}")
    return "\n".join(lines).rstrip("\n")


def _fields(name: str, schemas: Schemas) -> str:
    """An event's data in a few words: its fields (``?`` when it may be left out) and the models they hold."""
    spec = EVENTS[name]
    if spec.data.__module__ != events.__name__:
        return f"a `{spec.data.__name__}`, as in REST"
    schema = schemas.inline(spec.data, "serialization")
    required = set(schema.get("required", []))
    names = []
    for field, prop in schema["properties"].items():
        model = prop["$ref"].rsplit("/", 1)[-1] if "$ref" in prop else None
        names.append(f"{field}{'' if field in required else '?'}{f' ({model})' if model else ''}")
    text = f"`{', '.join(names)}`"
    return f"{text}. {schema['description']}" if "description" in schema else text


def events_table() -> str:
    """The server events table: every event, who receives it, its data."""
    schemas = Schemas()
    rows = [f"| `{name}` | {spec.audience} | {_fields(name, schemas)} |" for name, spec in EVENTS.items()]
    return "\n".join(
        [
            "<!-- make asyncapi writes this table from chalicelib/schemas/events.py. -->",
            "",
            "| event | to | data |",
            "|---|---|---|",
            *rows,
        ]
    )


def _replace(text: str, block: str, content: str) -> str:
    start, end = f"<!-- generated:{block}:start -->", f"<!-- generated:{block}:end -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"expected one {start} ... {end} block")
    return pattern.sub(lambda _: f"{start}\n{content}\n{end}", text)


def render_websocket_md(text: str) -> str:
    """``text`` (docs/websocket.md) with its generated blocks rewritten; everything else stays as it is."""
    return _replace(_replace(text, "events", events_table()), "examples", examples_block())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=markdown(__doc__ or ""))
    parser.add_argument("--websocket-md", type=Path, metavar="PATH", help="rewrite the generated blocks of PATH")
    args = parser.parse_args(argv)
    if args.websocket_md is None:
        print(render(), end="")
    else:
        args.websocket_md.write_text(render_websocket_md(args.websocket_md.read_text()))


if __name__ == "__main__":
    main()
