"""The dev stack's emulation of what Lambda does around the app's asynchronous handlers (dev/s3_events.py,
dev/queues.py), on moto: an S3 event whose handler fails or times out is retried, then sent to the dead-letter
queue; a queue's messages reach their ``@app.on_sqs_message`` handler, are deleted when it returns, and are moved to
the queue's own dead-letter queue by SQS's redrive after ``maxReceiveCount`` failed deliveries.

A small Chalice app stands in for the real one where the handler's behaviour is the point; the last test runs the
real app end to end: a failing ``on_upload`` ends, through the queue, as a rejected attachment and a told room.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests
from chalice import Chalice
from chalice.app import S3Event, SQSEvent

from chalicelib.adapters.dynamodb import Attachment
from chalicelib.adapters.files import S3Files
from chalicelib.bootstrap import Services
from chalicelib.settings import get_settings
from dev.queues import QueuePoller, sources
from dev.s3_events import Invocation, S3EventEmulator
from tests.integration.conftest import UPLOAD_FAILURES, Api
from tests.integration.sockets import Sockets
from tests.integration.test_attachments import BLANKET, Uploads, jpeg_with_gps

REGION = "us-east-1"


pytestmark = pytest.mark.usefixtures("settings_of_the_tests")


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


def queue(sqs: Any, name: str, *, max_receive_count: int = 0, dead_letter_url: str | None = None) -> str:
    attributes = {"VisibilityTimeout": "0"}  # a failed delivery is visible again at once: no waiting in tests
    if dead_letter_url:
        arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])["Attributes"]
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": arn["QueueArn"], "maxReceiveCount": max_receive_count}
        )
    return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def messages(sqs: Any, url: str) -> list[dict[str, Any]]:
    return list(
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
    )


class Stand:
    """A Chalice app whose upload handler does what ``behaviour`` says, counting its calls."""

    def __init__(self) -> None:
        self.app = Chalice(app_name="stand-in")
        self.calls = 0
        self.behaviour = "fail"
        self.released = threading.Event()

        @self.app.on_s3_event(bucket=get_settings().attachments_bucket, events=["s3:ObjectCreated:*"])
        def on_upload(event: S3Event) -> None:
            self.calls += 1
            if self.behaviour == "fail" or (self.behaviour == "fail once" and self.calls == 1):
                raise RuntimeError("processing failed")
            if self.behaviour == "hang":
                self.released.wait(30)


@pytest.fixture
def stand(aws: None) -> Iterator[Stand]:
    stand = Stand()
    yield stand
    stand.released.set()


def upload_through(emulator: S3EventEmulator, key: str = "conversations/x/original") -> None:
    """Write an object while the emulator listens, then wait (stop) for its handler's attempts to end."""
    files = S3Files(get_settings())
    emulator.start()
    try:
        files.client.put_object(Bucket=files.bucket, Key=key, Body=b"bytes")
        assert emulator.drain(), "the handler's attempts did not end"
    finally:
        emulator.stop()


def emulator(stand: Stand, sqs: Any, dead_letter_url: str, **settings: Any) -> S3EventEmulator:
    invocation = Invocation(dead_letter_queue_url=dead_letter_url, retry_delay_seconds=0, **settings)
    return S3EventEmulator(stand.app, stage="test", region=REGION, invocations={"on_upload": invocation}, sqs=sqs)


# --- S3's asynchronous invocation ------------------------------------------------------------------------


def test_a_failing_upload_handler_is_retried_then_its_event_goes_to_the_dead_letter_queue(
    stand: Stand, sqs: Any
) -> None:
    dead_letters = queue(sqs, "upload-failures")

    upload_through(emulator(stand, sqs, dead_letters, max_retries=1))

    assert stand.calls == 2  # the first attempt and one retry
    [message] = messages(sqs, dead_letters)
    event = json.loads(message["Body"])
    assert event["Records"][0]["s3"]["object"]["key"] == "conversations/x/original"
    assert message["MessageAttributes"]["ErrorMessage"]["StringValue"] == "RuntimeError: processing failed"


def test_an_upload_handler_past_its_timeout_is_a_failure(stand: Stand, sqs: Any) -> None:
    stand.behaviour = "hang"  # never returns by itself: the timeout, not the test's timing, decides
    dead_letters = queue(sqs, "upload-failures")

    upload_through(emulator(stand, sqs, dead_letters, max_retries=0, timeout_seconds=0.05))

    [message] = messages(sqs, dead_letters)
    assert message["MessageAttributes"]["ErrorMessage"]["StringValue"] == "Task timed out after 0.05 seconds"


def test_a_handler_that_succeeds_on_its_retry_sends_nothing_to_the_dead_letter_queue(stand: Stand, sqs: Any) -> None:
    stand.behaviour = "fail once"
    dead_letters = queue(sqs, "upload-failures")

    upload_through(emulator(stand, sqs, dead_letters, max_retries=1))

    assert stand.calls == 2 and messages(sqs, dead_letters) == []


# --- SQS event sources -------------------------------------------------------------------------------------


class Consumer:
    def __init__(self) -> None:
        self.app = Chalice(app_name="stand-in")
        self.bodies: list[list[str]] = []
        self.failing = False

        @self.app.on_sqs_message(queue="work", batch_size=5)
        def consume(event: SQSEvent) -> None:
            self.bodies.append([record.body for record in event])
            if self.failing:
                raise RuntimeError("cannot handle it")


def test_the_poller_finds_the_apps_queues_and_hands_them_batches(sqs: Any) -> None:
    consumer = Consumer()
    url = queue(sqs, "work")
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    [source] = sources(consumer.app, sqs)
    poller = QueuePoller(consumer.app, [source], client=sqs, stage="test", region=REGION)

    assert (source.handler_name, source.queue_url, source.batch_size) == ("consume", url, 5)
    assert poller.poll_once(source) == 3
    assert sorted(consumer.bodies[0]) == ["a", "b", "c"] and messages(sqs, url) == []  # deleted once handled


def test_a_failing_consumer_leaves_its_messages_for_the_redrive_to_dead_letter(sqs: Any) -> None:
    consumer = Consumer()
    consumer.failing = True
    dead = queue(sqs, "work-dead")
    url = queue(sqs, "work", max_receive_count=2, dead_letter_url=dead)
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    [source] = sources(consumer.app, sqs)
    poller = QueuePoller(consumer.app, [source], client=sqs, stage="test", region=REGION)

    handled = [poller.poll_once(source) for _ in range(3)]

    assert handled == [0, 0, 0] and consumer.bodies == [["poison"], ["poison"]]  # the third receive redrove it
    assert [m["Body"] for m in messages(sqs, dead)] == ["poison"]


def test_the_poller_runs_on_its_own_and_stops(sqs: Any) -> None:
    consumer = Consumer()
    url = queue(sqs, "work")
    arrived = threading.Event()
    consumer.app.handler_map["consume"] = lambda event, context: arrived.set()
    poller = QueuePoller(consumer.app, sources(consumer.app, sqs), client=sqs, stage="test", region=REGION)
    poller.start()
    try:
        sqs.send_message(QueueUrl=url, MessageBody="hello")
        assert arrived.wait(10)
    finally:
        poller.stop()
    assert all(not thread.is_alive() for thread in poller._threads)


# --- the real app, end to end ---------------------------------------------------------------------------------


class BrokenReads(S3Files):
    """An S3 whose reads of originals fail: on_upload raises, as on a lasting S3 outage."""

    def read(self, key: str, *, etag: str | None = None) -> tuple[bytes, str] | None:
        raise RuntimeError("S3 is down")


def test_a_lasting_failure_of_on_upload_ends_as_a_rejected_attachment_and_a_told_room(
    marketplace: Api, sockets: Sockets, sqs: Any, install_services: Callable[..., Services]
) -> None:
    from app import app

    marketplace.send("bob", recipientId="alice", patternId="p1", content="my progress so far")
    uploads = Uploads(marketplace, sockets)
    photo = jpeg_with_gps()
    ticket = uploads.ticket("bob", BLANKET, "wip.jpg", "image/jpeg", len(photo)).body
    alice = sockets.connect("alice")
    sockets.send(alice, "join_conversation", conversationId=BLANKET)
    form = ticket["upload"]
    requests.post(form["url"], data=form["fields"], files={"file": ("wip.jpg", photo, "image/jpeg")})
    assert uploads.send("bob", ticket["attachmentId"]).body["message"]["attachmentStatus"] == "processing"
    install_services(files=BrokenReads(get_settings()))
    invocation = Invocation(max_retries=1, dead_letter_queue_url=UPLOAD_FAILURES.url, retry_delay_seconds=0)
    s3_events = S3EventEmulator(app, stage="test", region=REGION, invocations={"on_upload": invocation}, sqs=sqs)

    s3_events.start()
    try:
        files = S3Files(get_settings())  # the same bytes again: S3 sends the event
        files.client.put_object(Bucket=files.bucket, Key=form["fields"]["key"], Body=photo)
        assert s3_events.drain(), "on_upload's attempts did not end"
    finally:
        s3_events.stop()
    source = next(s for s in sources(app, sqs) if s.handler_name == "on_upload_failure")
    handled = QueuePoller(app, [source], client=sqs, stage="test", region=REGION).poll_once(source)

    assert handled == 1
    assert Attachment.get(ticket["attachmentId"]).status == "rejected"
    [told] = sockets.events(alice, "attachment_ready")
    assert told["message"]["attachmentStatus"] == "rejected"
