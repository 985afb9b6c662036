"""What every HTTP entry point shares: authentication, body parsing, the error boundary, the response's shape.

Chalice turns any exception a view raises into a bare 500 before middleware sees it, so views are wrapped here
instead: every failure goes through ``boundary.to_app_error`` into the one JSON error body. Each view carries its
``RouteSpec``, from which the OpenAPI document and the authorization matrix are generated (``app.routes``).
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice.app import Blueprint, CORSConfig, Response
from pydantic import BaseModel

from chalicelib import logs, metrics
from chalicelib.auth import authenticate, bearer_token
from chalicelib.bootstrap import preload, services
from chalicelib.domain.principal import Principal
from chalicelib.entrypoints.boundary import to_app_error
from chalicelib.entrypoints.parsing import loads_json
from chalicelib.errors import (
    AppError,
    ErrorCode,
    Forbidden,
    InternalError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    UnsupportedMediaType,
)
from chalicelib.schemas.base import ResponseModel
from chalicelib.settings import get_settings

# This function's init loads the use cases its handlers call (built on first use: bootstrap.preload).
preload("suspensions")

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
USER = "user"
SERVICE = "service"
MODERATOR = "moderator"  # a JWT with "role": "moderator" (issue 16)
PUBLIC = "public"

Answer = ResponseModel | tuple[ResponseModel, int] | dict[str, Any]


def cors_config() -> CORSConfig:
    """Browsers call the API cross-origin (the Next.js app, the dev client). Bearer tokens, no cookies,
    so the one configured origin, or any when several are configured (CORSConfig takes a single one)."""
    origins = get_settings().allowed_origins
    return CORSConfig(
        allow_origin=origins[0] if len(origins) == 1 else "*",
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )


@dataclass(frozen=True)
class RouteSpec:
    """What a route takes and answers: the source of the OpenAPI document and the authorization matrix."""

    method: str
    path: str  # as registered on the blueprint (the app prefixes /api)
    auth: str
    operation_id: str
    tag: str
    summary: str
    description: str
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    responses: dict[int, type[BaseModel] | None]  # status -> response model
    errors: frozenset[int] = field(default_factory=frozenset)  # the error statuses it can answer


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json", **(headers or {})})


def error_response(error: AppError) -> Response:
    headers: dict[str, str] = {}
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    return json_response(error.to_body(), error.status, headers)


def read_json_body(request: Any, *, required: bool = False) -> Any:
    """The request's JSON body; an empty one reads as ``{}`` unless the body is ``required`` (a replacement of a
    whole set, where a lost body must not reset everything to defaults: 400 ``invalid_request``)."""
    raw = request.raw_body or b""
    content_type = (request.headers.get("content-type") or "application/json").lower()
    if raw.strip() and not content_type.startswith("application/json"):
        raise UnsupportedMediaType("send the body as application/json")
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body must be at most {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        if required:
            raise InvalidRequest(
                "the request needs a JSON body",
                details=[{"field": "body", "message": "Field required", "type": "missing"}],
            )
        return {}
    return loads_json(raw, what="body")


def query_params(request: Any) -> dict[str, str]:
    return dict(request.query_params or {})


def path_id(value: str, valid: Callable[[str], bool], what: str) -> str:
    """A path parameter that must be one of our ids: anything else is exactly as missing as an unknown id (and
    never reaches DynamoDB, whose key-size limits would refuse it)."""
    if not valid(value):
        raise NotFound(f"{what} not found")
    return value


def _principal(request: Any, auth: str) -> Principal:
    principal = authenticate(bearer_token(request.headers.get("authorization")), keys=services().signing_keys)
    if auth == SERVICE and not principal.is_service:
        raise Forbidden("this endpoint is for the platform's service role", code=ErrorCode.SERVICE_ROLE_REQUIRED)
    if auth == USER and principal.is_service:
        raise Forbidden("this endpoint is for users, not the service role", code=ErrorCode.USER_TOKEN_REQUIRED)
    if auth == USER and principal.is_moderator:
        raise Forbidden("this endpoint is for users, not the moderator role", code=ErrorCode.USER_TOKEN_REQUIRED)
    if auth == MODERATOR and not principal.is_moderator:
        raise Forbidden("this endpoint is for the moderator role", code=ErrorCode.MODERATOR_ROLE_REQUIRED)
    if auth == USER:
        # A suspended user's calls answer 403 account_suspended: the container's list, no round trip per request
        # (services.suspensions).
        services().suspensions.check(principal.user_id)
    return principal


def _shape(answer: Answer) -> Response:
    if isinstance(answer, tuple):
        model, status = answer
        return json_response(model.wire(), status)
    if isinstance(answer, ResponseModel):
        return json_response(answer.wire())
    return json_response(answer)


def _default_errors(auth: str, path: str, query: Any, body: Any) -> set[int]:
    errors = {503}
    if auth != PUBLIC:
        errors |= {401, 403}
    if query is not None or body is not None or "{" in path:
        errors.add(400)
    if "{" in path or auth == USER:
        errors.add(404)  # an id that is missing or not the caller's
    if body is not None:
        errors |= {413, 415}
    return errors


def route(
    blueprint: Blueprint,
    path: str,
    method: str,
    *,
    operation_id: str,
    tag: str,
    auth: str = USER,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel] | None] | None = None,
    errors: set[int] | None = None,
) -> Callable[[Callable[..., Answer]], Callable[..., Response]]:
    """Register ``view(request, principal, **path_params)`` on ``blueprint`` behind auth and the error boundary.

    The view parses, calls one use case and returns its wire model (or ``(model, status)``). ``errors`` adds the
    route's own error statuses (409, 429) to those every route of its kind can answer.
    """

    def decorator(view: Callable[..., Answer]) -> Callable[..., Response]:
        @functools.wraps(view)
        def handler(**path_params: str) -> Response:
            request = blueprint.current_request
            started = time.perf_counter()
            metrics.begin()
            logs.clear()
            # API Gateway's request id; locally (no API Gateway) one of our own, so lines still correlate.
            request_id = (request.context or {}).get("requestId") or uuid.uuid4().hex
            logs.bind(request_id=request_id, route=f"{method} /api{path}")
            try:
                principal = None if auth == PUBLIC else _principal(request, auth)
                if principal is not None:
                    logs.bind(user_id=principal.user_id)
                response = _shape(view(request, principal, **path_params))
            except Exception as exc:
                error = to_app_error(exc)
                if error is None:
                    logger.exception("unhandled error")
                    error = InternalError("internal error")
                response = error_response(error)
                logs.bind(error_code=str(error.code))
            elapsed = round((time.perf_counter() - started) * 1000, 1)
            logger.info("request", extra={"status": response.status_code, "duration_ms": elapsed})
            metrics.count(metrics.INVOCATIONS)
            metrics.answered(response.status_code)
            metrics.duration(metrics.LATENCY, elapsed)
            metrics.flush(get_settings().stage)
            return response

        doc = (view.__doc__ or view.__name__).strip()
        summary, _, description = doc.partition("\n")
        handler.route_spec = RouteSpec(  # type: ignore[attr-defined]
            method=method,
            path=path,
            auth=auth,
            operation_id=operation_id,
            tag=tag,
            summary=summary.strip(),
            description=" ".join(description.split()),
            query=query,
            body=body,
            responses=responses or {},
            errors=frozenset(_default_errors(auth, path, query, body) | (errors or set())),
        )
        registered: Callable[..., Response] = blueprint.route(
            path, methods=[method], content_types=["*/*"], cors=cors_config()
        )(handler)
        return registered

    return decorator


def route_specs(app: Any) -> dict[tuple[str, str], RouteSpec]:
    """(method, full path) → spec of every route registered on ``app`` (its blueprints included)."""
    found: dict[tuple[str, str], RouteSpec] = {}
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            spec = getattr(entry.view_function, "route_spec", None)
            if spec is None:
                raise LookupError(f"{method} {path} was registered without chalicelib.entrypoints.http.routing.route")
            found[(method, path)] = spec
    return found
