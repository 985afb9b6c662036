"""Structured logs: JSON lines with correlation ids on every handler, never tokens or message bodies."""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.logs import JsonFormatter
from tests.integration.conftest import Api, token_for
from tests.integration.sockets import Sockets


@pytest.fixture
def log_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    caplog.set_level(logging.INFO)
    lines: list[dict] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(JsonFormatter().format(record)))

    handler = Collect()
    logging.getLogger().addHandler(handler)
    yield lines
    logging.getLogger().removeHandler(handler)


def test_each_request_logs_one_json_line_with_its_ids(marketplace: Api, log_lines: list[dict]) -> None:
    marketplace.send("bob", recipientId="alice", content="secret knitting plans")

    [line] = [entry for entry in log_lines if entry["message"] == "request" and entry.get("user_id") == "bob"]
    assert line["route"] == "POST /api/messages" and line["status"] == 201
    assert line["level"] == "INFO" and line["timestamp"].endswith("Z")
    assert "request_id" in line and line["duration_ms"] >= 0


def test_refusals_are_logged_with_their_code(marketplace: Api, log_lines: list[dict]) -> None:
    marketplace.call("GET", "/api/messages")

    [line] = [entry for entry in log_lines if entry["message"] == "request"]
    assert line["status"] == 401 and line["error_code"] == "unauthorized"


def test_socket_frames_log_connection_and_user(marketplace: Api, sockets: Sockets, log_lines: list[dict]) -> None:
    connection = sockets.connect("bob")
    sockets.send(connection, "new_message", recipientId="alice", content="psst, the secret")

    handled = [entry for entry in log_lines if entry["message"] == "frame handled"]
    assert handled and handled[-1]["connection_id"] == connection and handled[-1]["user_id"] == "bob"
    assert handled[-1]["action"] == "new_message"


def test_no_token_or_message_body_reaches_the_logs(marketplace: Api, sockets: Sockets, log_lines: list[dict]) -> None:
    token = token_for("bob")
    marketplace.call(
        "POST",
        "/api/messages",
        body={"recipientId": "alice", "content": "my-private-words"},
        headers={"Authorization": f"Bearer {token}"},
    )
    sockets.connect("bob", token=token)
    logging.getLogger("test").info("with extras", extra={"token": token, "content": "my-private-words"})

    dumped = json.dumps(log_lines)
    assert log_lines
    assert token not in dumped and "my-private-words" not in dumped


@pytest.fixture
def debug_lines(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every log line, JSON-formatted, with the app configured as an operator would to investigate: LOG_LEVEL=DEBUG."""
    from chalicelib import logs

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter().format(record))

    root = logging.getLogger()
    level = root.level
    handler = Collect(logging.DEBUG)
    root.addHandler(handler)
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    logs.configure()
    assert root.isEnabledFor(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    logs.configure()
    root.setLevel(level)


def test_not_even_debug_logs_a_token_or_a_message_body(
    marketplace: Api, sockets: Sockets, debug_lines: list[str]
) -> None:
    token = token_for("bob")
    sent = marketplace.call(
        "POST",
        "/api/messages",
        body={"recipientId": "alice", "content": "my-private-words", "clientMessageId": "key-7f3a"},
        headers={"Authorization": f"Bearer {token}"},
    )
    conversation = sent.body["conversation"]["id"]
    marketplace.call("GET", f"/api/messages/conversations/{conversation}", headers={"Authorization": f"Bearer {token}"})
    connection = sockets.connect("bob", token=token)
    sockets.send(connection, "new_message", conversationId=conversation, content="more-private-words")

    dumped = "\n".join(debug_lines)
    assert sent.status == 201 and debug_lines
    for secret in (token, token.split(".")[2], "my-private-words", "more-private-words", "key-7f3a"):
        assert secret not in dumped, secret
