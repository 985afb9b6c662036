"""``/api/moderation``: reports and the audit log, for a JWT with ``"role": "moderator"`` only.

A moderator reads a conversation only through a report on it (open, or resolved within ``MODERATION_ACCESS_DAYS``);
every read is written to the audit log before anything is shown (503 ``audit_unavailable`` when it cannot be).
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.bootstrap import preload, services
from chalicelib.domain.moderation import is_report_id
from chalicelib.domain.principal import Principal
from chalicelib.entrypoints.http.routing import MODERATOR, Answer, path_id, query_params, read_json_body, route
from chalicelib.entrypoints.parsing import parse
from chalicelib.schemas.requests import AuditQuery, ReportsQuery, ResolutionRequest
from chalicelib.schemas.responses import AuditPageOut, ReportDetailOut, ReportsPageOut, ResolvedReportOut

# This function's init loads the use cases its handlers call (built on first use: bootstrap.preload).
preload("moderation")

blueprint = Blueprint(__name__)
TAG = "moderation"


def _report_id(value: str) -> str:
    return path_id(value, is_report_id, "report")


@route(
    blueprint,
    "/moderation/reports",
    "GET",
    operation_id="listReports",
    tag=TAG,
    auth=MODERATOR,
    query=ReportsQuery,
    responses={200: ReportsPageOut},
)
def list_reports(request: Any, principal: Principal) -> Answer:
    """Reports by status: `open` (the default) oldest first, `resolved` newest first; paginated. Audited."""
    query = parse(ReportsQuery, query_params(request))
    return services().moderation.reports(principal, query.status, query.limit, query.cursor)


@route(
    blueprint,
    "/moderation/reports/{reportId}",
    "GET",
    operation_id="getReport",
    tag=TAG,
    auth=MODERATOR,
    responses={200: ReportDetailOut},
)
def get_report(request: Any, principal: Principal, reportId: str) -> Answer:
    """A report, its evidence snapshot and the conversation's messages around the reported one. Readable while open
    and for `MODERATION_ACCESS_DAYS` (30) after its resolution (`403 moderation_window_passed`). Audited."""
    return services().moderation.report_detail(principal, _report_id(reportId))


@route(
    blueprint,
    "/moderation/reports/{reportId}/resolution",
    "POST",
    operation_id="resolveReport",
    tag=TAG,
    auth=MODERATOR,
    body=ResolutionRequest,
    responses={200: ResolvedReportOut},
    errors={409},
)
def resolve_report(request: Any, principal: Principal, reportId: str) -> Answer:
    """Resolve an open report once (`409 report_resolved` after): `dismiss`; `delete_message` (a tombstone for
    everyone, `message_deleted` to both participants, in the resolution's transaction); `suspend_user` for
    `suspendDays` (the sender's REST calls answer `403 account_suspended`, `$connect` is refused, live connections
    are closed). Audited with the decision."""
    body = parse(ResolutionRequest, read_json_body(request))
    return services().moderation.resolve(principal, _report_id(reportId), body.action, body.note, body.suspend_days)


@route(
    blueprint,
    "/moderation/audit",
    "GET",
    operation_id="listAudit",
    tag=TAG,
    auth=MODERATOR,
    query=AuditQuery,
    responses={200: AuditPageOut},
)
def list_audit(request: Any, principal: Principal) -> Answer:
    """The audit log, newest first: everything, or one conversation's (`conversationId`), one moderator's
    (`moderatorId`), or both; paginated. Reading it is audited too."""
    query = parse(AuditQuery, query_params(request))
    return services().moderation.audit_log(
        principal, query.conversation_id, query.moderator_id, query.limit, query.cursor
    )
