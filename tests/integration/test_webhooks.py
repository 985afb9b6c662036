"""Webhooks to the platform on moto (issue 18): events from the messages table's stream, Standard Webhooks signatures
checked by a receiver on 127.0.0.1 (dev/webhook_receiver.py, its own HMAC code), retries with backoff, a poison
event reaching the dead-letter queue, and the replay."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from app import app
from chalicelib import bootstrap
from chalicelib.adapters.queues import SqsQueue, webhook_queues
from chalicelib.services.message_stream import decode
from chalicelib.settings import get_settings
from dev.queues import QueuePoller, Source
from dev.webhook_receiver import WebhookReceiver
from infrastructure.webhooks_replay import replay
from tests.integration.conftest import Api, token_for
from tests.integration.streams import MessageStream, consume

SECRETS = "whsec_" + "c2VjcmV0LW9mLXRoZS1wbGF0Zm9ybS0wMTIzNDU2Nzg5"  # base64 of "secret-of-the-platform-0123456789"
ATTEMPTS = 4  # the first and three retries (WEBHOOK_RETRY_SECONDS below)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver("127.0.0.1", 0, SECRETS)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webhooks(
    aws: None, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[QueuePoller, Source, str]]:
    monkeypatch.setenv("WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("WEBHOOK_SECRET", SECRETS)
    monkeypatch.setenv("WEBHOOK_RETRY_SECONDS", "0,0,0")
    get_settings.cache_clear()
    bootstrap.install(None)
    settings = get_settings()
    sqs = boto3.client("sqs", region_name=settings.region)
    # The shared fixture made the queue with the default retries; these tests want it shaped by three quick ones.
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=settings.webhook_queue)["QueueUrl"])
    url = SqsQueue(settings, settings.webhook_queue).ensure(webhook_queues(settings))
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source = Source("on_webhook", url, arn, 1)
    yield QueuePoller(app, [source], client=sqs, stage="test", region=settings.region), source, url
    get_settings.cache_clear()
    bootstrap.install(None)


@pytest.fixture
def stream(marketplace: Api, webhooks: Any) -> MessageStream:
    return MessageStream().enable()


def drain(poller: QueuePoller, source: Source, rounds: int = 20) -> int:
    """Run the consumer until the queue is empty (a failed attempt is visible again at once: retries of 0 s)."""
    handled = 0
    for _ in range(rounds):
        if poller.poll_once(source) == 0 and not _visible(poller, source):
            break
        handled += 1
    return handled


def _visible(poller: QueuePoller, source: Source) -> int:
    attributes = poller.client.get_queue_attributes(
        QueueUrl=source.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def dead_letters(poller: QueuePoller, source: Source) -> list[dict[str, Any]]:
    url = poller.client.get_queue_url(QueueName=source.queue_url.rsplit("/", 1)[-1] + "-dead")["QueueUrl"]
    return poller.client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])


def test_a_conversation_and_its_messages_reach_the_platform_signed(
    marketplace: Api, webhooks: Any, stream: MessageStream, receiver: WebhookReceiver
) -> None:
    poller, source, _ = webhooks
    first = marketplace.send("bob", recipientId="alice", patternId="p1", content="which hook?").body["message"]
    marketplace.send("alice", conversationId=first["conversationId"], content="4 mm")
    marketplace.call("PATCH", f"/api/messages/{first['id']}", "bob", {"content": "which hook, please?"})
    marketplace.call("DELETE", f"/api/messages/{first['id']}", "bob")
    marketplace.call("PUT", f"/api/messages/{first['id']}/reactions/%F0%9F%A7%B6", "alice")  # deleted: refused

    consume(stream.read())
    drain(poller, source)

    events = [d.event for d in receiver.inbox.accepted()]
    assert all(d.verified for d in receiver.inbox.deliveries)
    assert [e["type"] for e in events] == [
        "conversation.created",
        "message.created",
        "message.created",
        "message.updated",
        "message.deleted",
    ]
    for event in events:
        assert set(event) == {"id", "type", "createdAt", "data"}
        assert event["createdAt"].endswith("Z")
    conversation, created, reply, updated, deleted = events
    assert conversation["data"] == {
        "conversationId": first["conversationId"],
        "participantIds": ["alice", "bob"],
        "patternId": "p1",
        "createdAt": conversation["createdAt"],
    }
    assert created["data"]["content"] == "which hook?" and created["data"]["senderId"] == "bob"
    assert reply["data"]["content"] == "4 mm"
    assert updated["data"]["content"] == "which hook, please?" and updated["data"]["editedAt"]
    assert "content" not in deleted["data"] and deleted["data"]["deletedAt"]
    assert [d.webhook_id for d in receiver.inbox.accepted()] == [e["id"] for e in events]
    assert len({e["id"] for e in events}) == 5


def test_a_report_and_its_resolution_reach_the_platform(
    marketplace: Api, webhooks: Any, stream: MessageStream, receiver: WebhookReceiver
) -> None:
    poller, source, _ = webhooks
    sent = marketplace.send("bob", recipientId="alice", patternId="p1", content="pay me on the side").body["message"]
    filed = marketplace.call("POST", f"/api/messages/{sent['id']}/report", "alice", {"reason": "scam"})
    assert filed.status == 201, filed.body
    consume(stream.read())
    drain(poller, source)
    moderator = {"Authorization": f"Bearer {token_for('mod1', role='moderator')}"}
    report_id = filed.body["report"]["id"]
    resolution = {"action": "delete_message", "note": "off-platform payment"}
    resolved = marketplace.call("POST", f"/api/moderation/reports/{report_id}/resolution", None, resolution, moderator)
    assert resolved.status == 200, resolved.body
    consume(stream.read())
    drain(poller, source)

    events = [d.event for d in receiver.inbox.accepted()]
    assert [e["type"] for e in events] == [
        "conversation.created",
        "message.created",
        "message.reported",
        "message.deleted",
        "report.resolved",
    ]
    reported, resolved_event = events[2]["data"], events[4]["data"]
    assert {k: reported[k] for k in ("reportId", "reason", "reporterId", "status")} == {
        "reportId": report_id,
        "reason": "scam",
        "reporterId": "alice",
        "status": "open",
    }
    assert reported["message"]["senderId"] == "bob" and reported["message"]["content"] == "pay me on the side"
    assert resolved_event["reportId"] == report_id and resolved_event["action"] == "delete_message"
    assert resolved_event["resolvedAt"] and "content" not in resolved_event["message"]
    assert all(d.verified for d in receiver.inbox.deliveries)


def test_a_redelivered_stream_record_keeps_its_event_ids(
    marketplace: Api, webhooks: Any, stream: MessageStream, receiver: WebhookReceiver
) -> None:
    poller, source, _ = webhooks
    marketplace.send("bob", recipientId="alice", patternId="p1", content="hi")
    records = stream.read()
    consume(records)
    consume(records)  # the stream's at-least-once: the same batch again
    drain(poller, source)
    ids = [d.webhook_id for d in receiver.inbox.accepted()]
    assert len(ids) == 4 and len(set(ids)) == 2  # the platform dedupes on webhook-id


def test_a_failed_delivery_is_retried_with_the_same_id_and_body(
    marketplace: Api, webhooks: Any, stream: MessageStream, receiver: WebhookReceiver
) -> None:
    poller, source, _ = webhooks
    conversation = marketplace.send("bob", recipientId="alice", patternId="p1").body["message"]["conversationId"]
    stream.read()
    marketplace.send("bob", conversationId=conversation, content="are you there?")
    receiver.inbox.fail_next = 2
    consume(stream.read())
    drain(poller, source)

    attempts = receiver.inbox.deliveries
    assert [d.answered for d in attempts] == [503, 503, 204]
    assert all(d.verified for d in attempts)
    assert len({d.webhook_id for d in attempts}) == 1 and len({d.body for d in attempts}) == 1
    assert dead_letters(poller, source) == []


def test_the_backoff_is_set_with_change_message_visibility(
    marketplace: Api, webhooks: Any, stream: MessageStream, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    poller, source, _ = webhooks
    monkeypatch.setenv("WEBHOOK_RETRY_SECONDS", "5,300")
    get_settings.cache_clear()
    bootstrap.install(None)
    marketplace.send("bob", recipientId="alice", patternId="p1")
    receiver.inbox.fail_next = 10
    waits: list[int] = []
    original = poller.client.change_message_visibility

    def recorded(**kwargs: Any) -> Any:
        waits.append(kwargs["VisibilityTimeout"])
        return original(**kwargs)

    monkeypatch.setattr(poller.client, "change_message_visibility", recorded)
    bootstrap.services().webhooks._queue._client = poller.client  # type: ignore[union-attr]  # watch its calls
    consume(stream.read())
    poller.poll_once(source)
    poller.poll_once(source)
    assert waits == [5, 5]  # each of the two events: hidden 5 s after its first failure
    assert poller.poll_once(source) == 0 and _visible(poller, source) == 0  # nothing visible before then


def test_a_poison_event_reaches_the_dead_letters_and_an_event_is_replayed(
    marketplace: Api, webhooks: Any, stream: MessageStream, receiver: WebhookReceiver
) -> None:
    poller, source, url = webhooks
    poller.client.send_message(QueueUrl=url, MessageBody="{not an event")
    marketplace.send("bob", recipientId="alice", patternId="p1", content="lost while the platform was down")
    receiver.inbox.fail_next = 2 * ATTEMPTS  # both events fail every attempt
    consume(stream.read())
    drain(poller, source, rounds=40)

    dead = dead_letters(poller, source)
    assert len(dead) == 3  # the poison one and the two events
    assert any(m["Body"] == "{not an event" for m in dead)
    assert len(receiver.inbox.deliveries) == 2 * ATTEMPTS  # every attempt was made, then no more

    assert replay(poller.client, source.queue_url.rsplit("/", 1)[-1]) == 3
    drain(poller, source, rounds=40)
    delivered = receiver.inbox.accepted()
    assert sorted(d.event["type"] for d in delivered) == ["conversation.created", "message.created"]
    failed_ids = {d.webhook_id for d in receiver.inbox.deliveries if d.answered == 503}
    assert {d.webhook_id for d in delivered} == failed_ids  # the replay kept the ids
    assert [m["Body"] for m in dead_letters(poller, source)] == ["{not an event"]  # only the poison one is back


def test_without_a_webhook_url_nothing_is_queued(marketplace: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBHOOK_URL", raising=False)
    get_settings.cache_clear()
    bootstrap.install(None)
    stream = MessageStream().enable()
    marketplace.send("bob", recipientId="alice", patternId="p1")
    services = bootstrap.services()
    changes = [decode(record) for record in stream.read()]
    assert changes and services.webhooks is not None and services.webhooks.enqueue(changes) == 0
    bootstrap.install(None)
