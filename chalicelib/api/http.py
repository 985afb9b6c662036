"""What every HTTP handler shares: authentication, body parsing, and the error → response mapping.

Chalice turns any exception a view raises into a bare 500 before middleware sees it, so views are
wrapped here instead: every ``AppError`` and validation failure becomes the JSON error body.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from chalice import Blueprint, CORSConfig, Response
from pydantic import BaseModel, ValidationError

from chalicelib import logs
from chalicelib.auth import Principal, authenticate, bearer_token
from chalicelib.errors import (
    AppError,
    Forbidden,
    InvalidRequest,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    UnsupportedMediaType,
)
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
USER = "user"
SERVICE = "service"

P = TypeVar("P", bound=BaseModel)


def cors_config() -> CORSConfig:
    """Browsers call the API cross-origin (the Next.js app, the dev client). Bearer tokens, no cookies,
    so the one configured origin, or any when several are configured (CORSConfig takes a single one)."""
    origins = get_settings().allowed_origins
    return CORSConfig(
        allow_origin=origins[0] if len(origins) == 1 else "*",
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )


PUBLIC = "public"


@dataclass(frozen=True)
class RouteSpec:
    """What a route takes and answers: the source of the OpenAPI document and the authorization matrix."""

    method: str
    path: str
    auth: str
    summary: str
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    responses: dict[int, Any]  # status -> response model (or a tuple of models: one of them)


# Every route registered through ``route``: the authorization-matrix tests and the OpenAPI generator
# enumerate it, so a route without an entry cannot slip through.
ROUTES: dict[tuple[str, str], RouteSpec] = {}
ROUTE_AUTH: dict[tuple[str, str], str] = {}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json", **(headers or {})})


def error_response(error: AppError) -> Response:
    headers: dict[str, str] = {}
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    return json_response(error.to_body(), error.status, headers)


def validation_details(error: ValidationError) -> list[dict[str, Any]]:
    """Field-level reasons, without echoing the (possibly large or private) input back."""
    return [
        {"field": ".".join(str(part) for part in e["loc"]) or "body", "message": e["msg"], "type": e["type"]}
        for e in error.errors(include_url=False, include_input=False, include_context=False)
    ]


def parse(model: type[P], data: Any) -> P:
    """Validate ``data`` into ``model``; InvalidRequest with field details when it does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest("the request is not valid", details=validation_details(exc)) from exc


def read_json_body(request: Any) -> Any:
    """The request's JSON body (an empty body reads as ``{}``)."""
    raw = request.raw_body or b""
    content_type = (request.headers.get("content-type") or "application/json").lower()
    if raw.strip() and not content_type.startswith("application/json"):
        raise UnsupportedMediaType("send the body as application/json")
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body must be at most {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        return {}
    return loads_json(raw, what="body")


def loads_json(raw: bytes, *, what: str) -> Any:
    """Parse UTF-8 JSON text; InvalidRequest (``invalid_json``) for anything that is not valid Unicode JSON.

    JSON's ``\\ud800`` escapes can smuggle lone surrogates past the UTF-8 check; nothing can store them, so
    they are refused here rather than failing a write later.
    """
    try:
        value = json.loads(raw.decode("utf-8"))
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeError as exc:
        raise InvalidRequest(f"the {what} is not valid Unicode", code="invalid_json") from exc
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest(f"the {what} is not valid JSON", code="invalid_json") from exc
    return value


def query_params(request: Any) -> dict[str, str]:
    return dict(request.query_params or {})


def _principal(request: Any, auth: str) -> Principal:
    principal = authenticate(bearer_token(request.headers.get("authorization")))
    if auth == SERVICE and not principal.is_service:
        raise Forbidden("this endpoint is for the platform's service role", code="service_role_required")
    if auth == USER and principal.is_service:
        raise Forbidden("this endpoint is for users, not the service role", code="user_token_required")
    return principal


def route(
    blueprint: Blueprint,
    path: str,
    method: str,
    *,
    auth: str = USER,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    responses: dict[int, Any] | None = None,
) -> Callable:
    """Register ``view(request, principal, **path_params)`` on ``blueprint`` behind auth and error mapping.

    ``query``, ``body`` and ``responses`` describe the route for the OpenAPI document.
    """

    def decorator(view: Callable[..., Any]) -> Callable[..., Response]:
        @functools.wraps(view)
        def handler(**path_params: str) -> Response:
            request = blueprint.current_request
            started = time.perf_counter()
            logs.clear()
            # API Gateway's request id; locally (no API Gateway) one of our own, so lines still correlate.
            request_id = (request.context or {}).get("requestId") or uuid.uuid4().hex
            logs.bind(request_id=request_id, route=f"{method} /api{path}")
            try:
                principal = None if auth == PUBLIC else _principal(request, auth)
                if principal is not None:
                    logs.bind(user_id=principal.user_id)
                response = view(request, principal, **path_params)
            except AppError as error:
                response = error_response(error)
                logs.bind(error_code=error.code)
            elapsed = round((time.perf_counter() - started) * 1000, 1)
            logger.info("request", extra={"status": response.status_code, "duration_ms": elapsed})
            return response

        full_path = "/api" + path
        summary = (view.__doc__ or view.__name__).strip().splitlines()[0]
        ROUTES[(method, full_path)] = RouteSpec(method, full_path, auth, summary, query, body, responses or {})
        ROUTE_AUTH[(method, full_path)] = auth
        return blueprint.route(path, methods=[method], content_types=["*/*"], cors=cors_config())(handler)

    return decorator
