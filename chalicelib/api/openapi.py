"""The OpenAPI 3.1 document, generated from the route table and the pydantic models.

``python -m chalicelib.api.openapi`` prints it; ``docs/openapi.json`` is the committed copy (a test fails
when it is stale, ``make openapi`` rewrites it).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel

from chalicelib.api.http import PUBLIC, ROUTES, SERVICE, RouteSpec
from chalicelib.schemas.responses import ErrorOut

_REF = "#/components/schemas/{model}"
_ERRORS = {
    400: "Invalid request (`invalid_request` with field `details`, or a specific code)",
    401: "Missing or invalid bearer token (`unauthorized`)",
    403: "Not allowed (a reason code such as `purchase_required`)",
    404: "Not found, or not the caller's (`not_found`)",
    409: "Conflict (`idempotency_key_reused`, `attachment_already_used`)",
    413: "Too large (`payload_too_large`, `attachment_too_large`)",
    415: "The body is not JSON (`unsupported_media_type`)",
    429: "Rate limited (`rate_limited`); see `Retry-After`",
    503: "Temporarily unavailable; retry the same request",
}


class _Schemas:
    """Collects model schemas under components/schemas, each once."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, Any]:
        schema = model.model_json_schema(by_alias=True, mode=mode, ref_template=_REF)  # type: ignore[arg-type]
        for name, definition in schema.pop("$defs", {}).items():
            self.components.setdefault(name, definition)
        self.components.setdefault(model.__name__, schema)
        return {"$ref": _REF.format(model=model.__name__)}

    def response(self, model: Any) -> dict[str, Any]:
        if isinstance(model, tuple):
            return {"oneOf": [self.ref(m, "serialization") for m in model]}
        if model is None:
            return {"type": "object"}
        return self.ref(model, "serialization")


def _parameters(spec: RouteSpec) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in re.findall(r"{(\w+)}", spec.path)
    ]
    if spec.query is not None:
        schema = spec.query.model_json_schema(by_alias=True, mode="validation")
        required = set(schema.get("required", []))
        for name, field_schema in schema.get("properties", {}).items():
            field_schema = {k: v for k, v in field_schema.items() if k not in ("title", "default")}
            variants = [v for v in field_schema.pop("anyOf", []) if v.get("type") != "null"]
            if variants:
                field_schema.update(variants[0])
            parameters.append({"name": name, "in": "query", "required": name in required, "schema": field_schema})
    return parameters


def _operation(spec: RouteSpec, schemas: _Schemas) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": spec.summary,
        "operationId": f"{spec.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', spec.path.lower()).strip('_')}",
        "parameters": _parameters(spec),
        "responses": {},
    }
    if spec.auth != PUBLIC:
        operation["security"] = [{"bearerAuth": []}]
        operation["x-required-role"] = "service" if spec.auth == SERVICE else "user"
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas.ref(spec.body, "validation")}},
        }
    for status, model in sorted(spec.responses.items()):
        operation["responses"][str(status)] = {
            "description": "Success",
            "content": {"application/json": {"schema": schemas.response(model)}},
        }
    error = schemas.ref(ErrorOut, "serialization")
    for status, description in _ERRORS.items():
        if spec.auth == PUBLIC and status in (401, 403):
            continue
        entry: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": error}}}
        if status == 429:
            entry["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}}
        if status == 401:
            entry["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        operation["responses"][str(status)] = entry
    return operation


def build_document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document of the REST API."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), spec in sorted(ROUTES.items()):
        paths.setdefault(path, {})[method.lower()] = _operation(spec, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "crochet-messaging",
            "version": "1.0.0",
            "description": "Messaging between buyers and pattern creators. The WebSocket protocol is in "
            "docs/asyncapi.yaml and docs/websocket.md.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def render() -> str:
    """The document as committed in docs/openapi.json."""
    return json.dumps(build_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    import app  # noqa: F401 - registers every route

    print(render(), end="")
