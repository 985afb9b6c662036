"""Email digests on moto (issue 18): one mail per user per delay window, listing what is unread when it is sent; none
after reading, for opted-out users or users without an email, in quiet hours (sent when they end); edits and
deletions as they are at send time; previews off; RFC 8058 one-click unsubscribe; SES v2 raw MIME; the real queue.

The stream consumer is fed the messages table's own stream records (tests/integration/streams.py); a clock the test
moves drives the delays (the queued messages are recorded with their delays, and handed to the app's handler when
due), and one test runs the real delayed SQS queue through the app's ``on_email_digest``.
"""

from __future__ import annotations

import email
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message as MimeMessage
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from app import app
from chalicelib.adapters.email import SesMailer
from chalicelib.adapters.queues import SqsQueue, digest_queues
from chalicelib.bootstrap import Services
from chalicelib.entrypoints.digests import on_messages
from chalicelib.settings import get_settings
from dev.queues import QueuePoller, Source
from tests.integration.conftest import Api, token_for
from tests.integration.streams import MessageStream, consume

PREFS = "/api/me/notification-preferences"
START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


class MovableClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class RecordedQueue:
    """The digest queue as the use case sees it: what was sent, with its delay (SQS's DelaySeconds)."""

    sent: list[tuple[dict[str, Any], int]] = field(default_factory=list)

    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        assert 0 <= delay_seconds <= 900  # SQS refuses more
        self.sent.append((body, delay_seconds))

    def send_many(self, bodies: list[dict[str, Any]]) -> None:
        for body in bodies:
            self.send(body)

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        raise AssertionError("digests are never retried by visibility")

    def take(self) -> list[tuple[dict[str, Any], int]]:
        taken, self.sent = self.sent, []
        return taken


def outbox() -> list[MimeMessage]:
    sent = ses_backends[DEFAULT_ACCOUNT_ID][get_settings().region].sent_messages
    return [email.message_from_string(m.raw_data) for m in sent if hasattr(m, "raw_data")]


def parts(mail: MimeMessage) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()  # type: ignore[union-attr]
        for part in mail.walk()
        if not part.is_multipart()
    }


@dataclass
class World:
    api: Api
    clock: MovableClock
    queue: RecordedQueue
    stream: MessageStream

    def consume(self) -> None:
        """What the messages table's stream consumer does with what was written since."""
        consume(self.stream.read())

    def run_due(self) -> list[str]:
        """Hand every queued digest message to the app's handler (as SQS would once its delay passed)."""
        outcomes = []
        for body, _ in self.queue.take():
            on_messages([{"body": json.dumps(body)}])
            outcomes.append(body["window"])
        return outcomes

    def bob_writes(self, content: str = "which hook for the border?") -> dict[str, Any]:
        response = self.api.send("bob", recipientId="alice", patternId="p1", content=content)
        assert response.status == 201, response.body
        return dict(response.body["message"])


@pytest.fixture
def world(marketplace: Api, install_services: Any) -> Iterator[World]:
    settings = get_settings()
    SesMailer(settings).ensure_identity(settings.notify_email_from)
    clock = MovableClock(START)
    queue = RecordedQueue()
    install_services(clock=clock, digest_queue=queue)
    marketplace.service("PUT", "/api/internal/users/alice", {"name": "Alice", "email": "alice@example.com"})
    marketplace.service("PUT", "/api/internal/users/bob", {"name": "Bob", "email": "bob@example.com"})
    yield World(marketplace, clock, queue, MessageStream().enable())


def test_a_burst_of_messages_makes_one_digest_per_window(world: World) -> None:
    first = world.bob_writes("which hook for the border?")
    world.api.send("bob", conversationId=first["conversationId"], content="and which yarn?")
    world.api.send("bob", conversationId=first["conversationId"], content="thanks!")
    world.consume()
    [(queued, delay)] = world.queue.sent  # one window, one queued message
    assert queued["userId"] == "alice" and queued["window"] == first["id"]
    assert delay == 600  # the default 10 minutes

    world.clock.advance(minutes=10)
    world.run_due()
    [mail] = outbox()
    assert mail["To"] == "alice@example.com" and mail["From"] == get_settings().notify_email_from
    assert mail["Subject"] == "Bob sent you 3 new messages"
    text = parts(mail)["text/plain"]
    assert "Bob about Granny Square Blanket: 3 unread messages" in text
    assert "\u201cthanks!\u201d" in text  # the newest message as the preview
    assert f"{get_settings().notify_app_url}/messages/{first['conversationId']}" in text
    assert "Granny Square Blanket" in parts(mail)["text/html"]

    # A duplicate delivery of the same queued message changes nothing.
    on_messages([{"body": json.dumps(queued)}])
    assert len(outbox()) == 1
    # The next message opens the next window.
    world.api.send("bob", conversationId=first["conversationId"], content="hello again")
    world.consume()
    assert len(world.queue.sent) == 1


def test_nothing_is_mailed_when_everything_was_read_meanwhile(world: World) -> None:
    message = world.bob_writes()
    world.consume()
    world.clock.advance(minutes=5)
    assert world.api.mark_read("alice", message["id"], whole=True).status == 200
    world.clock.advance(minutes=5)
    world.run_due()
    assert outbox() == []
    world.api.send("bob", conversationId=message["conversationId"], content="?")  # a new window opens
    world.consume()
    assert len(world.queue.sent) == 1


def test_opted_out_users_get_nothing(world: World) -> None:
    assert world.api.call("PUT", PREFS, "alice", {"email": {"enabled": False}}).status == 200
    world.bob_writes()
    world.consume()
    assert world.queue.sent == []  # no window opened


def test_opting_out_while_a_window_is_open_stops_its_mail(world: World) -> None:
    world.bob_writes()
    world.consume()
    world.api.call("PUT", PREFS, "alice", {"email": {"enabled": False}})
    world.clock.advance(minutes=10)
    world.run_due()
    assert outbox() == []


def test_users_without_an_email_get_nothing(world: World) -> None:
    world.api.service("PUT", "/api/internal/users/alice", {"name": "Alice"})
    world.bob_writes()
    world.consume()
    assert world.queue.sent == []


def test_a_muted_conversation_is_not_mailed(world: World) -> None:
    message = world.bob_writes()
    muted = world.api.call(
        "PUT",
        f"/api/messages/conversations/{message['conversationId']}/settings",
        "alice",
        {"mutedUntil": "2999-01-01T00:00:00Z"},
    )
    assert muted.status == 200, muted.body
    world.consume()
    world.clock.advance(minutes=10)
    world.run_due()
    assert outbox() == []


def test_a_message_request_is_not_mailed(world: World) -> None:
    # alice takes direct messages from buyers only: carol, who bought nothing, writes a request.
    closed = {"name": "Alice", "email": "alice@example.com", "acceptsDirectMessages": False}
    assert world.api.service("PUT", "/api/internal/users/alice", closed).status == 200
    request = world.api.send("carol", recipientId="alice", content="do you sell kits?")
    assert request.status == 201, request.body
    world.consume()
    world.clock.advance(minutes=10)
    world.run_due()
    assert outbox() == []


def test_a_suspended_user_is_not_mailed(world: World) -> None:
    reported = world.api.send("alice", recipientId="bob", patternId="p1", content="pay me off the platform")
    assert reported.status == 201, reported.body
    report = world.api.call("POST", f"/api/messages/{reported.body['message']['id']}/report", "bob", {"reason": "scam"})
    assert report.status == 201, report.body
    moderator = {"Authorization": f"Bearer {token_for('mod-1', role='moderator')}"}
    resolution = world.api.call(
        "POST",
        f"/api/moderation/reports/{report.body['report']['id']}/resolution",
        None,
        {"action": "suspend_user", "note": "off-platform payment", "suspendDays": 3},
        headers=moderator,
    )
    assert resolution.status == 200, resolution.body
    world.bob_writes()
    world.consume()
    world.clock.advance(minutes=10)
    world.run_due()
    assert [mail["To"] for mail in outbox()] == ["bob@example.com"]  # bob, for alice's message; alice nothing


def test_a_digest_due_in_quiet_hours_is_sent_when_they_end(world: World) -> None:
    quiet = {"start": "09:05", "end": "11:00", "timeZone": "Europe/Paris"}  # 08:05-10:00 UTC in winter
    world.api.call("PUT", PREFS, "alice", {"quietHours": quiet})
    world.bob_writes()
    world.consume()
    world.clock.advance(minutes=10)  # 09:10 UTC = 10:10 in Paris: quiet
    world.run_due()
    assert outbox() == []
    [(later, delay)] = world.queue.sent
    assert later["dueAt"] == "2026-12-02T10:00:00.000Z" and delay == 900  # the first hop towards 11:00 in Paris
    world.clock.advance(minutes=15)
    world.run_due()  # 09:25: not due yet, sent on (35 minutes remain: another hop of 900 s)
    [(_, delay)] = world.queue.sent
    assert delay == 900 and outbox() == []
    world.clock.now = datetime(2026, 12, 2, 9, 59, 30, tzinfo=UTC)
    world.run_due()
    [(_, delay)] = world.queue.sent
    assert delay == 30 and outbox() == []
    world.clock.now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    world.run_due()
    assert len(outbox()) == 1


def test_a_long_delay_is_a_chain_of_hops(world: World) -> None:
    world.api.call("PUT", PREFS, "alice", {"email": {"delayMinutes": 60}})
    world.bob_writes()
    world.consume()
    delays = []
    for _ in range(10):
        if not world.queue.sent:
            break
        delays.append(world.queue.sent[0][1])
        world.clock.advance(seconds=world.queue.sent[0][1])
        world.run_due()
    assert delays == [900, 900, 900, 900]
    assert len(outbox()) == 1


def test_edits_and_deletions_are_mailed_as_they_are_when_sent(world: World) -> None:
    first = world.bob_writes("my phone number is 555-0100")
    world.consume()
    world.api.call("PATCH", f"/api/messages/{first['id']}", "bob", {"content": "call me"})
    world.clock.advance(minutes=10)
    world.run_due()
    assert "call me" in parts(outbox()[0])["text/plain"]
    assert "555-0100" not in str(outbox()[0])

    second = world.api.send("bob", conversationId=first["conversationId"], content="a secret I regret").body["message"]
    world.consume()
    world.api.call("DELETE", f"/api/messages/{second['id']}", "bob")
    world.clock.advance(minutes=10)
    world.run_due()
    latest = outbox()[-1]
    assert "a secret I regret" not in str(latest)
    assert "(this message was deleted)" in parts(latest)["text/plain"]


def test_without_previews_the_mail_carries_no_text(world: World) -> None:
    world.api.call("PUT", PREFS, "alice", {"push": {"showPreview": False}})
    world.bob_writes("something private")
    world.consume()
    world.clock.advance(minutes=10)
    world.run_due()
    [mail] = outbox()
    assert "something private" not in str(mail)
    assert "Bob about Granny Square Blanket: 1 unread message" in parts(mail)["text/plain"]


def test_several_conversations_in_one_digest(world: World) -> None:
    world.bob_writes()
    world.api.send("carol", recipientId="alice", content="hello from carol")
    world.consume()
    world.clock.advance(minutes=10)
    world.run_due()
    [mail] = outbox()
    assert mail["Subject"] == "You have unread messages in 2 conversations"
    assert "Carol: 1 unread message" in parts(mail)["text/plain"]


def test_one_click_unsubscribe_from_the_mail(world: World) -> None:
    world.bob_writes()
    world.consume()
    world.clock.advance(minutes=10)
    world.run_due()
    [mail] = outbox()
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = mail["List-Unsubscribe"].strip("<>")
    assert link.startswith(get_settings().notify_api_url + "/api/notifications/unsubscribe?token=")
    assert {"text/plain", "text/html"} <= set(parts(mail))
    target = urlsplit(link)
    for _ in range(2):  # as a mail client posts it, twice
        response = world.api.client.http.post(
            f"{target.path}?{target.query}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body="List-Unsubscribe=One-Click",
        )
        assert response.status_code == 200
    assert world.api.call("GET", PREFS, "alice").body["email"]["enabled"] is False
    world.bob_writes("still there?")
    world.consume()
    assert world.queue.sent == []


def test_the_send_is_not_slowed_the_consumer_decides_later(world: World) -> None:
    world.bob_writes()
    assert world.queue.sent == []  # nothing happens in the request itself
    world.consume()
    assert len(world.queue.sent) == 1


# --- the real queue ------------------------------------------------------------------------------------


@pytest.fixture
def real_queue(marketplace: Api, monkeypatch: pytest.MonkeyPatch, install_services: Any) -> Iterator[Services]:
    monkeypatch.setenv("NOTIFY_EMAIL_DELAY_SECONDS", "1")
    get_settings.cache_clear()
    settings = get_settings()
    SqsQueue(settings, settings.digest_queue).ensure(digest_queues(settings))
    SesMailer(settings).ensure_identity(settings.notify_email_from)
    built = install_services()
    marketplace.service("PUT", "/api/internal/users/alice", {"name": "Alice", "email": "alice@example.com"})
    yield built
    get_settings.cache_clear()


def test_through_the_delayed_queue_and_the_apps_handler(marketplace: Api, real_queue: Services) -> None:
    stream = MessageStream().enable()
    settings = get_settings()
    sqs = boto3.client("sqs", region_name=settings.region)
    url = sqs.get_queue_url(QueueName=settings.digest_queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source = Source("on_email_digest", url, arn, 1)
    poller = QueuePoller(app, [source], client=sqs, stage="test", region=settings.region)

    marketplace.send("bob", recipientId="alice", patternId="p1", content="are you there?")
    consume(stream.read())
    assert poller.poll_once(source) == 0  # delayed: not visible yet
    time.sleep(1.5)
    handled = sum(poller.poll_once(source, wait_seconds=1) for _ in range(3))
    assert handled >= 1
    [mail] = outbox()
    assert "are you there?" in parts(mail)["text/plain"]
