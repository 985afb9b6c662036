"""Recording the AWS calls the application code makes, as a pytest plugin.

``AWS_CALLS_OUT=calls.json python -m pytest tests/integration -p tests.infrastructure.aws_calls`` runs the
suite and writes every distinct call (service, operation, the resource names that matter for IAM) that was
made by code under ``chalicelib/`` or ``app.py``: calls made by the tests themselves, and the dev/test setup
helpers (``create_tables``, ``ensure_bucket``), which never run on Lambda, are left out. Presigned URLs are
recorded too: they are not API calls, but whoever uses one acts with the Lambda role's permissions.

``tests/infrastructure/iam.py`` turns the recording into IAM actions and resources.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import botocore.client
import botocore.signers

REPO = Path(__file__).resolve().parents[2]
OUT_VARIABLE = "AWS_CALLS_OUT"
# Helpers the dev stack and the tests call; the deployed functions never do (ensure: SqsQueue.ensure).
SETUP_FUNCTIONS = frozenset({"create_tables", "ensure_bucket", "reset_connections", "ensure", "ensure_identity"})

_calls: set[str] = set()


def app_caller(depth: int = 2) -> str | None:
    """``path:function`` of the innermost project frame when it is application code, else None."""
    frame = sys._getframe(depth)
    root = f"{REPO}{os.sep}"
    while frame is not None:
        path = frame.f_code.co_filename
        if path.startswith(root) and not path.startswith(f"{REPO / '.venv'}{os.sep}"):
            relative = path[len(root) :]
            if (relative.startswith("chalicelib/") or relative == "app.py") and (
                frame.f_code.co_name not in SETUP_FUNCTIONS
            ):
                return f"{relative}:{frame.f_code.co_name}"
            return None
        frame = frame.f_back
    return None


def summarize(service: str, operation: str, params: dict[str, Any], endpoint: str | None) -> dict[str, Any]:
    """What IAM needs to know about one call: the operation and the names of what it touches."""
    call: dict[str, Any] = {"service": service, "operation": operation}
    if service == "dynamodb":
        for name in ("TableName", "IndexName"):
            if name in params:
                call[name] = params[name]
        if "RequestItems" in params:
            call["Tables"] = sorted(params["RequestItems"])
        if "TransactItems" in params:
            call["Items"] = sorted(
                {(kind, body["TableName"]) for item in params["TransactItems"] for kind, body in item.items()}
            )
    elif service == "s3":
        for name in ("Bucket", "Key"):
            if name in params:
                call[name] = params[name]
        call["Tagging"] = bool(params.get("Tagging"))
        if "CopySource" in params:
            call["CopySource"] = params["CopySource"]
    elif service == "apigatewaymanagementapi":
        call["Endpoint"] = endpoint
        call["ConnectionId"] = params.get("ConnectionId")
    elif service == "ssm":
        call["Name"] = params.get("Name")
    elif service == "sqs":
        call["Queue"] = params.get("QueueName") or str(params.get("QueueUrl", "")).rsplit("/", 1)[-1]
    elif service == "sesv2":
        call["FromEmailAddress"] = params.get("FromEmailAddress")
    else:
        call["Params"] = sorted(params)
    return call


def _record(call: dict[str, Any], caller: str) -> None:
    _calls.add(json.dumps({**call, "caller": caller}, sort_keys=True, default=list))


_original_api_call = botocore.client.BaseClient._make_api_call
_original_presigned_url = botocore.signers.generate_presigned_url
_original_presigned_post = botocore.signers.generate_presigned_post


def _recording_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
    caller = app_caller()
    if caller is not None:
        service = self.meta.service_model.service_name
        _record(summarize(service, operation_name, api_params, self.meta.endpoint_url), caller)
    return _original_api_call(self, operation_name, api_params)


def _recording_presigned_url(self: Any, ClientMethod: str, Params: Any = None, *args: Any, **kwargs: Any) -> Any:
    caller = app_caller()
    if caller is not None:
        operation = self._PY_TO_OP_NAME.get(ClientMethod, ClientMethod)
        service = self.meta.service_model.service_name
        _record(summarize(service, f"presign:{operation}", dict(Params or {}), None), caller)
    return _original_presigned_url(self, ClientMethod, Params, *args, **kwargs)


def _recording_presigned_post(self: Any, Bucket: str, Key: str, Fields: Any = None, *args: Any, **kwargs: Any) -> Any:
    caller = app_caller()
    if caller is not None:
        params = {"Bucket": Bucket, "Key": Key, "Tagging": dict(Fields or {}).get("tagging")}
        _record(summarize("s3", "presign:PostObject", params, None), caller)
    return _original_presigned_post(self, Bucket, Key, Fields, *args, **kwargs)


def install() -> None:
    """Start recording (before any client class is created: presign methods are bound at class creation)."""
    botocore.client.BaseClient._make_api_call = _recording_api_call
    botocore.signers.generate_presigned_url = _recording_presigned_url
    botocore.signers.generate_presigned_post = _recording_presigned_post


def recorded() -> list[dict[str, Any]]:
    return [json.loads(call) for call in sorted(_calls)]


if os.environ.get(OUT_VARIABLE):
    install()


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    out = os.environ.get(OUT_VARIABLE)
    if out:
        Path(out).write_text(json.dumps(recorded(), indent=1, sort_keys=True))
