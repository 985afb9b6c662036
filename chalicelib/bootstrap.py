"""The composition root: the adapters are built here, once per container, and handed to the use cases.

Entry points call ``services()``; tests build their own with fakes (``build(connections=RecordingConnections())``)
and ``install`` it, instead of patching anything. Nothing is built at import, and each use case (with the adapters it
takes) is built on its first use, importing its modules then: a function imports and builds only what its handler
uses (the webhook consumer never loads the REST wire models, the socket functions never load Pillow's use case),
which keeps every function's cold start to its own code (``bench/cold_start.py``).
"""

from __future__ import annotations

import importlib
from functools import cached_property
from typing import TYPE_CHECKING

from chalicelib.settings import Settings, get_settings

if TYPE_CHECKING:
    from chalicelib.auth.tokens import SigningKeys
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
    from chalicelib.services.suspensions import Suspensions
    from chalicelib.services.sync import Sync
    from chalicelib.services.webhooks import Webhooks


class Services:
    """Every use case, wired to one set of adapters: the given ones, the real ones (built on first use) for the rest.

    Each attribute is built once, on first access, then kept (``cached_property``): the same object for the life of
    the container, as if built up front.
    """

    def __init__(
        self,
        settings: Settings,
        *,
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
    ) -> None:
        self.settings = settings
        # JWKS mode: the identity provider's keys (None: fetched by URL).
        self.signing_keys = signing_keys
        self._connections = connections
        self._files = files
        self._failures = failures
        self._webhook_queue = webhook_queue
        self._webhook_sender = webhook_sender
        self._digest_queue = digest_queue
        self._mailer = mailer
        self._push_sender = push_sender
        self._push_queue = push_queue
        self._clock = clock

    # The adapters: the given ones, else the real ones.

    @cached_property
    def clock(self) -> Clock:
        if self._clock is not None:
            return self._clock
        from chalicelib.domain.clock import utc_now

        return utc_now

    @cached_property
    def connections(self) -> Connections:
        if self._connections is not None:
            return self._connections
        from chalicelib.adapters.connections import ConnectionsClient

        return ConnectionsClient(self.settings)

    @cached_property
    def files(self) -> Files:
        if self._files is not None:
            return self._files
        from chalicelib.adapters.files import S3Files

        return S3Files(self.settings)

    def _sqs(self, name: str) -> WorkQueue:
        from chalicelib.adapters.queues import SqsQueue

        return SqsQueue(self.settings, name)

    @cached_property
    def failures(self) -> Queue | None:
        """The upload-failures queue (on_upload's dead-letter queue)."""
        return self._failures if self._failures is not None else self._sqs(self.settings.upload_failures_queue)

    @cached_property
    def push_queue(self) -> WorkQueue:
        return self._push_queue if self._push_queue is not None else self._sqs(self.settings.push_queue)

    # The use cases.

    @cached_property
    def presenter(self) -> Presenter:
        from chalicelib.services.presenters import Presenter

        return Presenter(self.files)

    @cached_property
    def notifier(self) -> Notifier:
        from chalicelib.services.notify import Notifier

        return Notifier(self.connections, self.clock)

    @cached_property
    def conversations(self) -> Conversations:
        from chalicelib.services.conversations import Conversations

        return Conversations(self.presenter, self.clock)

    @cached_property
    def attachments(self) -> Attachments:
        from chalicelib.services.attachments import Attachments

        return Attachments(self.files, self.presenter, self.notifier, self.clock, self.failures)

    @cached_property
    def lifecycle(self) -> Lifecycle:
        from chalicelib.services.lifecycle import Lifecycle

        return Lifecycle(self.notifier, self.presenter, self.files, self.clock)

    @cached_property
    def messaging(self) -> Messaging:
        from chalicelib.services.messaging import Messaging

        return Messaging(self.notifier, self.presenter, self.attachments, self.conversations, self.clock)

    @cached_property
    def sync(self) -> Sync:
        from chalicelib.services.sync import Sync

        return Sync(self.presenter)

    @cached_property
    def search(self) -> Search:
        from chalicelib.services.search import Search

        return Search(self.presenter)

    @cached_property
    def organizing(self) -> Organizing:
        from chalicelib.services.organizing import Organizing

        return Organizing(self.notifier, self.clock)

    @cached_property
    def suspensions(self) -> Suspensions:
        """The container's list of suspended users (the REST check)."""
        from chalicelib.services.suspensions import ACTIVE

        return ACTIVE

    @cached_property
    def moderation(self) -> Moderation:
        from chalicelib.services.moderation import Moderation

        return Moderation(self.lifecycle, self.connections, self.suspensions, self.clock)

    @cached_property
    def push(self) -> Push:
        """Web Push: subscriptions, the stream's decision, the push queue's sends."""
        from chalicelib.services.push import Push

        sender = self._push_sender
        if sender is None:
            from chalicelib.adapters.webpush import WebPushSender

            sender = WebPushSender(self.settings)
        return Push(sender, self.push_queue, self.clock)

    @cached_property
    def webhooks(self) -> Webhooks | None:
        """Events to the platform (issue 18)."""
        from chalicelib.services.webhooks import Webhooks

        sender = self._webhook_sender
        if sender is None:
            from chalicelib.adapters.webhooks import HttpWebhooks

            sender = HttpWebhooks(self.settings)
        queue = self._webhook_queue if self._webhook_queue is not None else self._sqs(self.settings.webhook_queue)
        return Webhooks(self.settings, queue, sender, self.clock)

    @cached_property
    def digests(self) -> Digests | None:
        """Email digests (issue 18)."""
        from chalicelib.services.digests import Digests

        mailer = self._mailer
        if mailer is None:
            from chalicelib.adapters.email import SesMailer

            mailer = SesMailer(self.settings)
        queue = self._digest_queue if self._digest_queue is not None else self._sqs(self.settings.digest_queue)
        return Digests(self.settings, queue, mailer, self.clock)


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
    """The use cases over the given adapters (the real ones for what is not given, each built on first use)."""
    return Services(
        settings or get_settings(),
        connections=connections,
        files=files,
        clock=clock,
        signing_keys=signing_keys,
        failures=failures,
        webhook_queue=webhook_queue,
        webhook_sender=webhook_sender,
        digest_queue=digest_queue,
        mailer=mailer,
        push_sender=push_sender,
        push_queue=push_queue,
    )


# What each attribute of ``Services`` is built from: its own module(s), then the attributes it takes.
_BUILT_FROM: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "clock": (("chalicelib.domain.clock",), ()),
    "connections": (("chalicelib.adapters.connections",), ()),
    "files": (("chalicelib.adapters.files",), ()),
    "failures": (("chalicelib.adapters.queues",), ()),
    "push_queue": (("chalicelib.adapters.queues",), ()),
    "presenter": (("chalicelib.services.presenters",), ("files",)),
    "notifier": (("chalicelib.services.notify",), ("connections", "clock")),
    "conversations": (("chalicelib.services.conversations",), ("presenter", "clock")),
    "attachments": (("chalicelib.services.attachments",), ("files", "presenter", "notifier", "clock", "failures")),
    "lifecycle": (("chalicelib.services.lifecycle",), ("notifier", "presenter", "files", "clock")),
    "messaging": (
        ("chalicelib.services.messaging",),
        ("notifier", "presenter", "attachments", "conversations", "clock"),
    ),
    "sync": (("chalicelib.services.sync",), ("presenter",)),
    "search": (("chalicelib.services.search",), ("presenter",)),
    "organizing": (("chalicelib.services.organizing",), ("notifier", "clock")),
    "suspensions": (("chalicelib.services.suspensions",), ()),
    "moderation": (("chalicelib.services.moderation",), ("lifecycle", "connections", "suspensions", "clock")),
    "push": (("chalicelib.services.push", "chalicelib.adapters.webpush"), ("push_queue", "clock")),
    "webhooks": (
        ("chalicelib.services.webhooks", "chalicelib.adapters.webhooks", "chalicelib.adapters.queues"),
        ("clock",),
    ),
    "digests": (("chalicelib.services.digests", "chalicelib.adapters.email", "chalicelib.adapters.queues"), ("clock",)),
}


def preload(*names: str) -> None:
    """Import what the named use cases (attributes of ``Services``) are built from, building nothing.

    An entry module names the use cases its handler calls, so its function's init (Lambda's init phase) loads their
    code, as an eager composition root would, and no other function's: the build itself waits for the first use.
    """
    seen: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        modules, parts = _BUILT_FROM[name]
        for module in modules:
            importlib.import_module(module)
        pending.extend(parts)


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
