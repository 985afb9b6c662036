"""Web Push for users who are not watching a conversation: their browsers' subscriptions, the decision to push a
new message (the messages-table stream consumer), and the push itself (the push queue's consumer).

* ``subscribe`` / ``unsubscribe``: one subscription per endpoint and user (its id is the endpoint's digest), at
  most ``PUSH_MAX_SUBSCRIPTIONS``: the subscription and the user's count are written in one transaction whose
  condition is the cap, so it holds under concurrent requests. One round trip for a new one, two for a known one.
* ``on_changes``: the consumer of the messages table's stream. A new message is pushed when its recipient has no
  connection in the conversation's room, has not muted it, has push enabled and holds a subscription: one
  BatchGetItem per stream batch (the conversations with their rooms, the senders' and recipients' profiles, the
  recipients' memberships and subscription counts), then SendMessageBatch. The send itself is not slowed: this runs
  on the stream.
* ``deliver``: one push job. Query the subscriptions and the ``sent#`` markers of the message (two round trips),
  post to each subscription not yet sent to, then a marker for each delivered one: a redelivered job sends nothing
  twice. 404/410 forgets the subscription; 429/5xx (or no answer) raise ``RetryLater`` with the backoff, which the
  entry point applies to the message's visibility; after the queue's ``maxReceiveCount`` it is a dead letter.

Notification preferences (``push.enabled``, ``push.showPreview``) and muted conversations are read by
``push_preferences`` and ``conversation_muted``; see there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import Conversation, Membership, PushSubscription, UserProfile
from chalicelib.adapters.dynamodb.batch import Key, batch_get
from chalicelib.adapters.dynamodb.push import COUNT_KEY, SENT_PREFIX
from chalicelib.adapters.dynamodb.records import notification_preferences
from chalicelib.domain import push
from chalicelib.domain.clock import epoch_seconds, iso
from chalicelib.domain.connections import expired, parse_room
from chalicelib.domain.messages import MessageRecord
from chalicelib.domain.principal import Principal
from chalicelib.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from chalicelib.schemas.requests import PushSubscriptionRequest
from chalicelib.schemas.responses import PushSubscriptionOut, VapidPublicKeyOut
from chalicelib.services.directory import Directory
from chalicelib.services.message_stream import MessageChange
from chalicelib.services.ports import Clock, PushSender, WorkQueue
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)

URGENCY = "high"  # RFC 8030: a person wrote; wake the device
SENT_MARKER_DAYS = 2  # longer than a job can live on its queue (a day)
SQS_BATCH = 10  # SendMessageBatch's limit


@dataclass(frozen=True)
class PushPreferences:
    """``push`` of ``GET /api/me/notification-preferences`` (issue 18): both default to true."""

    enabled: bool = True
    show_preview: bool = True


def push_preferences(user_id: str, profile: UserProfile | None) -> PushPreferences:
    """The user's push preferences, from their profile item (read in the decision's BatchGetItem anyway)."""
    preferences = notification_preferences(profile)
    return PushPreferences(enabled=preferences.push_enabled, show_preview=preferences.push_show_preview)


def conversation_muted(user_id: str, conversation_id: str, membership: Membership | None, at: str) -> bool:
    """Whether the user had muted the conversation at ``at`` (the member's settings, on the membership the decision's
    BatchGetItem reads)."""
    return membership is not None and membership.muted_until is not None and membership.muted_until > at


class RetryLater(Exception):
    """A push service refused for now: try the job again in ``seconds``."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"retry in {seconds} s")
        self.seconds = seconds


class UnknownJob(ValueError):
    """A message on the push queue that is not a push job."""


def _cancelled(exc: TransactWriteError) -> list[bool]:
    """Per action of a cancelled transaction: whether its condition failed."""
    return [reason is not None and reason.code == "ConditionalCheckFailed" for reason in exc.cancellation_reasons]


class Push:
    """Subscriptions, the decision to push, and pushing (module docstring)."""

    def __init__(self, sender: PushSender, queue: WorkQueue, clock: Clock) -> None:
        self.sender = sender
        self.queue = queue
        self.clock = clock

    # --- the REST side ----------------------------------------------------------------------------------------

    def public_key(self) -> VapidPublicKeyOut:
        return VapidPublicKeyOut(public_key=self.sender.public_key())

    def subscribe(self, principal: Principal, request: PushSubscriptionRequest) -> tuple[PushSubscriptionOut, int]:
        """201 for a new subscription, 200 (same id, keys refreshed) for an endpoint the caller already has."""
        settings = get_settings()
        problem = push.endpoint_problem(request.endpoint, settings.push_allowed_hosts, settings.push_insecure_hosts)
        if problem is not None:
            raise InvalidRequest(
                problem,
                code=ErrorCode.PUSH_ENDPOINT_NOT_ALLOWED,
                details=[{"field": "endpoint", "message": problem}],
            )
        user_id = principal.user_id
        subscription_id = push.subscription_id_for(request.endpoint)
        now = iso(self.clock())
        item = PushSubscription(
            user_id,
            subscription_id,
            endpoint=request.endpoint,
            p256dh=request.keys.p256dh,
            auth=request.keys.auth,
            created_at=now,
            updated_at=now,
        )
        count = PushSubscription(user_id, COUNT_KEY)
        try:
            with TransactWrite(connection=PushSubscription._get_connection().connection) as transaction:
                transaction.save(item, condition=PushSubscription.key.does_not_exist())
                transaction.update(
                    count,
                    actions=[PushSubscription.subscriptions.add(1)],
                    condition=PushSubscription.subscriptions.does_not_exist()
                    | (PushSubscription.subscriptions < settings.push_max_subscriptions),
                )
        except TransactWriteError as exc:
            failed = _cancelled(exc)
            if failed[:1] == [True]:  # known endpoint: the browser may have new keys for it
                self._refresh(item, now)
                return PushSubscriptionOut(id=subscription_id), 200
            if failed[1:2] == [True]:
                raise Conflict(
                    f"at most {settings.push_max_subscriptions} push subscriptions per user: remove one first",
                    code=ErrorCode.TOO_MANY_PUSH_SUBSCRIPTIONS,
                ) from exc
            raise
        return PushSubscriptionOut(id=subscription_id), 201

    def _refresh(self, item: PushSubscription, now: str) -> None:
        try:
            item.update(
                actions=[
                    PushSubscription.p256dh.set(item.p256dh),
                    PushSubscription.auth.set(item.auth),
                    PushSubscription.updated_at.set(now),
                ],
                condition=PushSubscription.key.exists(),
            )
        except UpdateError as exc:  # deleted in between: the client may simply subscribe again
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict("the subscription was removed meanwhile: retry") from exc
            raise

    def unsubscribe(self, principal: Principal, subscription_id: str) -> PushSubscriptionOut:
        """The caller's subscription only: anyone else's, or a missing one, is the same 404."""
        if not push.is_subscription_id(subscription_id) or not self._forget(principal.user_id, subscription_id):
            raise NotFound("push subscription not found")
        return PushSubscriptionOut(id=subscription_id)

    def _forget(self, user_id: str, subscription_id: str) -> bool:
        """Delete a subscription and count it out, together; False when it was not there."""
        try:
            with TransactWrite(connection=PushSubscription._get_connection().connection) as transaction:
                transaction.delete(PushSubscription(user_id, subscription_id), condition=PushSubscription.key.exists())
                transaction.update(
                    PushSubscription(user_id, COUNT_KEY), actions=[PushSubscription.subscriptions.add(-1)]
                )
        except TransactWriteError as exc:
            if _cancelled(exc)[:1] == [True]:
                return False
            raise
        return True

    # --- the stream consumer: decide and enqueue ------------------------------------------------------------

    def on_changes(self, changes: Sequence[MessageChange]) -> list[str]:
        """The stream consumer (``entrypoints.message_stream.CONSUMERS``): the decoded changes of one batch of the
        messages table's stream, in stream order; the sequence numbers it could not handle.

        Only new messages count (an INSERT): edits, deletions and reactions are MODIFY. One BatchGetItem for the
        whole batch (conversations with their rooms, senders, the recipients' subscription counts), then the jobs
        in SendMessageBatch calls of ten. Enqueuing twice (a redelivered batch) is harmless: ``deliver`` keeps
        markers."""
        new = [
            (change.sequence_number, change.new)
            for change in changes
            if change.event_name == "INSERT" and change.old is None and change.new is not None
        ]
        jobs = self.jobs_for([message for _, message in new])
        pending = [(sequence, jobs[message.id]) for sequence, message in new if message.id in jobs]
        failed: list[str] = []
        for start in range(0, len(pending), SQS_BATCH):
            chunk = pending[start : start + SQS_BATCH]
            try:
                self.queue.send_many([job for _, job in chunk])
            except Exception:  # the queue failed: these records are retried by the stream
                logger.exception("enqueuing push jobs failed", extra={"jobs": len(chunk)})
                failed += [sequence for sequence, _ in chunk]
        return failed

    def jobs_for(self, messages: Sequence[MessageRecord]) -> dict[str, dict[str, Any]]:
        """message id -> push job, for the new messages whose recipients should be pushed (``domain.push``)."""
        now = self.clock()
        oldest = now.timestamp() - get_settings().push_ttl_seconds
        fresh = [m for m in messages if not m.is_deleted and epoch_seconds(m.sent_at) >= oldest]
        if not fresh:  # a stream replayed long after the fact: the notifications would be stale
            return {}
        keys: list[Key] = []
        for message in fresh:
            keys += [
                (Conversation, message.conversation_id, None),
                (UserProfile, message.sender_id, None),
                (UserProfile, message.recipient_id, None),  # their notification preferences
                (PushSubscription, message.recipient_id, COUNT_KEY),
                (Membership, message.recipient_id, message.conversation_id),  # their settings (muted)
            ]
        found = batch_get(keys)
        directory = Directory.from_batch({key: item for key, item in found.items() if key[0] is UserProfile})
        jobs: dict[str, dict[str, Any]] = {}
        for message in fresh:
            recipient, conversation_id = message.recipient_id, message.conversation_id
            conversation = found.item(Conversation, conversation_id)
            count = found.item(PushSubscription, recipient, COUNT_KEY)
            in_room = conversation is not None and any(
                member.user_id == recipient and not expired(member.token_expires_at, now.timestamp())
                for member in parse_room(conversation.room).values()
            )
            preferences = push_preferences(recipient, found.item(UserProfile, recipient))
            if not push.should_push(
                recipient_in_room=in_room,
                muted=conversation_muted(
                    recipient, conversation_id, found.item(Membership, recipient, conversation_id), message.sent_at
                ),
                enabled=preferences.enabled,
                subscribed=count is not None and int(count.subscriptions or 0) > 0,
            ):
                continue
            notification = push.notification_for(
                conversation_id=conversation_id,
                message_id=message.id,
                sender_name=directory.participant(message.sender_id).name or message.sender_id,
                content=message.content,
                attachment_kind=message.attachment_kind,
                show_preview=preferences.show_preview,
            )
            jobs[message.id] = {
                "userId": recipient,
                "conversationId": conversation_id,
                "messageId": message.id,
                "title": notification.title,
                "body": notification.body,
                "sentAt": message.sent_at,
            }
        return jobs

    # --- the queue consumer: push ---------------------------------------------------------------------------

    def deliver(self, job: dict[str, Any], receive_count: int = 1) -> dict[str, int]:
        """Push one job to every subscription of its user not yet pushed to; how many were sent, gone, failed.

        Raises RetryLater when a push service asked to come back (the others' markers are written first)."""
        try:
            user_id, conversation_id, message_id = job["userId"], job["conversationId"], job["messageId"]
            notification = push.Notification(conversation_id, message_id, str(job["title"]), str(job["body"]))
        except (KeyError, TypeError) as exc:
            raise UnknownJob("not a push job") from exc
        settings = get_settings()
        subscriptions = list(
            PushSubscription.query(
                user_id, PushSubscription.key.startswith(push.SUBSCRIPTION_PREFIX), consistent_read=True
            )
        )
        outcome = {"sent": 0, "gone": 0, "failed": 0, "skipped": 0}
        if not subscriptions:
            return outcome
        markers = f"{SENT_PREFIX}{message_id}"
        already = {item.key for item in PushSubscription.query(markers, consistent_read=True)}
        retry: int | None = None
        payload = notification.payload()
        for subscription in subscriptions:
            if subscription.key in already:
                outcome["skipped"] += 1
                continue
            target = push.PushTarget(subscription.endpoint or "", subscription.p256dh or "", subscription.auth or "")
            result = self.sender.send(
                target,
                payload,
                ttl=settings.push_ttl_seconds,
                urgency=URGENCY,
                topic=push.topic_for(conversation_id),
            )
            if result.delivered:
                expires = self.clock() + timedelta(days=SENT_MARKER_DAYS)
                PushSubscription(markers, subscription.key, expires_at=expires).save()
                outcome["sent"] += 1
            elif result.gone:
                self._forget(user_id, subscription.key)
                outcome["gone"] += 1
            elif result.transient:
                delay = push.retry_delay(receive_count, result.retry_after)
                retry = delay if retry is None else max(retry, delay)
                outcome["failed"] += 1
            else:  # 400, 401, 403, 413: a request the service will never take; retrying cannot help
                logger.warning("push refused", extra={"status": result.status, "subscription_id": subscription.key})
                outcome["failed"] += 1
        logger.info("push job", extra={"message_id": message_id, **outcome})
        if retry is not None:
            raise RetryLater(retry)
        return outcome
