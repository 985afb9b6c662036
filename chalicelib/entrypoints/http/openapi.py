"""The OpenAPI 3.1 document, generated from ``app.routes`` (each view's ``RouteSpec``) and the pydantic models.

``python -m chalicelib.entrypoints.http.openapi`` prints it; ``docs/openapi.json`` is the committed copy (a test
fails when it is stale, ``make openapi`` rewrites it). It is written for code generators (openapi-typescript,
openapi-generator): an optional field is a non-required property, never ``default: null``; a field that may be
null is required and nullable; a response field with a default is required (it is always sent); error codes are an
enum; timestamps are ``date-time``. ``docs/asyncapi.yaml`` reuses the same schemas (``schemas.jsonschema``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from chalicelib.entrypoints.http.routing import MODERATOR, PUBLIC, SERVICE, RouteSpec, route_specs
from chalicelib.schemas.jsonschema import Schemas, clean_schema, markdown
from chalicelib.schemas.responses import ErrorOut

_ERRORS = {
    400: "Invalid request: `invalid_request` with field `details`, or a specific code",
    401: "Missing or invalid bearer token (`unauthorized`)",
    403: "Not allowed: a reason code such as `purchase_required` or `user_token_required`",
    404: "Not found, or not the caller's (`not_found`): the two are indistinguishable",
    409: "Conflict (`idempotency_key_reused`, `attachment_already_used`)",
    413: "Too large (`payload_too_large`, `attachment_too_large`)",
    415: "The body is not JSON (`unsupported_media_type`)",
    429: "Rate limited (`rate_limited`): retry after `Retry-After` seconds",
    503: "Temporarily unavailable (`temporarily_unavailable`, `storage_unavailable`, `contention`, "
    "`audit_unavailable`): retry the same request",
}
_TAGS = [
    {"name": "messages", "description": "Conversations, history, sending, read receipts, catch-up"},
    {"name": "attachments", "description": "Photos and files: presigned uploads and signed downloads"},
    {"name": "platform", "description": "The marketplace's service role keeps profiles, patterns and purchases here"},
    {"name": "moderation", "description": "Reports and the audit log, for the moderator role (every read audited)"},
    {"name": "meta", "description": "This document"},
    {"name": "push", "description": "Web Push: the VAPID key and the caller's browser subscriptions"},
]
_SERVERS = [
    {"url": "http://127.0.0.1:8000", "description": "make dev (the local stack)"},
    {
        "url": "https://{apiId}.execute-api.{region}.amazonaws.com/{stage}",
        "description": "A deployed stage (make urls STAGE=...)",
        "variables": {
            "apiId": {"default": "api-id", "description": "The REST API's id"},
            "region": {"default": "us-east-1"},
            "stage": {
                "default": "dev",
                "enum": ["dev", "prod"],
                "description": "api_gateway_stage in .chalice/config.json",
            },
        },
    },
]


def _parameters(spec: RouteSpec) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in re.findall(r"{(\w+)}", spec.path)
    ]
    if spec.query is not None:
        schema = clean_schema(spec.query.model_json_schema(by_alias=True, mode="validation"), "query")
        required = set(schema.get("required", []))
        for name, field_schema in schema.get("properties", {}).items():
            parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
            if "description" in field_schema:
                parameter["description"] = field_schema.pop("description")
            parameter["schema"] = field_schema
            parameters.append(parameter)
    return parameters


def _operation(spec: RouteSpec, schemas: Schemas) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": spec.operation_id,
        "tags": [spec.tag],
        "summary": markdown(spec.summary).rstrip("."),
    }
    if spec.description:
        operation["description"] = markdown(spec.description)
    if spec.auth == PUBLIC:
        operation["security"] = []
    else:
        operation["x-required-role"] = spec.auth if spec.auth in (SERVICE, MODERATOR) else "user"
    parameters = _parameters(spec)
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas.ref(spec.body, "validation")}},
        }
    responses: dict[str, Any] = {}
    for status, model in sorted(spec.responses.items()):
        schema = schemas.ref(model, "serialization") if model is not None else {"type": "object"}
        responses[str(status)] = {
            "description": {200: "OK", 201: "Created"}.get(status, "Success"),
            "content": {"application/json": {"schema": schema}},
        }
    error = schemas.ref(ErrorOut, "serialization")
    for status in sorted(spec.errors):
        entry: dict[str, Any] = {"description": _ERRORS[status], "content": {"application/json": {"schema": error}}}
        if status == 429:
            entry["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}}
        if status == 401:
            entry["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}
        responses[str(status)] = entry
    operation["responses"] = responses
    return operation


def build_document(app: Any) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document of ``app``'s REST API."""
    schemas = Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), spec in sorted(route_specs(app).items(), key=lambda item: (item[0][1], item[0][0])):
        paths.setdefault(path, {})[method.lower()] = _operation(spec, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "crochet-messaging",
            "version": "1.0.0",
            "description": "Messaging between buyers and pattern creators: conversations threaded by pattern, "
            "history, attachments, read receipts, unread counts. The real-time half (WebSocket) is described in "
            "docs/asyncapi.yaml and docs/websocket.md.",
            "license": {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
        },
        "servers": _SERVERS,
        "tags": _TAGS,
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A JWT from the marketplace's identity provider: `sub` is the user id",
                }
            },
        },
    }


def render(app: Any) -> str:
    """The document as committed in docs/openapi.json."""
    return json.dumps(build_document(app), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    from app import app as chalice_app

    print(render(chalice_app), end="")
