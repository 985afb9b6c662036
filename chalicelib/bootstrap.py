"""The composition root: the adapters are built here, once per cold start, and handed to the use cases.

Entry points call ``services()``; tests build their own with fakes (``build(connections=RecordingConnections())``)
and ``install`` it, instead of patching anything. Nothing is built at import: the first request builds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters.connections import ConnectionsClient
from chalicelib.adapters.email import SesMailer
from chalicelib.adapters.files import S3Files
from chalicelib.adapters.queues import SqsQueue
from chalicelib.adapters.webhooks import HttpWebhooks
from chalicelib.adapters.webpush import WebPushSender
from chalicelib.auth.tokens import SigningKeys
from chalicelib.domain.clock import utc_now
from chalicelib.services.attachments import Attachments
from chalicelib.services.conversations import Conversations
from chalicelib.services.digests import Digests
from chalicelib.services.lifecycle import Lifecycle
from chalicelib.services.messaging import Messaging
from chalicelib.services.moderation import Moderation
from chalicelib.services.notify import Notifier
from chalicelib.services.organizing import Organizing
from chalicelib.services.ports import (
    Clock,
    Connections,
    Files,
    Mailer,
    PushSender,
    Queue,
    WebhookSender,
    WorkQueue,
)
from chalicelib.services.presenters import Presenter
from chalicelib.services.push import Push
from chalicelib.services.search import Search
from chalicelib.services.suspensions import ACTIVE, Suspensions
from chalicelib.services.sync import Sync
from chalicelib.services.webhooks import Webhooks
from chalicelib.settings import Settings, get_settings


@dataclass(frozen=True)
class Services:
    """Every use case, wired to one set of adapters."""

    connections: Connections
    files: Files
    notifier: Notifier
    presenter: Presenter
    conversations: Conversations
    messaging: Messaging
    lifecycle: Lifecycle
    attachments: Attachments
    sync: Sync
    search: Search
    organizing: Organizing
    moderation: Moderation
    suspensions: Suspensions  # the container's list of suspended users (the REST check)
    push: Push  # Web Push: subscriptions, the stream's decision, the push queue's sends
    push_queue: WorkQueue
    signing_keys: SigningKeys | None = None  # JWKS mode: the identity provider's keys (None: fetched by URL)
    failures: Queue | None = None  # the upload-failures queue (on_upload's dead-letter queue)
    webhooks: Webhooks | None = None  # events to the platform (issue 18)
    digests: Digests | None = None  # email digests (issue 18)


def build(
    *,
    settings: Settings | None = None,
    connections: Connections | None = None,
    files: Files | None = None,
    clock: Clock | None = None,
    signing_keys: SigningKeys | None = None,
    failures: Queue | None = None,
    webhook_queue: WorkQueue | None = None,
    webhook_sender: WebhookSender | None = None,
    digest_queue: WorkQueue | None = None,
    mailer: Mailer | None = None,
    push_sender: PushSender | None = None,
    push_queue: WorkQueue | None = None,
) -> Services:
    """The use cases over the given adapters (the real ones for what is not given)."""
    settings = settings or get_settings()
    connections = connections if connections is not None else ConnectionsClient(settings)
    files = files if files is not None else S3Files(settings)
    clock = clock or utc_now
    failures = failures if failures is not None else SqsQueue(settings, settings.upload_failures_queue)
    push_queue = push_queue if push_queue is not None else SqsQueue(settings, settings.push_queue)
    push_sender = push_sender if push_sender is not None else WebPushSender(settings)
    presenter = Presenter(files)
    webhooks = Webhooks(
        settings,
        webhook_queue if webhook_queue is not None else SqsQueue(settings, settings.webhook_queue),
        webhook_sender if webhook_sender is not None else HttpWebhooks(settings),
        clock,
    )
    digests = Digests(
        settings,
        digest_queue if digest_queue is not None else SqsQueue(settings, settings.digest_queue),
        mailer if mailer is not None else SesMailer(settings),
        clock,
    )
    notifier = Notifier(connections, clock)
    conversations = Conversations(presenter, clock)
    attachments = Attachments(files, presenter, notifier, clock, failures)
    lifecycle = Lifecycle(notifier, presenter, files, clock)
    return Services(
        connections=connections,
        files=files,
        notifier=notifier,
        presenter=presenter,
        conversations=conversations,
        messaging=Messaging(notifier, presenter, attachments, conversations, clock),
        lifecycle=lifecycle,
        attachments=attachments,
        sync=Sync(presenter),
        search=Search(presenter),
        organizing=Organizing(notifier, clock),
        moderation=Moderation(lifecycle, connections, ACTIVE, clock),
        suspensions=ACTIVE,
        push=Push(push_sender, push_queue, clock),
        push_queue=push_queue,
        signing_keys=signing_keys,
        failures=failures,
        webhooks=webhooks,
        digests=digests,
    )


_current: Services | None = None


def services() -> Services:
    """This container's use cases (built on first use)."""
    global _current
    if _current is None:
        _current = build()
    return _current


def install(replacement: Services | None) -> None:
    """Use ``replacement`` from now on (tests, the dev stack); None builds the real ones again on next use."""
    global _current
    _current = replacement
