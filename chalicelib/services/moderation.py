"""Reports and moderation: a participant reports a message; a moderator lists, reads and resolves reports; every
moderator read and decision is in the audit log.

Round trips, whatever the data's size:

- report: one BatchGetItem (the message, its conversation, this reporter's report of it) and one TransactWriteItems
  (the report, conditioned on not existing, with the ``report`` limit's counter); reporting again: the same read and
  the limit's UpdateItem (nothing to write), answered 200 with the same report;
- list reports / the audit log: the audit entry's TransactWriteItems, then one Query of an index or a partition;
- a report: one BatchGetItem, the audit entry, one Query of the messages around the reported one;
- resolution: dismiss 2 (read, one transaction: the report, the audit entry), suspend_user 3 (the same transaction
  also suspends; then the profile is read to close the user's connections), delete_message 4 (the report is read
  first for its message, then the sender's deletion of issue 15 with the resolution in its own transaction).

**Every moderator read writes its audit entry before anything is read for the answer**; if the audit write fails
the request answers 503 ``audit_unavailable`` and shows nothing. A report lives in the moderation table; its
summary is also written on the reported message (``records.report_on_message``) by the report's and the
resolution's transactions, so the messages stream carries it to a consumer (the platform's webhooks
``message.reported`` / ``report.resolved``, issue 18).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import Message, ModerationItem, UserProfile
from chalicelib.adapters.dynamodb.batch import Batch, batch_get
from chalicelib.adapters.dynamodb.rate_limits import charge, spend
from chalicelib.adapters.dynamodb.records import (
    audit_record,
    change_keys,
    change_snapshot,
    message_record,
    report_key,
    report_on_message,
    report_record,
    write_audit,
    write_new_report,
    write_resolution,
    write_suspension,
)
from chalicelib.adapters.dynamodb.transactions import commit, with_retries
from chalicelib.domain.clock import iso
from chalicelib.domain.cursors import InvalidCursor, decode_cursor, encode_cursor
from chalicelib.domain.ids import parse_message_id
from chalicelib.domain.lifecycle import ChangePlan
from chalicelib.domain.messages import MessageRecord
from chalicelib.domain.moderation import (
    DELETE_MESSAGE,
    LIST_REPORTS,
    OPEN,
    READ_AUDIT,
    READ_REPORT,
    RESOLVE_REPORT,
    SUSPEND_USER,
    AuditEntry,
    Evidence,
    ReportRecord,
    audit_scope,
    ensure_readable,
    is_report_id,
    plan_report,
    plan_resolution,
    report_id_for,
)
from chalicelib.domain.principal import Principal
from chalicelib.errors import ErrorCode, InvalidRequest, NotFound, ServiceUnavailable
from chalicelib.schemas.responses import (
    AuditEntryOut,
    AuditPageOut,
    EarlierVersionOut,
    EvidenceAttachmentOut,
    ModeratedMessageOut,
    ModerationReportOut,
    ReportCreatedOut,
    ReportDetailOut,
    ReportOut,
    ReportsPageOut,
    ResolutionOut,
    ResolvedReportOut,
    SnapshotOut,
)
from chalicelib.services.lifecycle import Lifecycle
from chalicelib.services.ports import Clock, Connections
from chalicelib.services.sessions import connections_of
from chalicelib.services.suspensions import Suspensions
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)

Write = Callable[[TransactWrite], None]


class Moderation:
    """The use cases of reporters and moderators."""

    def __init__(self, lifecycle: Lifecycle, connections: Connections, suspensions: Suspensions, clock: Clock) -> None:
        self.lifecycle = lifecycle
        self.connections = connections
        self.suspensions = suspensions
        self.clock = clock

    def _now(self) -> str:
        return iso(self.clock())

    # --- the reporter's side ----------------------------------------------------------------------------------

    def report(
        self, principal: Principal, message_id: str, reason: str, details: str | None
    ) -> tuple[ReportCreatedOut, int]:
        """``POST /api/messages/{id}/report``: 201 with a new report; 200 with the same one when made again."""
        parsed = parse_message_id(message_id)
        if parsed is None:
            raise NotFound("message not found")
        keys = change_keys(*parsed)
        own = report_key(report_id_for(message_id, principal.user_id))

        def attempt() -> tuple[ReportRecord, int]:
            found = batch_get([*keys.values(), own])
            message, conversation = change_snapshot(keys, found)
            existing = found.get(own)
            if isinstance(existing, ModerationItem):
                spend(principal.user_id, "report")  # nothing to write: counted on its own
                return report_record(existing), 200
            report = plan_report(
                message, conversation, reporter=principal.user_id, reason=reason, details=details, now=self._now()
            )

            def build(transaction: TransactWrite) -> None:
                write_new_report(transaction, report)
                charge(transaction, principal.user_id, "report")

            commit(build)  # a twin report committed first: Contention, read again, found
            return report, 201

        report, status = with_retries(attempt, max_attempts=get_settings().send_max_attempts)
        if status == 201:
            logger.info("message reported", extra={"report_id": report.id, "reason": report.reason})
        return ReportCreatedOut(report=_report_out(report)), status

    # --- the moderator's side ---------------------------------------------------------------------------------

    def reports(self, moderator: Principal, status: str, limit: int | None, cursor: str | None) -> ReportsPageOut:
        """``GET /api/moderation/reports``: open reports oldest first, resolved ones newest first."""
        settings = get_settings()
        limit = limit or settings.moderation_page_max
        scope = f"moderation-reports:{status}:{moderator.user_id}"
        start = _decoded(cursor, scope)
        self._audit(moderator, LIST_REPORTS, details={"status": status})
        items = list(
            ModerationItem.by_queue.query(
                status, scan_index_forward=status == OPEN, limit=limit + 1, last_evaluated_key=start
            )
        )
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            last = items[-1]
            position = {
                "pk": {"S": last.pk},
                "sk": {"S": last.sk},
                "queue": {"S": str(last.queue)},
                "queued_at": {"S": str(last.queued_at)},
            }
            next_cursor = encode_cursor(position, scope=scope, secret=settings.cursor_secret)
        return ReportsPageOut(reports=[_moderation_out(report_record(item)) for item in items], next_cursor=next_cursor)

    def report_detail(self, moderator: Principal, report_id: str) -> ReportDetailOut:
        """``GET /api/moderation/reports/{id}``: the report, its evidence, the messages around the reported one."""
        report = self._report(report_id)
        ensure_readable(report, now=self._now(), access_days=get_settings().moderation_access_days)
        self._audit(moderator, READ_REPORT, report=report)
        around = get_settings().moderation_context_messages
        low, high = max(1, report.seq - around), report.seq + around
        messages = Message.query(
            report.conversation_id, Message.seq.between(low, high), consistent_read=True, limit=high - low + 1
        )
        return ReportDetailOut(
            report=_moderation_out(report),
            snapshot=_snapshot_out(report.message_id, report.evidence),
            messages=[_message_out(message_record(item)) for item in messages],
        )

    def resolve(
        self, moderator: Principal, report_id: str, action: str, note: str, suspend_days: int | None
    ) -> ResolvedReportOut:
        """``POST /api/moderation/reports/{id}/resolution``: once per report (409 ``report_resolved`` after)."""
        key = report_key(_known(report_id))
        resolved: list[ReportRecord] = []

        def decide(found: Batch, *, on_message: bool = True) -> tuple[ReportRecord, Write]:
            item = found.get(key)
            if not isinstance(item, ModerationItem):
                raise NotFound("report not found")
            before = report_record(item)
            after = plan_resolution(
                before,
                action=action,
                note=note,
                suspend_days=suspend_days,
                moderator=moderator.user_id,
                now=self._now(),
            )
            entry = self._entry(moderator, RESOLVE_REPORT, report=after, details=_resolution_details(after))

            def write(transaction: TransactWrite) -> None:
                write_resolution(transaction, after, on_message=on_message)
                write_audit(transaction, entry)
                if after.resolution and after.resolution.suspended_until:
                    write_suspension(transaction, after.reported_user_id, after.resolution.suspended_until, after.id)

            resolved[:] = [after]
            return after, write

        if action == DELETE_MESSAGE:
            report = self._report(report_id)

            def also(found: Batch, plan: ChangePlan) -> tuple[Write, list[Any]]:
                # The tombstone's update of the message carries the resolution's summary when there is one.
                after, write = decide(found, on_message=not plan.changed)
                return write, report_on_message(after) if plan.changed else []

            self.lifecycle.remove(report.conversation_id, report.seq, extra=[key], also=also)
        else:

            def attempt() -> None:
                commit(decide(batch_get([key]))[1])

            with_retries(attempt, max_attempts=get_settings().send_max_attempts)
        after = resolved[0]
        if action == SUSPEND_USER and after.resolution and after.resolution.suspended_until:
            self.suspensions.note(after.reported_user_id, after.resolution.suspended_until)
            self._close_connections(after.reported_user_id)
        logger.info("report resolved", extra={"report_id": after.id, "action": action})
        return ResolvedReportOut(report=_moderation_out(after))

    def audit_log(
        self,
        moderator: Principal,
        conversation_id: str | None,
        moderator_id: str | None,
        limit: int | None,
        cursor: str | None,
    ) -> AuditPageOut:
        """``GET /api/moderation/audit``: newest first, everything or by conversation and/or moderator."""
        settings = get_settings()
        limit = limit or settings.moderation_page_max
        partition = f"audit#{audit_scope(conversation_id=conversation_id, moderator_id=moderator_id)}"
        scope = f"moderation-audit:{partition}:{moderator.user_id}"
        start = _decoded(cursor, scope)
        filters = {"conversationId": conversation_id, "moderatorId": moderator_id}
        self._audit(moderator, READ_AUDIT, details={k: v for k, v in filters.items() if v})
        items = list(
            ModerationItem.query(
                partition, scan_index_forward=False, limit=limit + 1, last_evaluated_key=start, consistent_read=True
            )
        )
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            position = {"pk": {"S": items[-1].pk}, "sk": {"S": items[-1].sk}}
            next_cursor = encode_cursor(position, scope=scope, secret=settings.cursor_secret)
        return AuditPageOut(entries=[_entry_out(audit_record(item)) for item in items], next_cursor=next_cursor)

    # --- helpers ------------------------------------------------------------------------------------------------

    def _report(self, report_id: str) -> ReportRecord:
        item = batch_get([report_key(_known(report_id))]).get(report_key(report_id))
        if not isinstance(item, ModerationItem):
            raise NotFound("report not found")
        return report_record(item)

    def _entry(
        self,
        moderator: Principal,
        action: str,
        *,
        report: ReportRecord | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        return AuditEntry(
            id=f"aud_{uuid.uuid4().hex}",
            moderator_id=moderator.user_id,
            action=action,
            at=self._now(),
            report_id=report.id if report else None,
            conversation_id=report.conversation_id if report else None,
            message_id=report.message_id if report else None,
            details=details or {},
        )

    def _audit(
        self,
        moderator: Principal,
        action: str,
        *,
        report: ReportRecord | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Write the audit entry of a read before anything is read for the answer: 503 ``audit_unavailable``
        (and nothing shown) when it cannot be written."""
        entry = self._entry(moderator, action, report=report, details=details)
        try:
            commit(lambda transaction: write_audit(transaction, entry))
        except (PynamoDBException, ClientError, BotoCoreError) as exc:
            logger.warning("audit write failed", extra={"error_type": type(exc).__name__, "action": action})
            raise ServiceUnavailable(
                "the audit log is unavailable: nothing is shown until it can be written, retry the request",
                code=ErrorCode.AUDIT_UNAVAILABLE,
            ) from exc

    def _close_connections(self, user_id: str) -> None:
        """Close every live connection of a user just suspended (API Gateway then runs their ``$disconnect``)."""
        try:
            profile = batch_get([(UserProfile, user_id, None)]).item(UserProfile, user_id)
        except (PynamoDBException, ClientError, BotoCoreError):
            logger.warning("could not read the suspended user's connections", extra={"suspended": user_id})
            return  # committed: the suspension holds ($connect is refused); REST within the refresh interval
        for connection_id in connections_of(profile):
            self.connections.close(connection_id)


def _known(report_id: str) -> str:
    if not is_report_id(report_id):
        raise NotFound("report not found")
    return report_id


def _decoded(cursor: str | None, scope: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        return decode_cursor(cursor, scope=scope, secret=get_settings().cursor_secret)
    except InvalidCursor as exc:
        raise InvalidRequest(str(exc), code=ErrorCode.INVALID_CURSOR) from exc


def _resolution_details(report: ReportRecord) -> dict[str, Any]:
    resolution = report.resolution
    if resolution is None:
        return {}
    details: dict[str, Any] = {"action": resolution.action}
    if resolution.suspended_until:
        details |= {"suspendedUserId": report.reported_user_id, "suspendedUntil": resolution.suspended_until}
    return details


def _report_out(report: ReportRecord) -> ReportOut:
    return ReportOut(
        id=report.id,
        message_id=report.message_id,
        conversation_id=report.conversation_id,
        reason=report.reason,
        status=report.status,
        created_at=report.created_at,
    )


def _moderation_out(report: ReportRecord) -> ModerationReportOut:
    resolution = report.resolution
    return ModerationReportOut(
        **_report_out(report).model_dump(),
        reporter_id=report.reporter_id,
        reported_user_id=report.reported_user_id,
        details=report.details,
        resolution=(
            ResolutionOut(
                action=resolution.action,
                note=resolution.note,
                moderator_id=resolution.moderator_id,
                resolved_at=resolution.resolved_at,
                suspend_days=resolution.suspend_days,
                suspended_until=resolution.suspended_until,
            )
            if resolution
            else None
        ),
    )


def _attachment_out(attachment: Any) -> EvidenceAttachmentOut | None:
    if not attachment:
        return None
    return EvidenceAttachmentOut(
        kind=str(attachment.get("kind") or "file"),
        name=attachment.get("name"),
        content_type=attachment.get("contentType"),
        size=attachment.get("size"),
    )


def _snapshot_out(message_id: str, evidence: Evidence) -> SnapshotOut:
    return SnapshotOut(
        message_id=message_id,
        sender_id=evidence.sender_id,
        recipient_id=evidence.recipient_id,
        content=evidence.content,
        sent_at=evidence.sent_at,
        version=evidence.version,
        edited_at=evidence.edited_at,
        earlier_versions=[
            EarlierVersionOut(content=v.content, version=v.version, since=v.since) for v in evidence.earlier_versions
        ],
        attachment=_attachment_out(evidence.attachment),
        attachment_keys=list(evidence.attachment_keys),
    )


def _message_out(message: MessageRecord) -> ModeratedMessageOut:
    return ModeratedMessageOut(
        id=message.id,
        sender_id=message.sender_id,
        recipient_id=message.recipient_id,
        content=message.content,
        sent_at=message.sent_at,
        version=message.version,
        edited_at=message.edited_at,
        is_deleted=message.is_deleted,
        attachment=_attachment_out(message.attachment),
    )


def _entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.id,
        moderator_id=entry.moderator_id,
        action=entry.action,
        at=entry.at,
        report_id=entry.report_id,
        conversation_id=entry.conversation_id,
        message_id=entry.message_id,
        details=dict(entry.details),
    )
