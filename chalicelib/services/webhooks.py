"""Webhooks to the platform: what the messages table's stream consumer enqueues, and the delivery with its retries.

``enqueue(changes)`` (from the stream consumer, after the send: the send gets no slower) turns each change into its
events (``domain.webhooks.events_for``) and puts them on the webhook queue in batches of ten; a conversation's first
message also reads the conversation (one BatchGetItem per stream batch, only when one is new) for its pattern.

``deliver(event, attempt, receipt)`` (the queue's consumer) signs the event as Standard Webhooks and POSTs it to
``WEBHOOK_URL``. A 2xx is done. Anything else (a status, a timeout, a refused connection) makes the message visible
again after the schedule's next wait (``WEBHOOK_RETRY_SECONDS``, ChangeMessageVisibility) and raises, so the event
source leaves it on the queue; after the last attempt the queue's redrive moves it to the dead-letter queue, from
which ``make webhooks-replay`` sends it again with the same id and body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.domain.webhooks import WebhookEvent, events_for, retry_delay, signed_headers
from chalicelib.services.ports import Clock, WebhookSender, WorkQueue
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.adapters.dynamodb.batch import Key
    from chalicelib.services.message_stream import MessageChange

logger = logging.getLogger(__name__)


class DeliveryFailed(RuntimeError):
    """The platform did not take the event (it is retried later: the queue keeps it)."""


class PoisonEvent(ValueError):
    """A queued message that is no webhook event: retried like any failure, so it ends in the dead-letter queue."""


class Webhooks:
    def __init__(self, settings: Settings, queue: WorkQueue, sender: WebhookSender, clock: Clock) -> None:
        self._settings = settings
        self._queue = queue
        self._sender = sender
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self._settings.webhook_url is not None

    def events(self, changes: Sequence[MessageChange]) -> list[WebhookEvent]:
        """The events of a stream batch (in stream order)."""
        # Imported here: the webhook queue's function only delivers, and its init (Lambda's billed cold start) need
        # not load every table model and the stream's record mapping, which only the stream consumer uses.
        from chalicelib.adapters.dynamodb import Conversation
        from chalicelib.adapters.dynamodb.batch import batch_get
        from chalicelib.services.message_stream import INSERT

        first = sorted({c.new.conversation_id for c in changes if c.event_name == INSERT and c.new and c.new.seq == 1})
        conversations: dict[str, Mapping[str, Any]] = {}
        if first:
            keys: list[Key] = [(Conversation, conversation_id, None) for conversation_id in first]
            for (_, conversation_id, _), item in batch_get(keys).items():
                if isinstance(item, Conversation):
                    conversations[conversation_id] = {"patternId": item.pattern_id, "createdAt": item.created_at}
        return [
            event
            for change in changes
            for event in events_for(
                change.sequence_number,
                change.event_name,
                change.new,
                change.old,
                conversations.get(change.message.conversation_id),
            )
        ]

    def enqueue(self, changes: Sequence[MessageChange]) -> int:
        """Queue the events of a stream batch; how many. Nothing when no ``WEBHOOK_URL`` is configured. A failure
        raises (the batch comes back: the same events, with the same ids, are queued again)."""
        if not self.enabled:
            return 0
        events = self.events(changes)
        self._queue.send_many([event_message(event) for event in events])
        return len(events)

    def deliver(self, message: Any, attempt: int, receipt_handle: str | None) -> None:
        """One attempt at one queued event (``attempt``: SQS's ApproximateReceiveCount, 1 for the first)."""
        url = self._settings.webhook_url
        try:
            event_id, body = _parse(message)
        except PoisonEvent:
            self._later(attempt, receipt_handle)
            raise
        if url is None:
            raise DeliveryFailed("WEBHOOK_URL is not configured: the event stays queued")
        timestamp = int(self._clock().timestamp())
        try:
            status = self._sender.post(url, body, signed_headers(self._sender.secrets(), event_id, timestamp, body))
        except (OSError, ValueError) as exc:  # refused, reset, timed out; a URL that is none
            status, reason = 0, f"{type(exc).__name__}: {exc}"[:200]
        else:
            reason = f"HTTP {status}"
        if 200 <= status < 300:
            logger.info("webhook delivered", extra={"webhook_id": event_id, "attempt": attempt})
            return
        wait = self._later(attempt, receipt_handle)
        logger.warning(
            "webhook not delivered",
            extra={"webhook_id": event_id, "attempt": attempt, "reason": reason, "retry_in": wait},
        )
        raise DeliveryFailed(f"{event_id}: {reason} (attempt {attempt})")

    def _later(self, attempt: int, receipt_handle: str | None) -> int:
        """Hide the message until its next attempt; once the schedule is spent, show it at once: its next receive
        exceeds the queue's maxReceiveCount, and SQS moves it to the dead letters."""
        wait = retry_delay(attempt, self._settings.webhook_retry_seconds)
        wait = 0 if wait is None else wait
        if receipt_handle:
            self._queue.retry_later(receipt_handle, wait)
        return wait


def event_message(event: WebhookEvent) -> dict[str, Any]:
    """The queued form: the id and the exact body, so every attempt and a replay POST the same bytes."""
    return {"webhookId": event.id, "type": event.type, "body": event.body()}


def _parse(message: Any) -> tuple[str, str]:
    if (
        not isinstance(message, dict)
        or not isinstance(message.get("webhookId"), str)
        or not isinstance(message.get("body"), str)
        or not message["webhookId"]
    ):
        raise PoisonEvent("not a queued webhook event")
    return message["webhookId"], message["body"]
