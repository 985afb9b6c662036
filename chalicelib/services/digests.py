"""Email digests: one mail per user per delay window, listing what is still unread when it is sent.

The design (docs: README "Offline notifications"):

1. ``schedule(changes)`` runs in the messages table's stream consumer, after the send. For each new message's
   recipient, one conditional UpdateItem opens a window on the user's item (``digest_window`` = the message's id,
   ``digest_since`` = its time) unless one is open, the user has no email, or email is off. Only the update that
   opened the window puts a delayed message on the digest queue (``{"userId", "window", "dueAt"}``, due the user's
   delay later, or ``NOTIFY_EMAIL_DELAY_SECONDS``): a burst of messages opens one window and one queued message.
2. ``handle(message)`` is the digest queue's consumer. Before ``dueAt`` (SQS delays at most 900 s) it sends the
   message on again with the remaining delay (a chain of hops). When due it reads the user; a window that is not
   theirs any more (handled already, a duplicate delivery) is dropped. Opted out, no email: the window closes, no
   mail. In quiet hours: the message goes on, due when they end. Otherwise it claims the window (a conditional
   update moves it to ``digest_sending``: a message arriving from now on opens the next window), reads the unread
   conversations with activity since the window opened (one Query of the by_activity index, one BatchGetItem of
   the senders, patterns and each conversation's last message, as they are now), mails them when there are any,
   and clears ``digest_sending``. A failure before that raises: SQS delivers again, the claim is found, the digest
   is built and sent again (at-least-once; after five failures the dead letters).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.dynamodb import Membership, Message, UserProfile, parallel
from chalicelib.adapters.dynamodb.batch import Key, batch_get
from chalicelib.adapters.dynamodb.records import message_record, notification_preferences
from chalicelib.domain.clock import iso, parse_iso
from chalicelib.domain.digests import MAX_LISTED, Digest, DigestEntry, digest_mime, unsubscribe_link
from chalicelib.domain.ids import parse_message_id
from chalicelib.domain.notifications import Preferences, next_hop_seconds, unsubscribe_token
from chalicelib.services.directory import Directory
from chalicelib.services.message_stream import INSERT, MessageChange
from chalicelib.services.ports import Clock, Mailer, WorkQueue
from chalicelib.settings import Settings

logger = logging.getLogger(__name__)

QUERY_LIMIT = 100  # memberships a digest looks at (one Query page): the newest activity first
STALE_WINDOW_DAYS = 2  # longer than the longest delay (1 day) plus quiet hours
STALE_WINDOW_DAYS = 2  # longer than the longest delay (1 day) plus quiet hours


class InvalidDigestMessage(ValueError):
    """A message on the digest queue that is none of ours (raised: it ends in the dead letters)."""


@dataclass(frozen=True)
class DigestMessage:
    user_id: str
    window: str
    due_at: str

    def body(self) -> dict[str, Any]:
        return {"userId": self.user_id, "window": self.window, "dueAt": self.due_at}

    @classmethod
    def parse(cls, body: Any) -> DigestMessage:
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("userId", "window", "dueAt")):
            raise InvalidDigestMessage("not a digest message")
        try:
            parse_iso(body["dueAt"])
        except ValueError:
            raise InvalidDigestMessage("dueAt is not a timestamp") from None
        return cls(body["userId"], body["window"], body["dueAt"])


def _condition_failed(exc: UpdateError) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


class Digests:
    def __init__(self, settings: Settings, queue: WorkQueue, mailer: Mailer, clock: Clock) -> None:
        self._settings = settings
        self._queue = queue
        self._mailer = mailer
        self._clock = clock

    # --- 1. the stream consumer's part -------------------------------------------------------------------

    def schedule(self, changes: Sequence[MessageChange]) -> list[str]:
        """Open a window for each new message's recipient who has none; the sequence numbers of the changes that
        failed (retried by the stream: opening is idempotent, a window this very message opened is queued again)."""
        first_for: dict[str, MessageChange] = {}
        for change in changes:
            if change.event_name == INSERT and change.new is not None:
                first_for.setdefault(change.new.recipient_id, change)

        def schedule_one(entry: tuple[str, MessageChange]) -> str | None:
            recipient, change = entry
            try:
                self._schedule(recipient, change.message.id, change.message.sent_at)
            except Exception:
                logger.exception("opening a digest window failed", extra={"user_id": recipient})
                return change.sequence_number
            return None

        # Recipients are independent items: their conditional updates go out together.
        return [sequence for sequence in parallel.each(schedule_one, first_for.items()) if sequence is not None]

    def _schedule(self, recipient: str, message_id: str, sent_at: str) -> None:
        preferences = self._open_window(recipient, message_id, sent_at)
        if preferences is None:
            return
        delay = preferences.digest_delay_seconds(self._settings.notify_email_delay_seconds)
        due = parse_iso(sent_at) + timedelta(seconds=delay)
        message = DigestMessage(recipient, message_id, iso(due))
        self._queue.send(message.body(), next_hop_seconds(self._clock(), due))

    def _open_window(self, user_id: str, window: str, since: str) -> Preferences | None:
        """The user's preferences when this message opened their window (or had opened it: a retried record queues
        its window again); None when another window is open or they get no mail. A window older than any delay
        (its queued message was lost) no longer blocks: the next message opens a new one."""
        profile = UserProfile(user_id)
        stale = iso(self._clock() - timedelta(days=STALE_WINDOW_DAYS))
        email_on = UserProfile.notify_email_enabled.does_not_exist() | (UserProfile.notify_email_enabled == True)  # noqa: E712
        try:
            profile.update(
                actions=[UserProfile.digest_window.set(window), UserProfile.digest_since.set(since)],
                condition=(
                    (
                        UserProfile.digest_window.does_not_exist()
                        | (UserProfile.digest_window == window)
                        | (UserProfile.digest_since < stale)
                    )
                    & UserProfile.email.exists()
                    & email_on
                ),
            )
        except UpdateError as exc:
            if _condition_failed(exc):
                return None
            raise
        return notification_preferences(profile)

    # --- 2. the digest queue's consumer ---------------------------------------------------------------------

    def handle(self, body: Any) -> str:
        """One queued digest message; what happened (for logs and tests)."""
        message = DigestMessage.parse(body)
        now = self._clock()
        due = parse_iso(message.due_at)
        if now < due:
            self._queue.send(message.body(), next_hop_seconds(now, due))
            return "waiting"
        try:
            profile = UserProfile.get(message.user_id, consistent_read=True)
        except UserProfile.DoesNotExist:
            return "no user"
        preferences = notification_preferences(profile)
        # A suspended user is mailed nothing, as an opted-out one (the window closes; a later message opens another).
        opted_out = not preferences.email_enabled or not profile.email or _suspended(profile, iso(now))
        if profile.digest_window == message.window:
            if opted_out:
                self._close(message)
                return "opted out"
            quiet_until = preferences.quiet_hours.quiet_until(now) if preferences.quiet_hours else None
            if quiet_until is not None:
                later = DigestMessage(message.user_id, message.window, iso(quiet_until))
                self._queue.send(later.body(), next_hop_seconds(now, quiet_until))
                return "quiet hours"
            since = profile.digest_since or message.due_at
            if not self._claim(message, since):
                return "taken"
        elif profile.digest_sending == message.window:
            since = profile.digest_sending_since or message.due_at  # a retry after a failed send
            if opted_out:
                self._done(message, None)
                return "opted out"
        else:
            return "done already"
        digest = self._unread(message.user_id, since, preferences, iso(now))
        sent = None
        if digest.entries and profile.email:
            token = unsubscribe_token(message.user_id, self._settings.cursor_secret)
            mime = digest_mime(
                sender=self._settings.notify_email_from,
                recipient=profile.email,
                digest=digest,
                app_url=self._settings.notify_app_url,
                unsubscribe_url=unsubscribe_link(self._settings.notify_api_url, token),
                now=now,
            )
            self._mailer.send_raw(self._settings.notify_email_from, profile.email, mime)
            sent = iso(now)
            logger.info("digest sent", extra={"user_id": message.user_id, "conversations": len(digest.entries)})
        self._done(message, sent)
        return "sent" if sent else "nothing unread"

    def _close(self, message: DigestMessage) -> None:
        try:
            UserProfile(message.user_id).update(
                actions=[UserProfile.digest_window.remove(), UserProfile.digest_since.remove()],
                condition=UserProfile.digest_window == message.window,
            )
        except UpdateError as exc:
            if not _condition_failed(exc):
                raise

    def _claim(self, message: DigestMessage, since: str) -> bool:
        try:
            UserProfile(message.user_id).update(
                actions=[
                    UserProfile.digest_window.remove(),
                    UserProfile.digest_since.remove(),
                    UserProfile.digest_sending.set(message.window),
                    UserProfile.digest_sending_since.set(since),
                ],
                condition=UserProfile.digest_window == message.window,
            )
        except UpdateError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def _done(self, message: DigestMessage, sent_at: str | None) -> None:
        actions: list[Any] = [UserProfile.digest_sending.remove(), UserProfile.digest_sending_since.remove()]
        if sent_at:
            actions.append(UserProfile.digest_sent_at.set(sent_at))
        try:
            UserProfile(message.user_id).update(actions=actions, condition=UserProfile.digest_sending == message.window)
        except UpdateError as exc:
            if not _condition_failed(exc):
                raise

    def _unread(self, user_id: str, since: str, preferences: Preferences, now: str) -> Digest:
        """The user's inbox conversations with activity since the window opened that are unread now, as they are now:
        the inbox index leaves archived conversations and message requests out; muted ones are skipped here."""
        memberships = [
            m
            for m in Membership.by_activity.query(
                user_id,
                Membership.activity_at >= since,
                scan_index_forward=False,
                limit=QUERY_LIMIT,
                page_size=QUERY_LIMIT,
            )
            if int(m.unread_count or 0) > 0 and m.is_active is not False and not _muted(m, now)
        ]
        listed, more = memberships[:MAX_LISTED], max(len(memberships) - MAX_LISTED, 0)
        keys: list[Key] = Directory.keys_for(
            {m.other_user_id for m in listed}, {m.pattern_id for m in listed if m.pattern_id}
        )
        last_seqs: dict[str, int] = {}
        if preferences.push_show_preview:
            for m in listed:
                parsed = parse_message_id(str((m.last_message or {}).get("id") or ""))
                if parsed is not None:
                    last_seqs[m.conversation_id] = parsed[1]
                    keys.append((Message, parsed[0], parsed[1]))
        found = batch_get(keys)
        directory = Directory.from_batch(found)
        entries = []
        for m in listed:
            preview: str | None = None
            state = ""
            if m.conversation_id in last_seqs:
                item = found.item(Message, m.conversation_id, last_seqs[m.conversation_id])
                record = message_record(item) if item is not None else None
                if record is not None and record.sender_id != user_id:
                    preview = record.content
                    state = "deleted" if record.is_deleted else ("attachment" if record.attachment_kind else "")
            pattern = directory.pattern(m.pattern_id)
            entries.append(
                DigestEntry(
                    conversation_id=m.conversation_id,
                    sender_name=directory.participant(m.other_user_id).name,
                    pattern_title=pattern.title if pattern else None,
                    unread=int(m.unread_count or 0),
                    preview=preview if preferences.push_show_preview else None,
                    preview_state=state,
                )
            )
        return Digest(tuple(entries), more)


def _muted(membership: Membership, now: str) -> bool:
    return membership.muted_until is not None and membership.muted_until > now


def _suspended(profile: UserProfile, now: str) -> bool:
    return profile.suspended_until is not None and profile.suspended_until > now
