"""The rules of reports and their resolution (chalicelib.domain.moderation), and the edit history they copy."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.conversations import ConversationState
from chalicelib.domain.lifecycle import EARLIER_VERSIONS_KEPT, kept_versions, plan_edit, plan_removal
from chalicelib.domain.messages import MessageRecord
from chalicelib.domain.moderation import (
    AuditEntry,
    audit_scopes,
    ensure_readable,
    is_report_id,
    plan_report,
    plan_resolution,
    report_id_for,
)
from chalicelib.errors import Conflict, Forbidden, InvalidRequest, NotFound

NOW = "2026-12-02T10:00:00.000Z"
CONVERSATION = ConversationState("conv_x", ("alice", "bob"), NOW, NOW)
MESSAGE = MessageRecord("conv_x", 1, "msg_x_1", "bob", "alice", 1, "pay me outside", NOW)


def test_the_report_id_is_one_per_reporter_and_message() -> None:
    assert report_id_for("msg_x_1", "alice") == report_id_for("msg_x_1", "alice")
    assert (
        len({report_id_for("msg_x_1", "alice"), report_id_for("msg_x_1", "bob"), report_id_for("msg_x_2", "alice")})
        == 3
    )
    assert is_report_id(report_id_for("msg_x_1", "alice")) and not is_report_id("rpt_x")


def test_who_may_report_what() -> None:
    report = plan_report(MESSAGE, CONVERSATION, reporter="alice", reason="scam", details=None, now=NOW)
    assert (report.reported_user_id, report.status, report.evidence.content) == ("bob", "open", "pay me outside")
    with pytest.raises(NotFound):
        plan_report(MESSAGE, CONVERSATION, reporter="carol", reason="scam", details=None, now=NOW)
    with pytest.raises(NotFound):
        plan_report(None, CONVERSATION, reporter="alice", reason="scam", details=None, now=NOW)
    with pytest.raises(Forbidden, match="own message"):
        plan_report(MESSAGE, CONVERSATION, reporter="bob", reason="scam", details=None, now=NOW)
    deleted = replace(MESSAGE, content="", deleted_at=NOW)
    with pytest.raises(Conflict):
        plan_report(deleted, CONVERSATION, reporter="alice", reason="scam", details=None, now=NOW)


def test_a_resolution_is_once_and_suspend_days_go_with_suspend_user_only() -> None:
    report = plan_report(MESSAGE, CONVERSATION, reporter="alice", reason="scam", details=None, now=NOW)
    suspended = plan_resolution(report, action="suspend_user", note="n", suspend_days=2, moderator="m", now=NOW)
    assert suspended.resolution is not None and suspended.resolution.suspended_until == "2026-12-04T10:00:00.000Z"
    with pytest.raises(Conflict):
        plan_resolution(suspended, action="dismiss", note="n", suspend_days=None, moderator="m", now=NOW)
    for action, days in (("suspend_user", None), ("dismiss", 3), ("delete_message", 1)):
        with pytest.raises(InvalidRequest):
            plan_resolution(report, action=action, note="n", suspend_days=days, moderator="m", now=NOW)


def test_a_resolved_report_is_readable_for_the_access_window() -> None:
    report = plan_report(MESSAGE, CONVERSATION, reporter="alice", reason="scam", details=None, now=NOW)
    ensure_readable(report, now="2030-01-01T00:00:00.000Z", access_days=30)  # open: always
    resolved = plan_resolution(report, action="dismiss", note="n", suspend_days=None, moderator="m", now=NOW)
    ensure_readable(resolved, now="2027-01-01T10:00:00.000Z", access_days=30)  # 30 days later
    with pytest.raises(Forbidden, match="30 days"):
        ensure_readable(resolved, now="2027-01-01T10:00:00.001Z", access_days=30)


def test_an_audit_entry_is_listed_everywhere_it_belongs() -> None:
    listing = AuditEntry("aud_1", "m1", "list_reports", NOW)
    read = AuditEntry("aud_2", "m1", "read_report", NOW, "rpt", "conv_x", "msg_x_1")
    assert audit_scopes(listing) == ["all", "moderator#m1"]
    assert audit_scopes(read) == ["all", "conversation#conv_x", "moderator#m1", "pair#m1#conv_x"]


def test_edits_keep_the_original_and_the_latest_earlier_texts() -> None:
    message = MESSAGE
    for n in range(EARLIER_VERSIONS_KEPT + 3):
        plan = plan_edit(message, CONVERSATION, editor="bob", content=f"v{n + 2}", now=NOW, window_seconds=900)
        message = plan.message
    kept = [v.content for v in message.earlier_versions]
    assert (
        len(kept) == EARLIER_VERSIONS_KEPT
        and kept[0] == "pay me outside"
        and kept[-1] == f"v{EARLIER_VERSIONS_KEPT + 3}"
    )
    assert [v.version for v in kept_versions(MESSAGE)] == [1]


def test_a_moderators_removal_is_the_senders_tombstone_whoever_asks() -> None:
    plan = plan_removal(MESSAGE, CONVERSATION, now=NOW)
    assert plan.changed and plan.message.is_deleted and plan.message.earlier_versions == ()
    assert not plan_removal(plan.message, CONVERSATION, now=NOW).changed
    with pytest.raises(NotFound):
        plan_removal(None, CONVERSATION, now=NOW)
