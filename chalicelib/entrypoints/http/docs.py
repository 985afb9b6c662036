"""``/api/openapi.json``: this API's OpenAPI document, built once per container."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from chalice.app import Blueprint

from chalicelib.entrypoints.http.routing import PUBLIC, Answer, route

blueprint = Blueprint(__name__)


@lru_cache(maxsize=1)  # one document per container: it is public and costs ~70 ms of CPU to build
def document(app: Any) -> dict[str, Any]:
    from chalicelib.entrypoints.http.openapi import build_document  # built on first request: nothing at cold start

    return build_document(app)


@route(
    blueprint,
    "/openapi.json",
    "GET",
    operation_id="getOpenApiDocument",
    tag="meta",
    auth=PUBLIC,
    responses={200: None},
)
def openapi_document(request: Any, principal: None) -> Answer:
    """This API's OpenAPI 3.1 document."""
    return document(blueprint.current_app)
