"""Reports and their resolution, decided without I/O.

A participant reports a message of their conversation once (the report's id is derived from the message and the
reporter, so a second report is the same report); the report keeps the evidence as it was when reported (the
text, the texts earlier edits replaced, the attachment's stored keys), which no later edit or deletion reaches.
A moderator resolves an open report once: dismiss it, delete the message for everyone, or suspend its sender.
A moderator reads a conversation only through a report on it that is open or was resolved recently
(``MODERATION_ACCESS_DAYS``), and every read is written to the audit log before anything is shown.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from chalicelib.domain.clock import iso, parse_iso
from chalicelib.domain.conversations import ConversationState
from chalicelib.domain.lifecycle import message_of
from chalicelib.domain.messages import EarlierVersion, MessageRecord
from chalicelib.domain.uploads import snapshot_keys
from chalicelib.errors import Conflict, ErrorCode, Forbidden, InvalidRequest

REASONS = ("spam", "harassment", "scam", "off_platform_payment", "inappropriate", "other")
DISMISS, DELETE_MESSAGE, SUSPEND_USER = "dismiss", "delete_message", "suspend_user"
ACTIONS = (DISMISS, DELETE_MESSAGE, SUSPEND_USER)
OPEN, RESOLVED = "open", "resolved"
STATUSES = (OPEN, RESOLVED)

# What the audit log records a moderator doing.
LIST_REPORTS, READ_REPORT, RESOLVE_REPORT, READ_AUDIT = "list_reports", "read_report", "resolve_report", "read_audit"

REPORT_PREFIX = "rpt_"
_REPORT_ID = re.compile(rf"^{REPORT_PREFIX}[a-z2-7]{{26}}$")


def report_id_for(message_id: str, reporter_id: str) -> str:
    """The one report of ``reporter_id`` about ``message_id``: reporting again is a conditional write that finds it."""
    digest = hashlib.sha256(f"{message_id}\x00{reporter_id}".encode()).digest()
    return REPORT_PREFIX + base64.b32encode(digest).decode().lower()[:26]


def is_report_id(value: str) -> bool:
    return bool(_REPORT_ID.fullmatch(value))


@dataclass(frozen=True)
class Evidence:
    """The reported message as it was when reported."""

    sender_id: str
    recipient_id: str
    content: str
    sent_at: str
    version: int
    edited_at: str | None = None
    earlier_versions: tuple[EarlierVersion, ...] = ()
    attachment: Mapping[str, Any] | None = None  # kind, name, contentType, size
    attachment_keys: tuple[str, ...] = ()  # every stored object of the attachment


@dataclass(frozen=True)
class Resolution:
    action: str
    note: str
    moderator_id: str
    resolved_at: str
    suspend_days: int | None = None
    suspended_until: str | None = None


@dataclass(frozen=True)
class ReportRecord:
    id: str
    message_id: str
    conversation_id: str
    seq: int
    reporter_id: str
    reported_user_id: str  # the message's sender
    reason: str
    status: str
    created_at: str
    evidence: Evidence
    details: str | None = None
    resolution: Resolution | None = None

    @property
    def resolved_at(self) -> str | None:
        return self.resolution.resolved_at if self.resolution else None


@dataclass(frozen=True)
class AuditEntry:
    """One thing a moderator did or read."""

    id: str
    moderator_id: str
    action: str
    at: str
    report_id: str | None = None
    conversation_id: str | None = None
    message_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def audit_scope(*, conversation_id: str | None, moderator_id: str | None) -> str:
    """The audit log's list an entry is read from: everything, one moderator's, one conversation's, or both."""
    if conversation_id and moderator_id:
        return f"pair#{moderator_id}#{conversation_id}"
    if conversation_id:
        return f"conversation#{conversation_id}"
    if moderator_id:
        return f"moderator#{moderator_id}"
    return "all"


def audit_scopes(entry: AuditEntry) -> list[str]:
    """Every list ``entry`` appears in (it is written once per list)."""
    scopes = {
        audit_scope(conversation_id=None, moderator_id=None),
        audit_scope(conversation_id=None, moderator_id=entry.moderator_id),
    }
    if entry.conversation_id:
        scopes.add(audit_scope(conversation_id=entry.conversation_id, moderator_id=None))
        scopes.add(audit_scope(conversation_id=entry.conversation_id, moderator_id=entry.moderator_id))
    return sorted(scopes)


def evidence_of(message: MessageRecord) -> Evidence:
    attachment = message.attachment
    shown = (
        {key: attachment[key] for key in ("kind", "name", "contentType", "size") if key in attachment}
        if attachment
        else None
    )
    return Evidence(
        sender_id=message.sender_id,
        recipient_id=message.recipient_id,
        content=message.content,
        sent_at=message.sent_at,
        version=message.version,
        edited_at=message.edited_at,
        earlier_versions=message.earlier_versions,
        attachment=shown,
        attachment_keys=tuple(snapshot_keys(attachment)) if attachment else (),
    )


def plan_report(
    message: MessageRecord | None,
    conversation: ConversationState | None,
    *,
    reporter: str,
    reason: str,
    details: str | None,
    now: str,
) -> ReportRecord:
    """A new report of ``message`` by ``reporter``: participants only (a stranger: the same 404 as a missing
    message), not their own message, not a deleted one (nothing is left to judge)."""
    message, conversation = message_of(message, conversation, reporter)
    if message.sender_id == reporter:
        raise Forbidden("you cannot report your own message", code=ErrorCode.OWN_MESSAGE)
    if message.is_deleted:
        raise Conflict("the message was deleted", code=ErrorCode.MESSAGE_DELETED)
    return ReportRecord(
        id=report_id_for(message.id, reporter),
        message_id=message.id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        reporter_id=reporter,
        reported_user_id=message.sender_id,
        reason=reason,
        status=OPEN,
        created_at=now,
        evidence=evidence_of(message),
        details=details or None,
    )


def ensure_readable(report: ReportRecord, *, now: str, access_days: int) -> None:
    """A moderator reads a report's conversation while it is open and ``access_days`` after its resolution."""
    resolved_at = report.resolved_at
    if report.status == OPEN or resolved_at is None:
        return
    if parse_iso(now) - parse_iso(resolved_at) > timedelta(days=access_days):
        raise Forbidden(
            f"a report's conversation can be read for {access_days} days after its resolution",
            code=ErrorCode.MODERATION_WINDOW_PASSED,
        )


def plan_resolution(
    report: ReportRecord,
    *,
    action: str,
    note: str,
    suspend_days: int | None,
    moderator: str,
    now: str,
) -> ReportRecord:
    """``report`` resolved by ``moderator``: once (409 ``report_resolved`` after); ``suspendDays`` with
    ``suspend_user`` and only with it."""
    if report.status != OPEN:
        raise Conflict("the report was already resolved", code=ErrorCode.REPORT_RESOLVED)
    if (action == SUSPEND_USER) != (suspend_days is not None):
        message = (
            "suspend_user needs suspendDays" if action == SUSPEND_USER else "suspendDays goes with suspend_user only"
        )
        raise InvalidRequest(
            "the request is not valid",
            details=[{"field": "suspendDays", "message": message, "type": "value_error"}],
        )
    until = iso(parse_iso(now) + timedelta(days=suspend_days)) if suspend_days is not None else None
    resolution = Resolution(action, note, moderator, now, suspend_days, until)
    return replace(report, status=RESOLVED, resolution=resolution)


def is_suspended(until: str | None, now: str) -> bool:
    return until is not None and until > now
