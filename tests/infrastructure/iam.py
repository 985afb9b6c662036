"""IAM for the recorded AWS calls: which action on which resource each call needs, and whether a policy allows it.

The mapping follows the service authorization reference: a TransactWriteItems is authorized item by item as
PutItem/UpdateItem/DeleteItem/ConditionCheckItem; a Query on an index needs the index's ARN; a presigned
POST or GET is used with the signer's permissions (PutObject, plus PutObjectTagging for the tagging field;
GetObject); CopyObject needs GetObject on the source and PutObject (with PutObjectTagging when it sets
tags) on the copy; HeadObject needs ListBucket too, or a missing key answers 403 instead of the 404 the code
expects; PostToConnection is ``execute-api:ManageConnections`` on ``<api>/<stage>/POST/@connections/<id>``.

The policy evaluation is deliberately small: the policy files may only hold Allow statements with Action
and Resource lists (checked by the tests), so matching actions and resources with IAM wildcards is exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

PARTITION = "aws"
Permission = tuple[str, str]  # (action, resource ARN)


class UnknownCall(Exception):
    """A call this mapping does not know: teach it the IAM action before trusting the comparison."""


@dataclass(frozen=True)
class Names:
    """How the recorded (test) resource names translate to one stage's names."""

    region: str
    account: str
    table_prefix_recorded: str
    table_prefix: str
    buckets: dict[str, str]  # recorded bucket -> the stage's bucket
    websocket_api_id: str
    websocket_stage: str
    queues: dict[str, str] = field(default_factory=dict)  # recorded queue -> the stage's queue
    email_from: str | None = None  # the stage's NOTIFY_EMAIL_FROM (the recorded sender is the test stage's)

    def table(self, recorded: str) -> str:
        if not recorded.startswith(self.table_prefix_recorded):
            raise UnknownCall(f"table {recorded!r} does not carry the recorded prefix {self.table_prefix_recorded!r}")
        return self.table_prefix + recorded[len(self.table_prefix_recorded) :]

    def table_arn(self, recorded: str, index: str | None = None) -> str:
        arn = f"arn:{PARTITION}:dynamodb:{self.region}:{self.account}:table/{self.table(recorded)}"
        return f"{arn}/index/{index}" if index else arn

    def bucket(self, recorded: str) -> str:
        if recorded not in self.buckets:
            raise UnknownCall(f"bucket {recorded!r} is not one of {sorted(self.buckets)}")
        return self.buckets[recorded]

    def bucket_arn(self, recorded: str) -> str:
        return f"arn:{PARTITION}:s3:::{self.bucket(recorded)}"

    def object_arn(self, recorded: str, key: str) -> str:
        return f"{self.bucket_arn(recorded)}/{key}"

    def queue_arn(self, recorded: str) -> str:
        if recorded not in self.queues:
            raise UnknownCall(f"queue {recorded!r} is not one of {sorted(self.queues)}")
        return f"arn:{PARTITION}:sqs:{self.region}:{self.account}:{self.queues[recorded]}"


_TRANSACT_WRITE = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
_DYNAMODB_SINGLE = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "DescribeTable"}
_S3_OBJECT = {
    "GetObject": ("s3:GetObject",),
    "presign:GetObject": ("s3:GetObject",),
    "PutObjectTagging": ("s3:PutObjectTagging",),
    "GetObjectTagging": ("s3:GetObjectTagging",),
    "DeleteObject": ("s3:DeleteObject",),
}
_SQS = {
    "GetQueueUrl",
    "SendMessage",
    "ReceiveMessage",
    "DeleteMessage",
    "GetQueueAttributes",
    "ChangeMessageVisibility",
}
_SQS_BATCHES = {"SendMessageBatch": "SendMessage"}  # IAM authorizes a batch as its single action
_MANAGEMENT_METHODS = {"PostToConnection": "POST", "GetConnection": "GET", "DeleteConnection": "DELETE"}


def required(call: dict[str, Any], names: Names) -> set[Permission]:
    """The (action, resource) pairs one recorded call needs, in the stage ``names`` describes."""
    service, operation = call["service"], call["operation"]
    if service == "dynamodb":
        if operation in _DYNAMODB_SINGLE:
            return {(f"dynamodb:{operation}", names.table_arn(call["TableName"], call.get("IndexName")))}
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return {(f"dynamodb:{operation}", names.table_arn(table)) for table in call["Tables"]}
        if operation == "TransactWriteItems":
            return {(f"dynamodb:{_TRANSACT_WRITE[kind]}", names.table_arn(table)) for kind, table in call["Items"]}
        if operation == "TransactGetItems":
            return {("dynamodb:GetItem", names.table_arn(table)) for _, table in call["Items"]}
    elif service == "s3":
        bucket = call["Bucket"]
        if operation in _S3_OBJECT:
            return {(action, names.object_arn(bucket, call["Key"])) for action in _S3_OBJECT[operation]}
        if operation == "HeadObject":
            return {
                ("s3:GetObject", names.object_arn(bucket, call["Key"])),
                ("s3:ListBucket", names.bucket_arn(bucket)),
            }
        if operation in ("PutObject", "presign:PostObject"):
            needs = {("s3:PutObject", names.object_arn(bucket, call["Key"]))}
            if call.get("Tagging"):
                needs.add(("s3:PutObjectTagging", names.object_arn(bucket, call["Key"])))
            return needs
        if operation in ("ListObjects", "ListObjectsV2"):
            return {("s3:ListBucket", names.bucket_arn(bucket))}
        if operation == "CopyObject":
            source = call["CopySource"]
            needs = {
                ("s3:GetObject", names.object_arn(source["Bucket"], source["Key"])),
                ("s3:PutObject", names.object_arn(bucket, call["Key"])),
            }
            if call.get("Tagging"):
                needs.add(("s3:PutObjectTagging", names.object_arn(bucket, call["Key"])))
            return needs
    elif service == "sqs" and operation in _SQS:
        return {(f"sqs:{operation}", names.queue_arn(call["Queue"]))}
    elif service == "sesv2" and operation == "SendEmail":
        # SES authorizes the sending identity: the address, or its domain when that is what was verified (which of
        # the two depends on the account's SES setup, so the policy must grant both).
        sender = names.email_from or str(call["FromEmailAddress"])
        identity = f"arn:{PARTITION}:ses:{names.region}:{names.account}:identity/"
        return {("ses:SendEmail", identity + sender), ("ses:SendEmail", identity + sender.rpartition("@")[2])}
    elif service == "sqs" and (operation in _SQS or operation in _SQS_BATCHES):
        return {(f"sqs:{_SQS_BATCHES.get(operation, operation)}", names.queue_arn(call["Queue"]))}
    elif service == "apigatewaymanagementapi" and operation in _MANAGEMENT_METHODS:
        path = urlparse(call["Endpoint"]).path.strip("/")
        if not path:
            raise UnknownCall(f"management endpoint without a stage: {call['Endpoint']}")
        resource = (
            f"arn:{PARTITION}:execute-api:{names.region}:{names.account}:{names.websocket_api_id}/"
            f"{names.websocket_stage}/{_MANAGEMENT_METHODS[operation]}/@connections/{call['ConnectionId']}"
        )
        return {("execute-api:ManageConnections", resource)}
    elif service == "ssm" and operation == "GetParameter":
        return {("ssm:GetParameter", f"arn:{PARTITION}:ssm:{names.region}:{names.account}:parameter{call['Name']}")}
    raise UnknownCall(f"no IAM mapping for {service}:{operation} ({call.get('caller')})")


@lru_cache(maxsize=512)
def _pattern(glob: str, case_sensitive: bool) -> re.Pattern[str]:
    # IAM wildcards: * any run of characters (``/`` and ``:`` included), ? one character; nothing else is special.
    body = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in glob)
    return re.compile(rf"{body}\Z", re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE)


def matches(glob: str, value: str, *, case_sensitive: bool = True) -> bool:
    return _pattern(glob, case_sensitive).match(value) is not None


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy["Statement"]
    return [found] if isinstance(found, dict) else list(found)


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def grants(policy: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Every (statement id, action, resource pattern) the policy allows."""
    return [
        (statement.get("Sid", ""), action, resource)
        for statement in statements(policy)
        for action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    ]


def allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    return any(
        matches(granted_action, action, case_sensitive=False) and matches(pattern, resource)
        for _, granted_action, pattern in grants(policy)
    )
