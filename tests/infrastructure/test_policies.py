"""The least-privilege policy files against what the code calls.

The integration suite runs in a child pytest with ``tests.infrastructure.aws_calls`` recording every AWS call
(and presigned URL) the application code makes; ``iam.required`` turns each into IAM actions on the stage's
ARNs. Each stage's policy must allow every one of them, and grant nothing that no call needs, apart from the
two grants the Lambda runtime uses outside the code's botocore calls (RUNTIME_GRANTS).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infrastructure import policy as policy_template
from infrastructure.deploy import ROOT
from infrastructure.policy import Grant, render, stale
from tests.infrastructure import iam
from tests.infrastructure.aws_calls import OUT_VARIABLE
from tests.infrastructure.support import STAGES, chalice_config, policy, stage_environment

ACCOUNT, REGION = "123456789012", "us-east-1"
# Grants no botocore call of the code shows, and why they are needed anyway.
RUNTIME_GRANTS = {
    ("Logs", "logs:CreateLogStream"): "the Lambda runtime writes the function's logs with the role",
    ("Logs", "logs:PutLogEvents"): "the Lambda runtime writes the function's logs with the role",
    ("JwtSecret", "ssm:GetParameter"): "settings read JWT_SECRET_SSM_PARAMETER at cold start (tests set JWT_SECRET)",
    ("UploadFailuresQueue", "sqs:ReceiveMessage"): "on_upload_failure's SQS event source polls with the role",
    ("UploadFailuresQueue", "sqs:DeleteMessage"): "on_upload_failure's SQS event source deletes what it handled",
    ("UploadFailuresQueue", "sqs:GetQueueAttributes"): "Lambda reads the queue's attributes for the event source",
    ("DigestQueue", "sqs:ReceiveMessage"): "on_email_digest's SQS event source polls with the role",
    ("DigestQueue", "sqs:DeleteMessage"): "on_email_digest's SQS event source deletes what it handled",
    ("DigestQueue", "sqs:GetQueueAttributes"): "Lambda reads the queue's attributes for the event source",
    ("WebhookQueue", "sqs:ReceiveMessage"): "on_webhook's SQS event source polls with the role",
    ("WebhookQueue", "sqs:DeleteMessage"): "on_webhook's SQS event source deletes what it handled",
    ("WebhookQueue", "sqs:GetQueueAttributes"): "Lambda reads the queue's attributes for the event source",
    (
        "WebhookSecret",
        "ssm:GetParameter",
    ): "the webhook sender reads WEBHOOK_SECRET_SSM_PARAMETER (tests set the secret)",
    ("PushQueue", "sqs:ReceiveMessage"): "on_push's SQS event source polls with the role",
    ("PushQueue", "sqs:DeleteMessage"): "on_push's SQS event source deletes what it handled",
    ("PushQueue", "sqs:GetQueueAttributes"): "Lambda reads the queue's attributes for the event source",
    (
        "VapidKey",
        "ssm:GetParameter",
    ): "the push sender reads VAPID_PRIVATE_KEY_SSM_PARAMETER on first use (tests: none)",
    ("MessagesStream", "dynamodb:DescribeStream"): "on_message_stream's event source mapping reads the stream",
    ("MessagesStream", "dynamodb:GetRecords"): "on_message_stream's event source mapping reads the stream",
    ("MessagesStream", "dynamodb:GetShardIterator"): "on_message_stream's event source mapping reads the stream",
    ("MessagesStream", "dynamodb:ListStreams"): "on_message_stream's event source mapping reads the stream",
    ("StreamFailuresQueue", "sqs:SendMessage"): "the event source mapping sends what it gave up on (on-failure)",
}
# sqs:SendMessage is also what Lambda needs with the role to put on_upload's failed invocations on its dead-letter
# queue; the app's own use (settling tags after a send) is recorded.
ALLOWED_KEYS = {"Sid", "Effect", "Action", "Resource"}
PYTEST = (sys.executable, "-m", "pytest", "-o", "addopts=")
QUEUE_VARIABLES = ("UPLOAD_FAILURES_QUEUE", "DIGEST_QUEUE", "WEBHOOK_QUEUE", "PUSH_QUEUE", "STREAM_FAILURES_QUEUE")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Every distinct AWS call of the application code while the integration suite runs."""
    out = tmp_path_factory.mktemp("aws-calls") / "calls.json"
    result = subprocess.run(
        [*PYTEST, "tests/integration", "-q", "-p", "tests.infrastructure.aws_calls", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env={**os.environ, OUT_VARIABLE: str(out)},
        capture_output=True,
        text=True,
        check=False,
    )
    # 1 = some integration test failed: that run reports it; the calls made are still what the code needs.
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\d+ passed", result.stdout), result.stdout[-3000:]
    return json.loads(Path(out).read_text())


def names(stage: str) -> iam.Names:
    """Recorded names (the test stage's) -> the stage's names."""
    environment = stage_environment(stage)
    buckets = {"crochet-messaging-test-attachments": environment["ATTACHMENTS_BUCKET"]}
    # Chalice's test client runs requests with the dev stage's variables: settings rebuilt then name its bucket.
    buckets.update(
        {stage_environment(other)["ATTACHMENTS_BUCKET"]: environment["ATTACHMENTS_BUCKET"] for other in STAGES}
    )
    # Every queue the code sends to: the test stage's name (recorded) and each stage's -> this stage's.
    queues: dict[str, str] = {}
    for variable in QUEUE_VARIABLES:
        short = environment[variable].removeprefix(f"crochet-messaging-{stage}-")
        queues[f"crochet-messaging-test-{short}"] = environment[variable]
        queues.update({stage_environment(other)[variable]: environment[variable] for other in STAGES})
    return iam.Names(
        region=REGION,
        account=ACCOUNT,
        table_prefix_recorded="test-",
        table_prefix=environment["TABLE_PREFIX"],
        buckets=buckets,
        websocket_api_id=environment.get("WEBSOCKET_API_ID") or "a1b2c3d4e5",
        websocket_stage=chalice_config()["stages"][stage]["api_gateway_stage"],
        queues=queues,
        email_from=environment.get("NOTIFY_EMAIL_FROM"),
    )


def needed(recorded: list[dict[str, Any]], stage: str) -> dict[iam.Permission, set[str]]:
    """(action, resource) -> the code that needs it."""
    found: dict[iam.Permission, set[str]] = {}
    for call in recorded:
        for permission in iam.required(call, names(stage)):
            found.setdefault(permission, set()).add(call["caller"])
    return found


def test_the_recording_saw_every_kind_of_call_and_only_application_code(recorded: list[dict[str, Any]]) -> None:
    kinds = {(call["service"], call["operation"]) for call in recorded}
    assert {
        ("dynamodb", "TransactWriteItems"),
        ("dynamodb", "BatchGetItem"),
        ("dynamodb", "Query"),
        ("s3", "presign:PostObject"),
        ("s3", "presign:GetObject"),
        ("s3", "HeadObject"),
        ("s3", "PutObjectTagging"),
        ("s3", "CopyObject"),
        ("sqs", "SendMessage"),
        ("apigatewaymanagementapi", "PostToConnection"),
    } <= kinds
    assert any(call.get("IndexName") == "by_activity" for call in recorded)
    assert all(call["caller"].startswith(("chalicelib/", "app.py")) for call in recorded)
    assert not any(call["caller"].endswith((":create_tables", ":ensure_bucket", ":ensure")) for call in recorded)


@pytest.mark.parametrize("stage", STAGES)
def test_the_policy_grants_every_call_the_code_makes(recorded: list[dict[str, Any]], stage: str) -> None:
    document = policy(stage)
    missing = {
        f"{action} on {resource} (by {', '.join(sorted(callers))})"
        for (action, resource), callers in needed(recorded, stage).items()
        if not iam.allows(document, action, resource)
    }
    assert not missing, f".chalice/policy-{stage}.json lacks:\n" + "\n".join(sorted(missing))


@pytest.mark.parametrize("stage", STAGES)
def test_the_policy_grants_nothing_the_code_does_not_use(recorded: list[dict[str, Any]], stage: str) -> None:
    permissions = needed(recorded, stage)
    unused = [
        f"{sid}: {action} on {pattern}"
        for sid, action, pattern in iam.grants(policy(stage))
        if (sid, action) not in RUNTIME_GRANTS
        and not any(
            iam.matches(action, used_action, case_sensitive=False) and iam.matches(pattern, resource)
            for used_action, resource in permissions
        )
    ]
    assert not unused, f".chalice/policy-{stage}.json grants what no call needs:\n" + "\n".join(unused)


def test_the_checks_above_can_fail(recorded: list[dict[str, Any]]) -> None:
    document = policy("dev")
    needs = needed(recorded, "dev")
    without_transactions = {
        "Version": "2012-10-17",
        "Statement": [s for s in document["Statement"] if s["Sid"] != "TableMessages"],
    }
    assert any(not iam.allows(without_transactions, action, resource) for action, resource in needs)
    # dev's policy allows none of prod's tables or bucket (the WebSocket grant is pinned to the stage's own API
    # id by deploy.py once the API exists; see test_the_policy_names_only_the_stages_own_resources).
    prod = [(action, resource) for action, resource in needed(recorded, "prod") if ":execute-api:" not in resource]
    assert prod and not any(iam.allows(document, action, resource) for action, resource in prod)


@pytest.mark.parametrize("stage", STAGES)
def test_the_policy_is_plain_allows_of_named_actions(stage: str) -> None:
    document = policy(stage)
    assert document["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in iam.statements(document)]
    assert len(sids) == len(set(sids)) and all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids)
    for statement in iam.statements(document):
        # The evaluation in iam.py is exact only for these: no Deny, NotAction, NotResource or Condition.
        assert set(statement) == ALLOWED_KEYS and statement["Effect"] == "Allow", statement
        for _, action, resource in iam.grants({"Statement": [statement]}):
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", action), f"{action}: no wildcard actions"
            assert resource != "*" and resource.startswith("arn:"), resource


@pytest.mark.parametrize("stage", STAGES)
def test_the_policy_names_only_the_stages_own_resources(stage: str) -> None:
    api_stage = chalice_config()["stages"][stage]["api_gateway_stage"]
    api_id = stage_environment(stage).get("WEBSOCKET_API_ID")
    own = (
        f":table/crochet-messaging-{stage}-",
        f":::crochet-messaging-{stage}-attachments",
        f":parameter/crochet-messaging/{stage}/",
        f":log-group:/aws/lambda/crochet-messaging-{stage}",
        f":sqs:*:*:crochet-messaging-{stage}-",
        # The digest's sender: the stage's own address and its domain (SES authorizes either identity).
        *(
            f":identity/{identity}"
            for sender in [stage_environment(stage).get("NOTIFY_EMAIL_FROM")]
            if sender
            for identity in (sender, sender.rsplit("@", 1)[-1])
        ),
    )
    others = [f"crochet-messaging-{other}" for other in STAGES if other != stage]
    for sid, _, resource in iam.grants(policy(stage)):
        assert not any(other in resource for other in others), f"{sid}: {resource}"
        if ":execute-api:" in resource:
            # The WebSocket API's id is known after the first deploy; deploy.py pins it then.
            pinned = re.escape(api_id) if api_id else r"(\*|[a-z0-9]{10})"
            assert re.fullmatch(
                rf"arn:\*:execute-api:\*:\*:{pinned}/{api_stage}/(POST|DELETE|GET)/@connections/\*", resource
            ), resource
        else:
            assert any(marker in resource for marker in own), f"{sid}: {resource}"


# --- one template for every stage (infrastructure/policy.py) -------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_the_committed_policy_is_the_rendering_of_the_one_template(stage: str) -> None:
    assert policy(stage) == render(chalice_config(), stage), "run `make policies`"
    assert stale(chalice_config()) == []


def test_each_stage_has_its_own_api_gateway_stage_and_cannot_post_to_the_others() -> None:
    """Finding 15: dev and prod shared `v1`, so dev's functions could post to prod's connections."""
    api_stages = {stage: chalice_config()["stages"][stage]["api_gateway_stage"] for stage in STAGES}
    assert len(set(api_stages.values())) == len(STAGES), api_stages
    for stage in STAGES:
        for other in STAGES:
            connection = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5/{api_stages[other]}/POST/@connections/abc="
            allowed = iam.allows(policy(stage), "execute-api:ManageConnections", connection)
            assert allowed == (stage == other), (stage, other)


def test_a_statement_is_one_line_of_the_template(monkeypatch: pytest.MonkeyPatch) -> None:
    added = Grant("UploadDeadLetters", ["sqs:SendMessage"], ["arn:*:sqs:*:*:{app}-{stage}-on-upload-dlq"])
    monkeypatch.setattr(policy_template, "STATEMENTS", (*policy_template.STATEMENTS, added))

    rendered = render(chalice_config(), "prod")

    assert rendered["Statement"][-1] == {
        "Sid": "UploadDeadLetters",
        "Effect": "Allow",
        "Action": ["sqs:SendMessage"],
        "Resource": ["arn:*:sqs:*:*:crochet-messaging-prod-on-upload-dlq"],
    }
    monkeypatch.setattr(policy_template, "STATEMENTS", (Grant("Typo", ["s3:GetObject"], ["arn:*:s3:::{buckett}"]),))
    with pytest.raises(KeyError, match="buckett"):
        render(chalice_config(), "prod")


def test_the_recorded_api_id_narrows_the_grant_and_jwks_stages_get_no_ssm_grant() -> None:
    config = chalice_config()
    config["stages"]["dev"]["environment_variables"]["WEBSOCKET_API_ID"] = "a1b2c3d4e5"
    del config["stages"]["dev"]["environment_variables"]["JWT_SECRET_SSM_PARAMETER"]

    statements = {statement["Sid"]: statement for statement in render(config, "dev")["Statement"]}

    assert statements["WebSocketDelivery"]["Resource"] == [
        f"arn:*:execute-api:*:*:a1b2c3d4e5/dev/{method}/@connections/*" for method in ("POST", "DELETE", "GET")
    ]
    assert "JwtSecret" not in statements
