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
