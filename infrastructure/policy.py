"""The functions' IAM policy: one definition for every stage, rendered into ``.chalice/policy-<stage>.json``.

    python -m infrastructure.policy            # make policies: (re)write every stage's file from STATEMENTS
    python -m infrastructure.policy --check    # exit 1 when a committed file is not its rendering

Each statement of ``STATEMENTS`` is one line: a Sid, its actions, its resources with ``{placeholders}`` filled from
the stage's ``.chalice/config.json`` (``PLACEHOLDERS`` says from where). Adding a grant is adding a line, e.g.::

    Grant("Notifications", ["sqs:SendMessage"], ["arn:*:sqs:*:*:{app}-{stage}-notifications"]),

then ``make policies``. A statement naming a setting the stage does not have (no ``JWT_SECRET_SSM_PARAMETER``
in JWKS mode) is left out. ``tests/infrastructure/test_policies.py`` checks the committed files are the rendering
and that every grant is used by the code (or listed, with its reason, in ``RUNTIME_GRANTS`` there).

The WebSocket API's id exists only after the first ``chalice deploy``: until ``WEBSOCKET_API_ID`` is in the
stage's environment the ``@connections`` grant names any API (``*``) of the stage's own API Gateway stage;
``infrastructure/deploy.py`` records the id and renders the file again, ``infrastructure/package.py`` renders
it with ``${WebsocketAPI}`` (a CloudFormation ``Fn::Sub``).
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".chalice" / "config.json"


@dataclass(frozen=True)
class Grant:
    """One ``Allow`` statement: named actions on resources (``{placeholder}`` templates)."""

    sid: str
    actions: Sequence[str]
    resources: Sequence[str]


def table(name: str, *actions: str) -> Grant:
    """The DynamoDB actions the code performs on one table (transactions are authorized item by item)."""
    sid = "Table" + "".join(part.title() for part in name.split("_"))
    return Grant(sid, [f"dynamodb:{action}" for action in actions], [f"{TABLES}{name}"])


LAMBDA_LOGS = "arn:*:logs:*:*:log-group:/aws/lambda/{app}-{stage}"
TABLES = "arn:*:dynamodb:*:*:table/{table_prefix}"
BUCKET = "arn:*:s3:::{bucket}"
# Post frames, close a connection whose token expired (DELETE), ask whether one is still open (GET).
CONNECTIONS = [
    f"arn:*:execute-api:*:*:{{websocket_api}}/{{api_stage}}/{method}/@connections/*"
    for method in ("POST", "DELETE", "GET")
]

STATEMENTS: tuple[Grant, ...] = (
    Grant("Logs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{LAMBDA_LOGS}:*", f"{LAMBDA_LOGS}-*:*"]),
    table("users", "BatchGetItem", "GetItem", "UpdateItem"),  # GetItem: preferences, the digest worker (issue 18)
    table("patterns", "BatchGetItem", "GetItem", "PutItem"),
    table("purchases", "BatchGetItem", "UpdateItem"),
    table("conversations", "BatchGetItem", "GetItem", "PutItem", "UpdateItem"),
    table("memberships", "BatchGetItem", "PutItem"),  # BatchGetItem: a push job reads the recipient's mute (issue 18)
    table("messages", "BatchGetItem", "ConditionCheckItem", "GetItem", "PutItem", "Query", "UpdateItem"),
    table("idempotency", "BatchGetItem", "PutItem"),
    table("connections", "BatchGetItem", "DeleteItem", "GetItem", "PutItem", "UpdateItem"),
    table("feeds", "PutItem", "Query"),
    table("attachments", "BatchGetItem", "GetItem", "PutItem", "UpdateItem"),
    table("rate_limits", "UpdateItem"),
    table("contacts", "BatchGetItem", "PutItem"),
    table("search_index", "BatchWriteItem", "Query"),
    table("push_subscriptions", "BatchGetItem", "DeleteItem", "PutItem", "Query", "UpdateItem"),
    Grant("MembershipsByActivity", ["dynamodb:Query"], [f"{TABLES}memberships/index/by_activity"]),
    # Issue 16: archived conversations and message requests; blocks (read with snapshots, checked in transactions).
    Grant("MembershipsByFolder", ["dynamodb:Query"], [f"{TABLES}memberships/index/by_folder"]),
    table("blocks", "BatchGetItem", "ConditionCheckItem", "DeleteItem", "PutItem", "Query"),
    # Reports, the audit log, suspensions (issue 16): reports and audit entries are put in transactions, a report
    # resolved by a put, the audit log queried by partition, reports and suspensions by their indexes.
    table("moderation", "BatchGetItem", "PutItem", "Query"),
    Grant(
        "ModerationIndexes",
        ["dynamodb:Query"],
        [f"{TABLES}moderation/index/queue", f"{TABLES}moderation/index/suspensions"],
    ),
    Grant("AttachmentObjects", ["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"], [f"{BUCKET}/conversations/*"]),
    Grant("AttachmentsBucketMissingKeysAre404", ["s3:ListBucket"], [BUCKET]),
    # on_upload's dead-letter queue: Lambda's dead-letter delivery and the app settling tags send to it (SendMessage),
    # the app finds its URL, on_upload_failure's event source mapping receives, deletes and reads its attributes.
    Grant(
        "UploadFailuresQueue",
        ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage"],
        ["arn:*:sqs:*:*:{upload_failures_queue}"],
    ),
    # Web Push: the stream consumer enqueues (SendMessageBatch is authorized as SendMessage), on_push puts a job back
    # for later (ChangeMessageVisibility), its event source mapping receives, deletes and reads the attributes.
    Grant(
        "PushQueue",
        [
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:ReceiveMessage",
            "sqs:SendMessage",
        ],
        ["arn:*:sqs:*:*:{push_queue}"],
    ),
    Grant("VapidKey", ["ssm:GetParameter"], ["arn:*:ssm:*:*:parameter{vapid_parameter}"]),
    # on_message_stream's event source mapping reads the messages stream with the role, and sends what it gave up on
    # to the stream-failures queue (its on-failure destination) with it too.
    Grant(
        "MessagesStream",
        ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
        [f"{TABLES}messages/stream/*"],
    ),
    Grant("StreamFailuresQueue", ["sqs:SendMessage"], ["arn:*:sqs:*:*:{stream_failures_queue}"]),
    Grant("WebSocketDelivery", ["execute-api:ManageConnections"], CONNECTIONS),
    Grant("JwtSecret", ["ssm:GetParameter"], ["arn:*:ssm:*:*:parameter{jwt_parameter}"]),
    # Issue 18.
    # The stream consumer queues digest windows (delayed) and webhook events; their consumers' event source
    # mappings receive, delete and read attributes; the webhook consumer sets each retry's wait.
    Grant(
        "DigestQueue",
        ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage"],
        ["arn:*:sqs:*:*:{digest_queue}"],
    ),
    Grant(
        "WebhookQueue",
        [
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:ReceiveMessage",
            "sqs:SendMessage",
        ],
        ["arn:*:sqs:*:*:{webhook_queue}"],
    ),
    # SES v2 SendEmail (raw MIME) from the digests' sender, verified as an address or as its domain.
    Grant(
        "DigestEmail",
        ["ses:SendEmail"],
        ["arn:*:ses:*:*:identity/{email_from}", "arn:*:ses:*:*:identity/{email_domain}"],
    ),
    Grant("WebhookSecret", ["ssm:GetParameter"], ["arn:*:ssm:*:*:parameter{webhook_parameter}"]),
)

# Where each placeholder's value comes from.
PLACEHOLDERS = {
    "app": "app_name",
    "stage": "the stage's name",
    "table_prefix": "TABLE_PREFIX",
    "bucket": "ATTACHMENTS_BUCKET",
    "jwt_parameter": "JWT_SECRET_SSM_PARAMETER (starts with /)",
    "upload_failures_queue": "UPLOAD_FAILURES_QUEUE",
    "digest_queue": "DIGEST_QUEUE",
    "webhook_queue": "WEBHOOK_QUEUE",
    "email_from": "NOTIFY_EMAIL_FROM",
    "email_domain": "NOTIFY_EMAIL_FROM's domain",
    "webhook_parameter": "WEBHOOK_SECRET_SSM_PARAMETER (starts with /)",
    "push_queue": "PUSH_QUEUE",
    "vapid_parameter": "VAPID_PRIVATE_KEY_SSM_PARAMETER (starts with /)",
    "stream_failures_queue": "STREAM_FAILURES_QUEUE",
    "websocket_api": "WEBSOCKET_API_ID (* until infrastructure/deploy.py recorded it)",
    "api_stage": "api_gateway_stage",
}


def load_config(path: Path = CONFIG) -> dict[str, Any]:
    return json.loads(path.read_text())


def values(config: dict[str, Any], stage: str, websocket_api: str | None = None) -> dict[str, str | None]:
    """The placeholders' values for a stage of ``config`` (a parsed ``.chalice/config.json``)."""
    scoped = config["stages"][stage]
    environment = {**config.get("environment_variables", {}), **scoped.get("environment_variables", {})}
    return {
        "app": config["app_name"],
        "stage": stage,
        "table_prefix": environment.get("TABLE_PREFIX"),
        "bucket": environment.get("ATTACHMENTS_BUCKET"),
        "jwt_parameter": environment.get("JWT_SECRET_SSM_PARAMETER"),
        "upload_failures_queue": environment.get("UPLOAD_FAILURES_QUEUE"),
        "digest_queue": environment.get("DIGEST_QUEUE"),
        "webhook_queue": environment.get("WEBHOOK_QUEUE"),
        "email_from": environment.get("NOTIFY_EMAIL_FROM"),
        "email_domain": (environment.get("NOTIFY_EMAIL_FROM") or "").rpartition("@")[2] or None,
        "webhook_parameter": environment.get("WEBHOOK_SECRET_SSM_PARAMETER"),
        "push_queue": environment.get("PUSH_QUEUE"),
        "vapid_parameter": environment.get("VAPID_PRIVATE_KEY_SSM_PARAMETER"),
        "stream_failures_queue": environment.get("STREAM_FAILURES_QUEUE"),
        "websocket_api": websocket_api or environment.get("WEBSOCKET_API_ID") or "*",
        "api_stage": scoped.get("api_gateway_stage") or config.get("api_gateway_stage") or "api",
    }


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def render(config: dict[str, Any], stage: str, websocket_api: str | None = None) -> dict[str, Any]:
    """The stage's policy document (what ``.chalice/policy-<stage>.json`` must hold)."""
    known = values(config, stage, websocket_api)
    statements = []
    for grant in STATEMENTS:
        fields = set().union(*(_fields(resource) for resource in grant.resources))
        unknown = fields - set(PLACEHOLDERS)
        if unknown:
            raise KeyError(f"{grant.sid}: unknown placeholder(s) {sorted(unknown)}; known: {sorted(PLACEHOLDERS)}")
        if any(known[name] is None for name in fields):
            continue  # the stage does not have what this grant is for
        statements.append(
            {
                "Sid": grant.sid,
                "Effect": "Allow",
                "Action": sorted(grant.actions),
                "Resource": [resource.format(**known) for resource in grant.resources],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def cloudformation(config: dict[str, Any], stage: str) -> dict[str, Any]:
    """The policy for a CloudFormation template that creates the WebSocket API (``chalice package``): the
    ``@connections`` grant names that API (``Fn::Sub`` of ``${WebsocketAPI}``), not any API."""
    document = render(config, stage, websocket_api="${WebsocketAPI}")
    for statement in document["Statement"]:
        statement["Resource"] = [
            {"Fn::Sub": resource} if "${" in resource else resource for resource in statement["Resource"]
        ]
    return document


def policy_path(config: dict[str, Any], stage: str, root: Path = ROOT) -> Path:
    return root / ".chalice" / (config["stages"][stage].get("iam_policy_file") or f"policy-{stage}.json")


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def write(config: dict[str, Any], stage: str, root: Path = ROOT) -> bool:
    """Write the stage's rendered policy; True when the file changed."""
    path = policy_path(config, stage, root)
    text = dumps(render(config, stage))
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def stale(config: dict[str, Any], root: Path = ROOT) -> list[str]:
    """The stages whose committed policy file is not its rendering."""
    return [
        stage
        for stage in config.get("stages", {})
        if not policy_path(config, stage, root).exists()
        or policy_path(config, stage, root).read_text() != dumps(render(config, stage))
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infrastructure.policy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stages whose file is not its rendering")
    args = parser.parse_args(argv)
    config = load_config()
    if args.check:
        wrong = stale(config)
        for stage in wrong:
            print(f"{policy_path(config, stage).relative_to(ROOT)} is not rendered from infrastructure/policy.py")
        return 1 if wrong else 0
    for stage in config.get("stages", {}):
        if write(config, stage):
            print(f"wrote {policy_path(config, stage).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
