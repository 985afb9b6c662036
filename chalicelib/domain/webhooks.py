"""Webhooks to the platform: the events a change of a message makes, Standard Webhooks signatures, the retry schedule.

Pure. An event is ``{"id", "type", "createdAt", "data"}``; its id is derived from the stream record it came from (the
record's sequence number and the event's type), so a redelivered record, a retried delivery and a replay from the
dead-letter queue all carry the same id: the platform deduplicates on ``webhook-id``.

Signatures follow Standard Webhooks (standardwebhooks.com): ``webhook-signature: v1,<base64 HMAC-SHA256(secret,
id + "." + timestamp + "." + body)>``. A secret written ``whsec_<base64>`` (the Standard Webhooks format) is the key
those bytes decode to; any other string is its UTF-8 bytes. During a rotation ``WEBHOOK_SECRET`` holds two secrets,
comma-separated: every delivery is signed with each (the header lists the signatures, space-separated, as the spec
allows), so the platform may verify with either while it switches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.messages import MessageRecord

MESSAGE_CREATED = "message.created"
MESSAGE_UPDATED = "message.updated"
MESSAGE_DELETED = "message.deleted"
CONVERSATION_CREATED = "conversation.created"
MESSAGE_REPORTED = "message.reported"
REPORT_RESOLVED = "report.resolved"
EVENT_TYPES = (
    MESSAGE_CREATED,
    MESSAGE_UPDATED,
    MESSAGE_DELETED,
    CONVERSATION_CREATED,
    MESSAGE_REPORTED,
    REPORT_RESOLVED,
)

# Standard Webhooks' schedule: after the first attempt, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (27.6 hours in all).
DEFAULT_RETRY_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 36000)
SQS_MAX_VISIBILITY_SECONDS = 12 * 3600
TIMESTAMP_TOLERANCE_SECONDS = 5 * 60


class InvalidSignature(ValueError):
    """A delivery whose signature, id or timestamp does not check out."""


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    created_at: str
    data: Mapping[str, Any]

    def body(self) -> str:
        """The JSON body, byte for byte the same on every attempt (what is signed)."""
        payload = {"id": self.id, "type": self.type, "createdAt": self.created_at, "data": self.data}
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, sort_keys=False)


def event_id(source_id: str, event_type: str) -> str:
    """``evt_<26 base32 chars>`` of the source (a stream record's eventID) and the event's type."""
    digest = hashlib.sha256(f"{source_id}|{event_type}".encode()).digest()
    return "evt_" + base64.b32encode(digest).decode().lower()[:26]


def message_data(message: MessageRecord) -> dict[str, Any]:
    data: dict[str, Any] = {
        "messageId": message.id,
        "conversationId": message.conversation_id,
        "senderId": message.sender_id,
        "recipientId": message.recipient_id,
        "sentAt": message.sent_at,
        "version": message.version,
    }
    if not message.is_deleted:
        data["content"] = message.content
    if message.attachment_kind:
        data["attachmentType"] = message.attachment_kind
    if message.reply_to is not None:
        data["replyToSeq"] = message.reply_to.seq
    if message.edited_at:
        data["editedAt"] = message.edited_at
    if message.deleted_at:
        data["deletedAt"] = message.deleted_at
    return data


def events_for(
    source_id: str,
    event_name: str,
    new: MessageRecord | None,
    old: MessageRecord | None,
    conversation: Mapping[str, Any] | None = None,
) -> list[WebhookEvent]:
    """What the platform hears of one change of a message (a stream record: ``source_id`` is its sequence number,
    the same on every delivery; ``event_name`` INSERT, MODIFY or REMOVE): a new message (and, for a conversation's
    first, the conversation), an edit, a deletion. Reactions and the version bumps a quoted original's change gives its
    replies are not events; a report of it (``message.reported``) and its resolution (``report.resolved``) are.
    ``conversation``: the first message's conversation as stored (patternId, createdAt)."""
    events: list[WebhookEvent] = []
    if event_name == "INSERT" and new is not None:
        if new.seq == 1:
            data = {
                "conversationId": new.conversation_id,
                "participantIds": sorted({new.sender_id, new.recipient_id}),
                "patternId": (conversation or {}).get("patternId"),
                "createdAt": (conversation or {}).get("createdAt") or new.sent_at,
            }
            events.append(_event(source_id, CONVERSATION_CREATED, str(data["createdAt"]), data))
        events.append(_event(source_id, MESSAGE_CREATED, new.sent_at, message_data(new)))
    elif event_name == "MODIFY" and new is not None and old is not None:
        if new.deleted_at and not old.deleted_at:
            events.append(_event(source_id, MESSAGE_DELETED, new.deleted_at, message_data(new)))
        elif new.edited_at and new.edited_at != old.edited_at and not new.is_deleted:
            events.append(_event(source_id, MESSAGE_UPDATED, new.edited_at, message_data(new)))
        events += _report_events(source_id, new, old)
    return events


def report_data(message: MessageRecord, report: Mapping[str, Any]) -> dict[str, Any]:
    """A report's summary as the message carries it (issue 16), with the message as it is now (the reported user is
    its ``senderId``; a deleted message has no ``content``)."""
    data: dict[str, Any] = {
        "reportId": report.get("id"),
        "reason": report.get("reason"),
        "reporterId": report.get("reporterId"),
        "status": report.get("status"),
        "createdAt": report.get("createdAt"),
    }
    if report.get("resolvedAt"):
        data |= {"resolvedAt": report["resolvedAt"], "action": report.get("action")}
    return data | {"message": message_data(message)}


def _report_events(source_id: str, new: MessageRecord, old: MessageRecord) -> list[WebhookEvent]:
    """``message.reported`` when the message's report summary appears (or is a new report), ``report.resolved``
    when it gains its resolution: both may come from one record (a report filed and resolved before the stream
    read it, or a resolution that also deleted the message)."""
    report, before = new.report, old.report
    if not report:
        return []
    events = []
    is_new = not before or before.get("id") != report.get("id")
    if is_new:
        events.append(_event(source_id, MESSAGE_REPORTED, str(report.get("createdAt")), report_data(new, report)))
    if report.get("resolvedAt") and (is_new or not (before or {}).get("resolvedAt")):
        events.append(_event(source_id, REPORT_RESOLVED, str(report["resolvedAt"]), report_data(new, report)))
    return events


def _event(source_id: str, event_type: str, at: str, data: Mapping[str, Any]) -> WebhookEvent:
    return WebhookEvent(event_id(source_id, event_type), event_type, at, data)


# --- signatures ------------------------------------------------------------------------------------------------


def secrets_from(raw: str | None) -> tuple[bytes, ...]:
    """The signing keys of ``WEBHOOK_SECRET`` (comma-separated; the first is the current one)."""
    keys = []
    for secret in (raw or "").split(","):
        secret = secret.strip()
        if not secret:
            continue
        if secret.startswith("whsec_"):
            try:
                keys.append(base64.b64decode(secret[len("whsec_") :], validate=True))
            except ValueError:
                raise ValueError("a whsec_ webhook secret must be base64 after its prefix") from None
        else:
            keys.append(secret.encode())
    return tuple(keys)


def signature(key: bytes, message_id: str, timestamp: int, body: str) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``id.timestamp.body``."""
    mac = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(keys: Sequence[bytes], message_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt (signed with every key)."""
    if not keys:
        raise ValueError("no webhook secret")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(key, message_id, timestamp, body) for key in keys),
    }


def verify(
    keys: Sequence[bytes],
    headers: Mapping[str, str],
    body: str,
    now: int,
    tolerance_seconds: int = TIMESTAMP_TOLERANCE_SECONDS,
) -> None:
    """What a receiver checks (the dev receiver, the tests): one signature matches a key, the timestamp is recent."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id") or ""
    raw_timestamp = lowered.get("webhook-timestamp") or ""
    signatures = (lowered.get("webhook-signature") or "").split()
    if not message_id or not raw_timestamp.isdigit() or not signatures:
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    timestamp = int(raw_timestamp)
    if abs(now - timestamp) > tolerance_seconds:
        raise InvalidSignature("webhook-timestamp is too far from now (a replayed delivery?)")
    expected = {signature(key, message_id, timestamp, body) for key in keys}
    if not any(hmac.compare_digest(given, wanted) for given in signatures for wanted in expected):
        raise InvalidSignature("no signature matches")


# --- retries ---------------------------------------------------------------------------------------------------


def retry_delay(receive_count: int, schedule: Sequence[int] = DEFAULT_RETRY_SECONDS) -> int | None:
    """How long to wait after failed attempt number ``receive_count`` (1 = the first), or None when the schedule is
    spent (the queue's redrive then moves the message to the dead-letter queue)."""
    if receive_count < 1 or receive_count > len(schedule):
        return None
    return min(max(int(schedule[receive_count - 1]), 0), SQS_MAX_VISIBILITY_SECONDS)


def max_attempts(schedule: Sequence[int] = DEFAULT_RETRY_SECONDS) -> int:
    """Attempts before the dead-letter queue: the first and one per scheduled retry (the queue's maxReceiveCount)."""
    return len(schedule) + 1
