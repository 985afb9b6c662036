"""Each invocation writes one Embedded Metric Format line with what it did (chalicelib/metrics.py).

REST requests, socket events and upload events alike: ``Invocations``, the latency, ``MessagesSent`` for a stored
message (not for a replay), ``HandlerErrors`` for a 5xx or a failed upload event, ``RateLimited`` for a 429.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.bootstrap import Services
from chalicelib.settings import get_settings
from tests.integration.conftest import Api
from tests.integration.sockets import Sockets
from tests.integration.test_error_boundary import BrokenFiles, dynamodb_failing
from tests.integration.test_rate_limits import limits  # noqa: F401 (fixture)

CountedMetrics = dict[str, Any]


@pytest.fixture
def emitted(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[CountedMetrics]]:
    """The EMF documents written to stdout since the last call (Lambda sends stdout to CloudWatch Logs)."""
    capsys.readouterr()

    def read() -> list[CountedMetrics]:
        lines = capsys.readouterr().out.splitlines()
        return [json.loads(line) for line in lines if line.startswith('{"_aws"')]

    return read


def metric_names(document: CountedMetrics) -> set[str]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "crochet-messaging" and directive["Dimensions"] == [["stage"]]
    return {metric["Name"] for metric in directive["Metrics"]}


def test_a_sent_message_is_one_line_with_its_count_and_latency(
    marketplace: Api, emitted: Callable[[], list[CountedMetrics]]
) -> None:
    marketplace.send("bob", recipientId="alice", content="hello", clientMessageId="m1")
    marketplace.send("bob", recipientId="alice", content="hello", clientMessageId="m1")  # a replay: nothing sent

    first, replay = emitted()

    assert metric_names(first) == {"Invocations", "MessagesSent", "Latency"}
    assert (first["Invocations"], first["MessagesSent"]) == (1, 1) and first["Latency"] >= 0
    assert first["stage"] == get_settings().stage
    assert metric_names(replay) == {"Invocations", "Latency"}


def test_a_storage_failure_counts_a_handler_error(
    marketplace: Api, emitted: Callable[[], list[CountedMetrics]]
) -> None:
    with dynamodb_failing("Query"):
        failed = marketplace.call("GET", "/api/messages/conversations", "alice")
    assert failed.status == 503

    (document,) = emitted()
    assert metric_names(document) == {"Invocations", "HandlerErrors", "Latency"}
    assert (document["Invocations"], document["HandlerErrors"]) == (1, 1)


def test_a_client_error_is_not_a_handler_error(marketplace: Api, emitted: Callable[[], list[CountedMetrics]]) -> None:
    assert marketplace.call("GET", "/api/messages").status == 401
    assert marketplace.send("bob", recipientId="alice", content="").status == 400

    assert [metric_names(document) for document in emitted()] == [{"Invocations", "Latency"}] * 2


def test_a_bug_counts_a_handler_error(
    marketplace: Api, install_services: Callable[..., Services], emitted: Callable[[], list[CountedMetrics]]
) -> None:
    opened = marketplace.send("bob", recipientId="alice", content="first")
    install_services(files=BrokenFiles())
    emitted()

    body = {"conversationId": opened.body["conversation"]["id"], "fileName": "a.pdf", "contentType": "application/pdf"}
    assert marketplace.call("POST", "/api/attachments", "bob", {**body, "size": 9}).status == 500

    (document,) = emitted()
    assert document["HandlerErrors"] == 1


@pytest.mark.usefixtures("limits")
def test_a_429_counts_as_rate_limited(marketplace: Api, emitted: Callable[[], list[CountedMetrics]]) -> None:
    statuses = [marketplace.send("bob", recipientId="alice", content=f"m{i}").status for i in range(4)]
    assert statuses == [201, 201, 201, 429]

    documents = emitted()

    assert [document.get("RateLimited") for document in documents] == [None, None, None, 1]
    assert [document.get("MessagesSent") for document in documents] == [1, 1, 1, None]


def test_socket_events_are_one_line_each(
    marketplace: Api, sockets: Sockets, emitted: Callable[[], list[CountedMetrics]]
) -> None:
    connection = sockets.connect("bob")
    sockets.send(connection, "new_message", recipientId="alice", content="over the socket")
    sockets.send(connection, "no_such_action")
    sockets.disconnect(connection)

    connected, sent, refused, disconnected = emitted()

    assert metric_names(connected) == metric_names(disconnected) == {"Invocations"}
    assert metric_names(sent) == {"Invocations", "MessagesSent", "FrameLatency"}
    assert metric_names(refused) == {"Invocations", "FrameLatency"}  # a client's mistake, not a handler error


def test_a_socket_frame_meeting_a_storage_failure_counts_a_handler_error(
    marketplace: Api, sockets: Sockets, emitted: Callable[[], list[CountedMetrics]]
) -> None:
    connection = sockets.connect("bob")
    emitted()
    with dynamodb_failing("TransactWriteItems"):
        sockets.send(connection, "new_message", recipientId="alice", content="not now")

    (document,) = emitted()
    assert document["HandlerErrors"] == 1 and "MessagesSent" not in document


def test_a_failing_upload_event_counts_a_handler_error_and_still_raises(
    client: Client,
    install_services: Callable[..., Services],
    emitted: Callable[[], list[CountedMetrics]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def processing_fails(key: str) -> None:
        raise MemoryError("the image was too much")

    monkeypatch.setattr(install_services().attachments, "process_upload", processing_fails)
    event = client.events.generate_s3_event(
        bucket=get_settings().attachments_bucket, key="conversations/conv_x/att_y/original"
    )

    with pytest.raises(MemoryError):  # S3 retries the invocation; what keeps failing goes to the DLQ
        client.lambda_.invoke("on_upload", event)

    (document,) = emitted()
    assert (document["Invocations"], document["HandlerErrors"]) == (1, 1)
