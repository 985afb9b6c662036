"""Reports and moderation (issue 16): reporting a message, the moderator's routes, the audit log, suspension."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import boto3
import botocore.client
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.adapters.dynamodb import Message, ModerationItem, UserProfile
from chalicelib.domain.clock import iso, utc_now
from chalicelib.domain.ids import conversation_id_for, message_id_for
from chalicelib.domain.moderation import report_id_for
from chalicelib.services import suspensions
from chalicelib.services.message_stream import decode
from chalicelib.settings import get_settings
from tests.fakes import RecordingConnections
from tests.integration.conftest import BUCKET, Api, DynamoCalls, Response, token_for
from tests.integration.sockets import Sockets
from tests.integration.uploads import upload_pdf

PATTERN_CHAT = conversation_id_for("alice", "bob", "p1")
MODERATOR = "mod1"


def moderator(api: Api, method: str, path: str, body: Any = None, who: str = MODERATOR) -> Response:
    headers = {"Authorization": f"Bearer {token_for(who, role='moderator')}"}
    return api.call(method, path, body=body, headers=headers)


def bobs_message(api: Api, content: str = "pay me on the side: iban XX00") -> str:
    sent = api.send("bob", recipientId="alice", patternId="p1", content=content)
    assert sent.status == 201, sent.body
    return str(sent.body["message"]["id"])


def report(api: Api, message_id: str, user: str = "alice", **body: Any) -> Response:
    return api.call("POST", f"/api/messages/{message_id}/report", user, {"reason": "scam", **body})


def reported(api: Api, content: str = "pay me on the side: iban XX00") -> tuple[str, str]:
    """A message of bob's that alice reported: (message id, report id)."""
    message_id = bobs_message(api, content)
    response = report(api, message_id)
    assert response.status == 201, response.body
    return message_id, str(response.body["report"]["id"])


def audit_actions(api: Api, query: str = "") -> list[str]:
    response = moderator(api, "GET", f"/api/moderation/audit{query}")
    assert response.status == 200, response.body
    return [entry["action"] for entry in response.body["entries"]]


def throttled(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, operation)


@contextmanager
def dynamodb_failing(operation: str) -> Iterator[list[str]]:
    """Every DynamoDB ``operation`` fails as botocore fails when throttled; what was called is recorded."""
    original = botocore.client.BaseClient._make_api_call
    seen: list[str] = []

    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            seen.append(operation_name)
            if operation_name == operation:
                raise throttled(operation_name)
        return original(self, operation_name, api_params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
        yield seen


# --- reporting ----------------------------------------------------------------------------------------------


def test_a_participant_reports_a_message_and_reporting_again_returns_the_same_report(marketplace: Api) -> None:
    message_id = bobs_message(marketplace)

    first = report(marketplace, message_id, details="asked me to pay outside the platform")
    again = report(marketplace, message_id, reason="spam")

    assert first.status == 201, first.body
    body = first.body["report"]
    assert set(body) == {"id", "messageId", "conversationId", "reason", "status", "createdAt"}
    assert body["id"] == report_id_for(message_id, "alice")
    assert (body["messageId"], body["conversationId"], body["reason"], body["status"]) == (
        message_id,
        PATTERN_CHAT,
        "scam",
        "open",
    )
    assert again.status == 200 and again.body == first.body  # the same report, its first reason kept
    assert ModerationItem.count(f"report#{body['id']}") == 1


def test_concurrent_reports_of_one_message_by_one_reporter_make_one_report(marketplace: Api) -> None:
    message_id = bobs_message(marketplace)
    answers: list[Response] = []
    barrier = threading.Barrier(4)

    def one() -> None:
        barrier.wait()
        answers.append(report(marketplace, message_id))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(a.status for a in answers) == [200, 200, 200, 201], [a.body for a in answers]
    assert len({a.body["report"]["id"] for a in answers}) == 1
    assert len(list(ModerationItem.by_queue.query("open"))) == 1


def test_both_participants_may_report_the_same_message_once_each(marketplace: Api) -> None:
    message_id = bobs_message(marketplace)
    marketplace.send("alice", conversationId=PATTERN_CHAT, content="no thanks")
    alices = report(marketplace, message_id)

    assert alices.status == 201
    assert len(list(ModerationItem.by_queue.query("open"))) == 1


def test_a_stranger_gets_the_same_404_as_for_a_missing_message(marketplace: Api) -> None:
    message_id = bobs_message(marketplace)
    missing = message_id_for(conversation_id_for("nobody", "no-one", None), 1)

    stranger = report(marketplace, message_id, user="carol")
    absent = report(marketplace, missing, user="carol")
    malformed = report(marketplace, "msg_nope", user="carol")

    assert (stranger.status, stranger.body) == (absent.status, absent.body) == (malformed.status, malformed.body)
    assert stranger.status == 404 and stranger.body["error"]["code"] == "not_found"
    assert list(ModerationItem.by_queue.query("open")) == []


def test_refusals_of_a_report(marketplace: Api) -> None:
    message_id = bobs_message(marketplace)
    deleted = bobs_message(marketplace, "oops")
    assert marketplace.call("DELETE", f"/api/messages/{deleted}", "bob").status == 200

    observed = {
        "own message": report(marketplace, message_id, user="bob"),
        "deleted": report(marketplace, deleted),
        "unknown reason": report(marketplace, message_id, reason="rude"),
        "details too long": report(marketplace, message_id, details="x" * 1001),
        "control characters": report(marketplace, message_id, details="a\x00b"),
        "server-owned field": report(marketplace, message_id, status="resolved"),
    }

    codes = {name: (r.status, r.body["error"]["code"]) for name, r in observed.items()}
    assert codes == {
        "own message": (403, "own_message"),
        "deleted": (409, "message_deleted"),
        "unknown reason": (400, "invalid_request"),
        "details too long": (400, "invalid_request"),
        "control characters": (400, "invalid_request"),
        "server-owned field": (400, "invalid_request"),
    }
    assert list(ModerationItem.by_queue.query("open")) == []
    assert report(marketplace, message_id, details="x" * 1000).status == 201


def test_reports_are_rate_limited_per_user_and_a_refusal_writes_nothing(
    marketplace: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = [bobs_message(marketplace, f"spam {n}") for n in range(3)]
    monkeypatch.setenv("RATE_LIMIT_REPORT", "2/3600")
    get_settings.cache_clear()

    answers = [report(marketplace, message_id) for message_id in messages]

    assert [a.status for a in answers] == [201, 201, 429]
    assert answers[2].body["error"]["code"] == "rate_limited" and int(answers[2].headers["Retry-After"]) > 0
    assert len(list(ModerationItem.by_queue.query("open"))) == 2
    assert report(marketplace, messages[2], user="bob").status == 403  # another user's limit is theirs


def test_the_evidence_keeps_the_message_as_reported_whatever_follows(marketplace: Api) -> None:
    message_id = bobs_message(marketplace, "send the money to my paypal")
    for text in ("send the money to my p4ypal", "send the money here"):
        edited = marketplace.call("PATCH", f"/api/messages/{message_id}", "bob", {"content": text})
        assert edited.status == 200, edited.body
    report_id = report(marketplace, message_id).body["report"]["id"]
    marketplace.call("PATCH", f"/api/messages/{message_id}", "bob", {"content": "never mind"})
    assert marketplace.call("DELETE", f"/api/messages/{message_id}", "bob").status == 200

    detail = moderator(marketplace, "GET", f"/api/moderation/reports/{report_id}")

    assert detail.status == 200, detail.body
    snapshot = detail.body["snapshot"]
    assert snapshot["content"] == "send the money here" and snapshot["version"] == 3
    assert [(v["content"], v["version"]) for v in snapshot["earlierVersions"]] == [
        ("send the money to my paypal", 1),
        ("send the money to my p4ypal", 2),
    ]
    assert snapshot["attachmentKeys"] == [] and "editedAt" in snapshot
    shown = {m["id"]: m for m in detail.body["messages"]}
    assert shown[message_id]["isDeleted"] is True and shown[message_id]["content"] == ""
    stored = Message.get(PATTERN_CHAT, 1, consistent_read=True)
    assert stored.earlier_versions is None  # the tombstone keeps nothing; the report does


def test_an_edited_message_keeps_its_original_and_latest_texts_only(marketplace: Api) -> None:
    message_id = bobs_message(marketplace, "v1")
    for version in range(2, 14):
        assert marketplace.call("PATCH", f"/api/messages/{message_id}", "bob", {"content": f"v{version}"}).status == 200

    kept = Message.get(PATTERN_CHAT, 1, consistent_read=True).earlier_versions

    assert [v["content"] for v in kept] == ["v1", *(f"v{n}" for n in range(4, 13))]
    assert (
        marketplace.conversation("alice", PATTERN_CHAT)
        .body["messages"][0]
        .keys()
        .isdisjoint({"earlierVersions", "earlier_versions"})
    )


def test_a_reported_attachment_keeps_its_keys(marketplace: Api) -> None:
    bobs_message(marketplace, "here is the pattern")
    attachment_id = upload_pdf(marketplace, "bob", PATTERN_CHAT)
    sent = marketplace.send("bob", conversationId=PATTERN_CHAT, content="", attachment={"attachmentId": attachment_id})
    assert sent.status == 201, sent.body
    report_id = report(marketplace, sent.body["message"]["id"]).body["report"]["id"]

    snapshot = moderator(marketplace, "GET", f"/api/moderation/reports/{report_id}").body["snapshot"]

    assert snapshot["attachment"]["kind"] == "file"
    assert snapshot["attachmentKeys"] and all(attachment_id in key for key in snapshot["attachmentKeys"])


def test_deleting_a_reported_message_keeps_its_attachment_as_evidence(marketplace: Api) -> None:
    bobs_message(marketplace, "here is the pattern")
    kept, released = (upload_pdf(marketplace, "bob", PATTERN_CHAT) for _ in range(2))
    sent = {}
    for attachment_id in (kept, released):
        body = {"conversationId": PATTERN_CHAT, "content": "", "attachment": {"attachmentId": attachment_id}}
        sent[attachment_id] = marketplace.send("bob", **body).body["message"]["id"]
    report_id = report(marketplace, sent[kept]).body["report"]["id"]
    keys = moderator(marketplace, "GET", f"/api/moderation/reports/{report_id}").body["snapshot"]["attachmentKeys"]
    released_keys = [key.replace(kept, released) for key in keys]

    def state(key: str) -> str | None:
        tags = BUCKET.client.get_object_tagging(Bucket=BUCKET.bucket, Key=key)["TagSet"]
        return {tag["Key"]: tag["Value"] for tag in tags}.get("state")

    stored = {item["Key"] for item in BUCKET.client.list_objects_v2(Bucket=BUCKET.bucket).get("Contents", [])}
    keys = [key for key in keys if key in stored]
    released_keys = [key for key in released_keys if key in stored]
    before = {key: state(key) for key in keys}
    for attachment_id in (kept, released):
        assert marketplace.call("DELETE", f"/api/messages/{sent[attachment_id]}", "bob").status == 200

    assert "attached" in before.values()
    assert {key: state(key) for key in keys} == before  # held: no tag for the bucket's lifecycle rule
    assert {state(key) for key in released_keys} == {"pending"}  # an unreported one is released as before
    assert marketplace.call("GET", f"/api/attachments/{kept}", "alice").status == 404  # gone for the users


# --- the moderator's routes ---------------------------------------------------------------------------------


def test_open_reports_are_listed_oldest_first_in_pages(marketplace: Api) -> None:
    ids = [reported(marketplace, f"spam {n}")[1] for n in range(5)]

    first = moderator(marketplace, "GET", "/api/moderation/reports?limit=2")
    cursor = first.body["nextCursor"]
    second = moderator(marketplace, "GET", f"/api/moderation/reports?limit=2&cursor={cursor}")
    third = moderator(marketplace, "GET", f"/api/moderation/reports?limit=2&cursor={second.body['nextCursor']}")
    foreign = moderator(marketplace, "GET", f"/api/moderation/reports?status=resolved&cursor={cursor}")

    pages = [first, second, third]
    assert [[r["id"] for r in page.body["reports"]] for page in pages] == [ids[0:2], ids[2:4], ids[4:]]
    assert third.body["nextCursor"] is None
    assert first.body["reports"][0]["reporterId"] == "alice" and first.body["reports"][0]["reportedUserId"] == "bob"
    assert (foreign.status, foreign.body["error"]["code"]) == (400, "invalid_cursor")


def test_a_report_shows_its_snapshot_and_the_messages_around_it(marketplace: Api, monkeypatch: Any) -> None:
    monkeypatch.setenv("MODERATION_CONTEXT_MESSAGES", "2")
    get_settings.cache_clear()
    bobs_message(marketplace, "hello")
    for n in range(4):
        marketplace.send("alice" if n % 2 else "bob", conversationId=PATTERN_CHAT, content=f"m{n + 2}")
    target = message_id_for(PATTERN_CHAT, 4)
    for n in range(3):
        marketplace.send("bob", conversationId=PATTERN_CHAT, content=f"later {n}")
    report_id = report(marketplace, target).body["report"]["id"]

    detail = moderator(marketplace, "GET", f"/api/moderation/reports/{report_id}")

    assert detail.status == 200, detail.body
    assert [m["id"] for m in detail.body["messages"]] == [message_id_for(PATTERN_CHAT, s) for s in range(2, 7)]
    assert detail.body["report"]["id"] == report_id and detail.body["snapshot"]["messageId"] == target


def test_moderator_routes_refuse_users_and_the_service_role_and_user_routes_refuse_moderators(
    marketplace: Api,
) -> None:
    message_id, report_id = reported(marketplace)
    moderation = [
        ("GET", "/api/moderation/reports", None),
        ("GET", f"/api/moderation/reports/{report_id}", None),
        ("POST", f"/api/moderation/reports/{report_id}/resolution", {"action": "dismiss", "note": "ok"}),
        ("GET", "/api/moderation/audit", None),
    ]
    for method, path, body in moderation:
        for headers in (
            {"Authorization": f"Bearer {token_for('alice')}"},
            {"Authorization": f"Bearer {token_for('platform', role='service')}"},
        ):
            response = marketplace.call(method, path, body=body, headers=headers)
            assert (response.status, response.body["error"]["code"]) == (403, "moderator_role_required"), path

    as_moderator = moderator(marketplace, "POST", f"/api/messages/{message_id}/report", {"reason": "spam"})
    assert (as_moderator.status, as_moderator.body["error"]["code"]) == (403, "user_token_required")
    assert moderator(marketplace, "GET", "/api/messages/conversations").status == 403
    assert audit_actions(marketplace) == ["read_audit"]  # nothing the refused calls did was a moderator's read


def test_a_report_resolved_long_ago_no_longer_opens_its_conversation(marketplace: Api) -> None:
    _, report_id = reported(marketplace)
    resolved = moderator(
        marketplace, "POST", f"/api/moderation/reports/{report_id}/resolution", {"action": "dismiss", "note": "fine"}
    )
    assert resolved.status == 200, resolved.body
    assert moderator(marketplace, "GET", f"/api/moderation/reports/{report_id}").status == 200
    item = ModerationItem.get(f"report#{report_id}", "report", consistent_read=True)
    item.data["resolution"]["resolvedAt"] = iso(utc_now() - timedelta(days=31))
    item.save()

    late = moderator(marketplace, "GET", f"/api/moderation/reports/{report_id}")

    assert (late.status, late.body["error"]["code"]) == (403, "moderation_window_passed")
    assert "snapshot" not in late.body


def test_unknown_report_ids_are_404(marketplace: Api) -> None:
    for path in ("/api/moderation/reports/rpt_nope", f"/api/moderation/reports/{report_id_for('msg_x_1', 'a')}"):
        response = moderator(marketplace, "GET", path)
        assert (response.status, response.body["error"]["code"]) == (404, "not_found")


# --- the audit log ------------------------------------------------------------------------------------------


def test_every_moderator_read_and_decision_is_in_the_audit_log(marketplace: Api) -> None:
    message_id, report_id = reported(marketplace)
    moderator(marketplace, "GET", "/api/moderation/reports")
    moderator(marketplace, "GET", f"/api/moderation/reports/{report_id}", who="mod2")
    moderator(
        marketplace, "POST", f"/api/moderation/reports/{report_id}/resolution", {"action": "dismiss", "note": "n"}
    )

    everything = moderator(marketplace, "GET", "/api/moderation/audit").body["entries"]
    by_conversation = audit_actions(marketplace, f"?conversationId={PATTERN_CHAT}")
    by_mod2 = audit_actions(marketplace, "?moderatorId=mod2")
    both = audit_actions(marketplace, f"?moderatorId={MODERATOR}&conversationId={PATTERN_CHAT}")

    # Newest first; reading the audit log is audited too, before it is read.
    assert [e["action"] for e in everything] == ["read_audit", "resolve_report", "read_report", "list_reports"]
    _, resolution, read, listing = everything
    assert (read["moderatorId"], read["reportId"], read["conversationId"], read["messageId"]) == (
        "mod2",
        report_id,
        PATTERN_CHAT,
        message_id,
    )
    assert resolution["details"] == {"action": "dismiss"} and listing["details"] == {"status": "open"}
    assert by_conversation == ["resolve_report", "read_report"]
    assert by_mod2 == ["read_report"]
    assert both == ["resolve_report"]


def test_the_audit_log_pages_newest_first(marketplace: Api) -> None:
    for _ in range(4):
        moderator(marketplace, "GET", "/api/moderation/reports")

    first = moderator(marketplace, "GET", "/api/moderation/audit?limit=3")
    second = moderator(marketplace, "GET", f"/api/moderation/audit?limit=3&cursor={first.body['nextCursor']}")

    assert len(first.body["entries"]) == 3 and first.body["nextCursor"]
    assert [e["action"] for e in second.body["entries"]] == ["list_reports", "list_reports"]
    assert second.body["nextCursor"] is None
    ids = [e["id"] for e in first.body["entries"] + second.body["entries"]]
    assert len(set(ids)) == 5  # four listings and the first audit read


@pytest.mark.parametrize(
    "path",
    [
        "/api/moderation/reports",
        "/api/moderation/reports/{report}",
        "/api/moderation/audit",
        f"/api/moderation/audit?conversationId={PATTERN_CHAT}",
    ],
)
def test_a_read_whose_audit_entry_cannot_be_written_shows_nothing(marketplace: Api, path: str) -> None:
    _, report_id = reported(marketplace)

    with dynamodb_failing("TransactWriteItems") as seen:
        response = moderator(marketplace, "GET", path.format(report=report_id))

    assert response.status == 503, response.body
    assert response.body == {
        "error": {
            "code": "audit_unavailable",
            "message": "the audit log is unavailable: nothing is shown until it can be written, retry the request",
        }
    }
    assert "Query" not in seen  # nothing was read for the answer
    assert audit_actions(marketplace) == ["read_audit"]


# --- resolutions --------------------------------------------------------------------------------------------


def resolve(api: Api, report_id: str, action: str, **body: Any) -> Response:
    return moderator(
        api, "POST", f"/api/moderation/reports/{report_id}/resolution", {"action": action, "note": "n", **body}
    )


def test_a_dismissed_report_is_resolved_once(marketplace: Api) -> None:
    _, report_id = reported(marketplace)

    dismissed = resolve(marketplace, report_id, "dismiss")
    again = resolve(marketplace, report_id, "suspend_user", suspendDays=3)

    assert dismissed.status == 200, dismissed.body
    body = dismissed.body["report"]
    assert body["status"] == "resolved"
    assert {k: body["resolution"][k] for k in ("action", "note", "moderatorId")} == {
        "action": "dismiss",
        "note": "n",
        "moderatorId": MODERATOR,
    }
    assert (again.status, again.body["error"]["code"]) == (409, "report_resolved")
    resolved = moderator(marketplace, "GET", "/api/moderation/reports?status=resolved").body["reports"]
    assert [r["id"] for r in resolved] == [report_id]
    assert moderator(marketplace, "GET", "/api/moderation/reports").body["reports"] == []
    assert marketplace.send("bob", conversationId=PATTERN_CHAT).status == 201  # nothing happened to bob


def test_concurrent_resolutions_resolve_once(marketplace: Api) -> None:
    _, report_id = reported(marketplace)
    answers: list[Response] = []
    barrier = threading.Barrier(3)

    def one(who: str) -> None:
        barrier.wait()
        answers.append(
            moderator(
                marketplace,
                "POST",
                f"/api/moderation/reports/{report_id}/resolution",
                {"action": "dismiss", "note": who},
                who=who,
            )
        )

    threads = [threading.Thread(target=one, args=(f"mod{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(a.status for a in answers) == [200, 409, 409], [a.body for a in answers]
    assert audit_actions(marketplace).count("resolve_report") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "suspend_user"}, "suspendDays"),
        ({"action": "dismiss", "suspendDays": 2}, "suspendDays"),
        ({"action": "suspend_user", "suspendDays": 0}, "suspendDays"),
        ({"action": "suspend_user", "suspendDays": 366}, "suspendDays"),
        ({"action": "ban"}, "action"),
        ({"action": "dismiss", "note": ""}, "note"),
    ],
)
def test_invalid_resolutions_are_400_and_change_nothing(marketplace: Api, body: dict[str, Any], field: str) -> None:
    _, report_id = reported(marketplace)

    response = moderator(marketplace, "POST", f"/api/moderation/reports/{report_id}/resolution", {"note": "n", **body})

    assert response.status == 400, response.body
    assert field in {d["field"] for d in response.body["error"]["details"]}
    assert moderator(marketplace, "GET", f"/api/moderation/reports/{report_id}").body["report"]["status"] == "open"


def test_delete_message_tombstones_it_for_everyone_with_the_resolution(marketplace: Api, sockets: Sockets) -> None:
    message_id, report_id = reported(marketplace)
    alice, bob = sockets.connect("alice"), sockets.connect("bob")

    resolved = resolve(marketplace, report_id, "delete_message")

    assert resolved.status == 200, resolved.body
    assert resolved.body["report"]["resolution"]["action"] == "delete_message"
    for user in ("alice", "bob"):
        shown = marketplace.conversation(user, PATTERN_CHAT).body["messages"][0]
        assert (shown["id"], shown["isDeleted"], shown["content"]) == (message_id, True, "")
    for connection in (alice, bob):
        deleted = sockets.events(connection, "message_deleted")
        assert [d["messageId"] for d in deleted] == [message_id], sockets.names(connection)
    assert moderator(marketplace, "GET", f"/api/moderation/reports/{report_id}").body["snapshot"]["content"]


def test_delete_message_is_atomic_with_the_resolution(marketplace: Api) -> None:
    _, report_id = reported(marketplace)

    with dynamodb_failing("TransactWriteItems"):
        failed = resolve(marketplace, report_id, "delete_message")

    assert failed.status == 503
    assert Message.get(PATTERN_CHAT, 1, consistent_read=True).is_deleted is None
    assert moderator(marketplace, "GET", f"/api/moderation/reports/{report_id}").body["report"]["status"] == "open"
    assert resolve(marketplace, report_id, "delete_message").status == 200
    assert Message.get(PATTERN_CHAT, 1, consistent_read=True).is_deleted is True


def test_delete_message_of_a_message_its_sender_deleted_resolves_the_report(marketplace: Api) -> None:
    message_id, report_id = reported(marketplace)
    assert marketplace.call("DELETE", f"/api/messages/{message_id}", "bob").status == 200

    assert resolve(marketplace, report_id, "delete_message").status == 200


# --- suspension ---------------------------------------------------------------------------------------------


def test_a_suspended_user_is_refused_everywhere_until_the_suspension_ends(marketplace: Api, sockets: Sockets) -> None:
    _, report_id = reported(marketplace)
    live = sockets.connect("bob")

    resolved = resolve(marketplace, report_id, "suspend_user", suspendDays=7)

    assert resolved.status == 200, resolved.body
    until = resolved.body["report"]["resolution"]["suspendedUntil"]
    assert resolved.body["report"]["resolution"]["suspendDays"] == 7
    refused = [
        marketplace.send("bob", conversationId=PATTERN_CHAT),
        marketplace.conversations("bob"),
        marketplace.call("GET", "/api/messages/sync", "bob"),
    ]
    assert {(r.status, r.body["error"]["code"]) for r in refused} == {(403, "account_suspended")}
    assert refused[0].body["error"]["details"] == {"suspendedUntil": until}
    assert sockets.was_closed(live)
    assert sockets.connect_status(token_for("bob")) == 403
    assert marketplace.conversations("alice").status == 200  # only bob

    # The suspension ends: REST and sockets work again.
    ModerationItem("suspension#bob", "suspension").update(
        actions=[ModerationItem.suspended_until.set(iso(utc_now() - timedelta(seconds=1)))]
    )
    UserProfile("bob").update(actions=[UserProfile.suspended_until.set(iso(utc_now() - timedelta(seconds=1)))])
    suspensions.ACTIVE.load()
    assert marketplace.send("bob", conversationId=PATTERN_CHAT).status == 201
    sockets.connect("bob")


def test_a_socket_frame_of_a_suspended_user_is_refused(
    marketplace: Api, sockets: Sockets, install_services: Any
) -> None:
    installed = install_services(connections=RecordingConnections())  # a close that API Gateway did not carry out
    _, report_id = reported(marketplace)
    bob = sockets.connect("bob")
    assert resolve(marketplace, report_id, "suspend_user", suspendDays=1).status == 200
    assert installed.connections.closed == [bob]

    sockets.send(bob, "typing_start", conversationId=PATTERN_CHAT)

    errors = [data["code"] for event, data in installed.connections.received(bob) if event == "error"]
    assert errors == ["account_suspended"]


def test_another_container_sees_a_suspension_within_its_refresh_interval(
    marketplace: Api, dynamo_calls: DynamoCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [0.0]
    other = suspensions.Suspensions(monotonic=lambda: clock[0])
    monkeypatch.setenv("SUSPENSION_REFRESH_SECONDS", "10")
    get_settings.cache_clear()
    other.check("bob")  # loads the (empty) list
    _, report_id = reported(marketplace)
    assert resolve(marketplace, report_id, "suspend_user", suspendDays=1).status == 200

    dynamo_calls.reset()
    clock[0] = 9.0
    other.check("bob")  # still within the interval: no round trip, not yet seen
    assert dynamo_calls.total == 0
    clock[0] = 10.0
    with pytest.raises(Exception, match="suspended"):
        other.check("bob")
    assert dict(dynamo_calls.operations) == {"Query": 1}  # one Query of the active suspensions


def test_connect_is_refused_for_a_suspended_user_even_before_the_rest_list_knows(
    marketplace: Api, sockets: Sockets
) -> None:
    _, report_id = reported(marketplace)
    assert resolve(marketplace, report_id, "suspend_user", suspendDays=1).status == 200
    suspensions.ACTIVE.reset()  # a container that has not refreshed yet

    assert sockets.connect_status(token_for("bob")) == 403
    assert marketplace.conversations("bob").status == 200  # REST: within the refresh interval, as documented


def test_the_moderator_role_cannot_open_a_socket(marketplace: Api, sockets: Sockets) -> None:
    assert sockets.connect_status(token_for(MODERATOR, role="moderator")) == 403


def test_a_report_racing_the_deletion_either_holds_the_evidence_or_is_refused(marketplace: Api) -> None:
    bobs_message(marketplace, "here is the pattern")
    for _ in range(3):
        attachment_id = upload_pdf(marketplace, "bob", PATTERN_CHAT)
        body = {"conversationId": PATTERN_CHAT, "content": "", "attachment": {"attachmentId": attachment_id}}
        message_id = marketplace.send("bob", **body).body["message"]["id"]
        answers: dict[str, Response] = {}
        barrier = threading.Barrier(2)

        def act(
            name: str,
            message_id: str = message_id,
            answers: dict[str, Response] = answers,
            barrier: threading.Barrier = barrier,
        ) -> None:
            barrier.wait()
            if name == "report":
                answers[name] = report(marketplace, message_id)
            else:
                answers[name] = marketplace.call("DELETE", f"/api/messages/{message_id}", "bob")

        threads = [threading.Thread(target=act, args=(name,)) for name in ("report", "delete")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert answers["delete"].status == 200
        stored = [o["Key"] for o in BUCKET.client.list_objects_v2(Bucket=BUCKET.bucket).get("Contents", [])]
        served = [key for key in stored if attachment_id in key and not key.endswith("/original")]
        states = {
            tag["Value"]
            for key in served
            for tag in BUCKET.client.get_object_tagging(Bucket=BUCKET.bucket, Key=key)["TagSet"]
            if tag["Key"] == "state"
        }
        if answers["report"].status == 201:
            assert states == {"attached"}, states  # reported first: the deletion kept the evidence
        else:
            assert (answers["report"].status, answers["report"].body["error"]["code"]) == (409, "message_deleted")
            assert states == {"pending"}, states


def test_reports_and_resolutions_reach_the_messages_stream(marketplace: Api) -> None:
    """What issue 18's webhooks (``message.reported``, ``report.resolved``) consume: the report's summary on the
    message, in the messages table's stream (decoded as every stream consumer gets it)."""
    message_id, report_id = reported(marketplace)
    deleted_id, deleted_report = reported(marketplace, "second")
    assert resolve(marketplace, report_id, "dismiss").status == 200
    assert resolve(marketplace, deleted_report, "delete_message").status == 200

    region = get_settings().region
    arn = boto3.client("dynamodb", region_name=region).describe_table(TableName=Message.Meta.table_name)["Table"][
        "LatestStreamArn"
    ]
    streams = boto3.client("dynamodbstreams", region_name=region, config=Config(account_id_endpoint_mode="disabled"))
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    changes = [decode(record) for record in streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]]

    def summaries(message: str) -> list[tuple[str | None, str | None, bool]]:
        seen = []
        for change in changes:
            if change.message.id != message or change.new is None:
                continue
            before = change.old.report if change.old else None
            after = change.new.report
            if before != after and after is not None:
                seen.append((after["status"], after.get("action"), change.new.is_deleted))
        return seen

    assert summaries(message_id) == [("open", None, False), ("resolved", "dismiss", False)]
    assert summaries(deleted_id) == [("open", None, False), ("resolved", "delete_message", True)]
    opened = next(c.new for c in changes if c.new is not None and c.new.report and c.new.id == message_id)
    assert opened.report == {
        "id": report_id,
        "reason": "scam",
        "reporterId": "alice",
        "status": "open",
        "createdAt": opened.report["createdAt"],
    }
