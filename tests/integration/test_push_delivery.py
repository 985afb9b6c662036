"""Web Push end to end on moto: a message sent through the API, the messages-table stream consumer's decision, the
push queue (moto's SQS) and its ``on_push`` handler run the way Lambda's event source runs it (``dev.queues``),
and a push service on 127.0.0.1 that decrypts with the subscription's private key and verifies the VAPID JWT
against the key ``GET /api/push/vapid-public-key`` publishes. Then each rule: no push while the recipient is in the
room, when muted, when push is off; no preview when ``showPreview`` is off; 404/410 prune; 429/5xx retried with
backoff, then the dead letters; redelivery pushes nothing twice."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from app import app
from chalicelib.adapters.dynamodb import Message, PushSubscription
from chalicelib.adapters.dynamodb.push import COUNT_KEY
from chalicelib.adapters.dynamodb.records import message_record
from chalicelib.adapters.webpush import VapidKey, WebPushSender
from chalicelib.bootstrap import Services
from chalicelib.domain.ids import parse_message_id
from chalicelib.domain.messages import MessageRecord
from chalicelib.services import push as push_service_module
from chalicelib.services.message_stream import MessageChange
from chalicelib.settings import get_settings
from dev.queues import QueuePoller, Source, sources
from tests.integration.conftest import Api, DynamoCalls
from tests.integration.push_support import Browser, PushService, push_service
from tests.integration.sockets import Sockets

Change = MessageChange  # a decoded stream record, as the stream plumbing hands its consumers


def stored(message_id: str) -> MessageRecord:
    conversation_id, seq = parse_message_id(message_id) or ("", 0)
    return message_record(Message.get(conversation_id, seq, consistent_read=True))


class Pushing:
    """alice, bob and carol on the marketplace; bob's browsers subscribe to a local push service."""

    def __init__(self, api: Api, service: PushService, services: Services) -> None:
        self.api = api
        self.service = service
        self.services = services
        self.sqs = boto3.client("sqs", region_name=get_settings().region)
        self.poller = QueuePoller(app, [], client=self.sqs, stage="test", region=get_settings().region)
        self.source: Source = next(s for s in sources(app, self.sqs) if s.handler_name == "on_push")
        self._sequence = 0

    def subscribe(self, user: str, name: str) -> Browser:
        browser = Browser(self.service.endpoint(name))
        response = self.api.call("PUT", "/api/push/subscriptions", user, browser.subscription())
        assert response.status == 201, response.body
        return browser

    def prefer(self, user: str, **preferences: Any) -> None:
        """``PUT /api/me/notification-preferences`` (what is left out keeps its default)."""
        response = self.api.call("PUT", "/api/me/notification-preferences", user, preferences)
        assert response.status == 200, response.body

    def send(self, sender: str, content: str = "Which hook size for the border?", **fields: Any) -> str:
        fields = fields or {"recipientId": "alice" if sender == "bob" else "bob", "patternId": "p1"}
        response = self.api.send(sender, content=content, **fields)
        assert response.status == 201, response.body
        return str(response.body["message"]["id"])

    def changes(self, *message_ids: str) -> list[Change]:
        """The INSERT records of these messages, decoded."""
        changes = []
        for message_id in message_ids:
            self._sequence += 1
            changes.append(Change(str(self._sequence), "INSERT", None, stored(message_id)))
        return changes

    def stream(self, *message_ids: str) -> list[str]:
        """The stream consumer gets the INSERT records of these messages; the records it failed."""
        return self.services.push.on_changes(self.changes(*message_ids))

    def queued(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.source.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    def run_queue(self) -> int:
        """Lambda's event source: one receive, one ``on_push`` invocation, the message deleted if it returned."""
        return self.poller.poll_once(self.source)

    def public_key(self) -> str:
        return str(self.api.call("GET", "/api/push/vapid-public-key", "bob").body["publicKey"])

    def subscriptions(self, user: str) -> int:
        try:
            return int(PushSubscription.get(user, COUNT_KEY, consistent_read=True).subscriptions or 0)
        except PushSubscription.DoesNotExist:
            return 0


@pytest.fixture
def pushing(marketplace: Api, install_services: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pushing]:
    monkeypatch.setenv("PUSH_INSECURE_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    settings = get_settings()
    with push_service() as service:
        services = install_services(push_sender=WebPushSender(settings, VapidKey.generate()))
        yield Pushing(marketplace, service, services)


def test_a_message_to_an_offline_user_is_pushed_end_to_end(pushing: Pushing) -> None:
    laptop, phone = pushing.subscribe("bob", "bob-laptop"), pushing.subscribe("bob", "bob-phone")
    pushing.subscribe("carol", "carol-laptop")  # not part of the conversation
    message_id = pushing.send("alice", "Use a 4 mm hook for the border", recipientId="bob", patternId="p1")

    assert pushing.stream(message_id) == []
    assert pushing.run_queue() == 1

    conversation_id = parse_message_id(message_id)[0]  # type: ignore[index]
    expected = {
        "type": "new_message",
        "conversationId": conversation_id,
        "messageId": message_id,
        "title": "Alice",
        "body": "Use a 4 mm hook for the border",
    }
    for browser, name in ((laptop, "bob-laptop"), (phone, "bob-phone")):
        (received,) = pushing.service.to(name)
        assert browser.decrypt(received.body) == expected
        claims = received.vapid(pushing.public_key(), audience=pushing.service.origin)
        assert claims["sub"].startswith("mailto:") and claims["exp"] - time.time() <= 24 * 3600
        assert received.headers["topic"] == conversation_id and received.headers["urgency"] == "high"
        assert received.headers["ttl"] == str(get_settings().push_ttl_seconds)
        assert received.headers["content-encoding"] == "aes128gcm"
    assert pushing.service.to("carol-laptop") == []
    assert pushing.queued() == 0


def test_through_the_messages_stream_as_make_dev_and_lambda_run_it(pushing: Pushing) -> None:
    """The real stream: moto's records of the send, read by dev/streams.py's poller, handed to on_message_stream,
    whose consumer registry reaches the push consumer; then on_push."""
    from botocore.config import Config

    from chalicelib.adapters.queues import SqsQueue, stream_failure_queue
    from dev.moto_isolation import serialized
    from dev.streams import StreamPoller
    from dev.streams import sources as stream_sources

    settings = get_settings()
    failures = SqsQueue(settings, settings.stream_failures_queue).ensure(stream_failure_queue(settings))
    found = stream_sources(app, boto3.client("dynamodb", region_name=settings.region), failure_queue_url=failures)
    streams = boto3.client(
        "dynamodbstreams", region_name=settings.region, config=Config(account_id_endpoint_mode="disabled")
    )
    poller = StreamPoller(
        app, found, streams=streams, sqs=pushing.sqs, stage="test", region=settings.region, lock=serialized
    )
    laptop = pushing.subscribe("bob", "bob-laptop")
    message_id = pushing.send("alice", "Use a 4 mm hook", recipientId="bob", patternId="p1")
    pushing.api.call("PATCH", f"/api/messages/{message_id}", "alice", {"content": "Use a 4.5 mm hook"})

    outcome = poller.poll_once(found[0])

    assert outcome.given_up == [] and outcome.received >= 2  # the send (INSERT) and the edit (MODIFY)
    assert pushing.queued() == 1  # the edit is not pushed
    assert pushing.run_queue() == 1
    (received,) = pushing.service.to("bob-laptop")
    assert laptop.decrypt(received.body)["messageId"] == message_id


def test_no_push_while_the_recipient_is_in_the_room(pushing: Pushing, sockets: Sockets) -> None:
    pushing.subscribe("bob", "bob-laptop")
    first = pushing.send("alice", recipientId="bob", patternId="p1")
    connection = sockets.connect("bob")
    sockets.send(connection, "join_conversation", conversationId=parse_message_id(first)[0])  # type: ignore[index]
    in_room = pushing.send("alice", recipientId="bob", patternId="p1")
    pushing.stream(in_room)
    assert pushing.queued() == 0
    # Connected, but not in that room (another tab shows the inbox): pushed.
    sockets.send(connection, "leave_conversation", conversationId=parse_message_id(first)[0])  # type: ignore[index]
    left = pushing.send("alice", recipientId="bob", patternId="p1")
    pushing.stream(left)
    assert pushing.queued() == 1


def test_no_push_for_a_muted_conversation(pushing: Pushing) -> None:
    pushing.subscribe("bob", "bob-laptop")
    conversation_id = parse_message_id(pushing.send("alice", recipientId="bob", patternId="p1"))[0]
    muted = pushing.api.call(
        "PUT", f"/api/messages/conversations/{conversation_id}/settings", "bob", {"mutedUntil": "2999-01-01T00:00:00Z"}
    )
    assert muted.status == 200, muted.body
    pushing.stream(pushing.send("alice", conversationId=conversation_id))
    assert pushing.queued() == 0


def test_no_push_when_push_is_off(pushing: Pushing) -> None:
    pushing.subscribe("bob", "bob-laptop")
    pushing.prefer("bob", push={"enabled": False, "showPreview": True})
    pushing.stream(pushing.send("alice", recipientId="bob", patternId="p1"))
    assert pushing.queued() == 0


def test_no_push_without_a_subscription(pushing: Pushing, dynamo_calls: DynamoCalls) -> None:
    changes = pushing.changes(pushing.send("alice", recipientId="bob", patternId="p1"))
    dynamo_calls.reset()
    pushing.services.push.on_changes(changes)
    assert pushing.queued() == 0
    assert dict(dynamo_calls.operations) == {"BatchGetItem": 1}


def test_no_preview_when_show_preview_is_off(pushing: Pushing) -> None:
    laptop = pushing.subscribe("bob", "bob-laptop")
    pushing.prefer("bob", push={"enabled": True, "showPreview": False})
    pushing.stream(pushing.send("alice", "my address is 1 Yarn Lane", recipientId="bob", patternId="p1"))
    pushing.run_queue()
    (received,) = pushing.service.to("bob-laptop")
    payload = laptop.decrypt(received.body)
    assert payload["body"] == "New message" and "Yarn" not in json.dumps(payload)


def test_edits_and_deletions_are_not_pushed(pushing: Pushing) -> None:
    pushing.subscribe("bob", "bob-laptop")
    message_id = pushing.send("alice", recipientId="bob", patternId="p1")
    record = stored(message_id)
    assert (
        pushing.services.push.on_changes([Change("1", "MODIFY", record, record), Change("2", "REMOVE", record, None)])
        == []
    )
    assert pushing.queued() == 0


def test_gone_subscriptions_are_forgotten(pushing: Pushing) -> None:
    pushing.subscribe("bob", "bob-laptop")
    pushing.subscribe("bob", "bob-old-phone")
    pushing.subscribe("bob", "bob-uninstalled")
    pushing.service.statuses = {"/push/bob-old-phone": [410], "/push/bob-uninstalled": [404]}
    pushing.stream(pushing.send("alice", recipientId="bob", patternId="p1"))
    assert pushing.run_queue() == 1
    assert pushing.subscriptions("bob") == 1
    remaining = [s.endpoint for s in PushSubscription.query("bob") if s.key != COUNT_KEY]
    assert remaining == [pushing.service.endpoint("bob-laptop")]
    pushing.stream(pushing.send("alice", recipientId="bob", patternId="p1"))
    pushing.run_queue()
    assert len(pushing.service.to("bob-old-phone")) == 1 and len(pushing.service.to("bob-laptop")) == 2


def test_throttled_pushes_are_retried_with_backoff_and_nothing_is_sent_twice(
    pushing: Pushing, monkeypatch: pytest.MonkeyPatch
) -> None:
    laptop = pushing.subscribe("bob", "bob-laptop")
    pushing.subscribe("bob", "bob-phone")
    pushing.service.statuses = {"/push/bob-phone": [429, 503, 201]}
    delays: list[tuple[int, int | None]] = []

    def quick(receive_count: int, retry_after: int | None = None) -> int:
        delays.append((receive_count, retry_after))
        return 1

    monkeypatch.setattr(push_service_module.push, "retry_delay", quick)
    pushing.service.retry_after = "30"
    pushing.stream(pushing.send("alice", recipientId="bob", patternId="p1"))

    assert pushing.run_queue() == 0  # the phone's service said 429: the job stays, the laptop got its push
    assert pushing.run_queue() == 0  # hidden for the backoff
    time.sleep(1.2)
    assert pushing.run_queue() == 0  # 503
    time.sleep(1.2)
    assert pushing.run_queue() == 1  # 201: done, deleted
    assert delays == [(1, 30), (2, None)]
    assert len(pushing.service.to("bob-laptop")) == 1  # not pushed again on the retries
    assert len(pushing.service.to("bob-phone")) == 3
    assert laptop.decrypt(pushing.service.to("bob-laptop")[0].body)["type"] == "new_message"
    assert pushing.queued() == 0


def test_a_push_that_keeps_failing_ends_in_the_dead_letters(pushing: Pushing, monkeypatch: pytest.MonkeyPatch) -> None:
    pushing.subscribe("bob", "bob-laptop")
    pushing.service.statuses = {"/push/bob-laptop": [500]}
    monkeypatch.setattr(push_service_module.push, "retry_delay", lambda receive_count, retry_after=None: 0)
    pushing.stream(pushing.send("alice", recipientId="bob", patternId="p1"))
    for _ in range(8):
        assert pushing.run_queue() == 0
    assert pushing.run_queue() == 0 and pushing.queued() == 0
    dead = pushing.sqs.get_queue_url(QueueName=f"{get_settings().push_queue}-dead")["QueueUrl"]
    (letter,) = pushing.sqs.receive_message(QueueUrl=dead).get("Messages", [])
    assert json.loads(letter["Body"])["userId"] == "bob"
    assert len(pushing.service.to("bob-laptop")) == 8
    assert pushing.subscriptions("bob") == 1  # a failing service is not a gone subscription


def test_redelivery_pushes_nothing_twice(pushing: Pushing, dynamo_calls: DynamoCalls) -> None:
    pushing.subscribe("bob", "bob-laptop")
    pushing.subscribe("bob", "bob-phone")
    message_id = pushing.send("alice", recipientId="bob", patternId="p1")
    pushing.stream(message_id)
    pushing.stream(message_id)  # the stream redelivered its batch: the job is queued twice
    assert pushing.queued() == 2
    dynamo_calls.reset()
    assert pushing.run_queue() == 1
    # Query the subscriptions, Query the sent markers, one PutItem per subscription pushed.
    assert dict(dynamo_calls.operations) == {"Query": 2, "PutItem": 2}
    assert pushing.run_queue() == 1
    assert len(pushing.service.to("bob-laptop")) == 1 and len(pushing.service.to("bob-phone")) == 1


def test_one_stream_batch_costs_one_read_whatever_its_size(pushing: Pushing, dynamo_calls: DynamoCalls) -> None:
    pushing.subscribe("bob", "bob-laptop")
    pushing.subscribe("alice", "alice-laptop")
    messages = [pushing.send(sender, f"message {n}") for n in range(6) for sender in ("alice", "bob")]
    changes = pushing.changes(*messages)
    dynamo_calls.reset()
    assert pushing.services.push.on_changes(changes) == []
    assert dict(dynamo_calls.operations) == {"BatchGetItem": 1}
    assert pushing.queued() == 12


def test_an_unknown_job_fails_to_the_dead_letters(pushing: Pushing) -> None:
    pushing.sqs.send_message(QueueUrl=pushing.source.queue_url, MessageBody='{"hello": "world"}')
    assert pushing.run_queue() == 0
