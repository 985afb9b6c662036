"""Every route needs a valid bearer token; internal routes need the service role."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from app import app
from chalicelib.entrypoints.http.routing import MODERATOR, PUBLIC, SERVICE, USER, route_specs
from chalicelib.settings import get_settings
from tests.integration.conftest import Api, token_for

SAMPLE_PATHS = {
    "/api/messages": "/api/messages",
    "/api/messages/conversations": "/api/messages/conversations",
    "/api/messages/sync": "/api/messages/sync",
    "/api/openapi.json": "/api/openapi.json",
    "/api/attachments": "/api/attachments",
    "/api/attachments/{attachmentId}": "/api/attachments/att_aaaaaaaaaaaaaaaaaaaaaaaa",
    "/api/messages/conversations/{conversationId}": "/api/messages/conversations/conv_aaaaaaaaaaaaaaaaaaaaaaaaaa",
    "/api/messages/{messageId}/read": "/api/messages/msg_aaaaaaaaaaaaaaaaaaaaaaaaaa_1/read",
    "/api/messages/{messageId}": "/api/messages/msg_aaaaaaaaaaaaaaaaaaaaaaaaaa_1",
    "/api/messages/{messageId}/reactions/{emoji}": (
        "/api/messages/msg_aaaaaaaaaaaaaaaaaaaaaaaaaa_1/reactions/%F0%9F%91%8D"
    ),
    "/api/messages/pattern/{patternId}": "/api/messages/pattern/p1",
    "/api/internal/users/{userId}": "/api/internal/users/zed",
    "/api/internal/patterns/{patternId}": "/api/internal/patterns/p9",
    "/api/internal/purchases/{patternId}/{userId}": "/api/internal/purchases/p1/zed",
    "/api/messages/{messageId}/report": "/api/messages/msg_aaaaaaaaaaaaaaaaaaaaaaaaaa_1/report",
    "/api/moderation/reports": "/api/moderation/reports",
    "/api/moderation/reports/{reportId}": "/api/moderation/reports/rpt_aaaaaaaaaaaaaaaaaaaaaaaaaa",
    "/api/moderation/reports/{reportId}/resolution": (
        "/api/moderation/reports/rpt_aaaaaaaaaaaaaaaaaaaaaaaaaa/resolution"
    ),
    "/api/moderation/audit": "/api/moderation/audit",
    "/api/messages/search": "/api/messages/search?q=granny",
    "/api/messages/conversations/{conversationId}/settings": (
        "/api/messages/conversations/conv_aaaaaaaaaaaaaaaaaaaaaaaaaa/settings"
    ),
    "/api/me/blocks": "/api/me/blocks",
    "/api/me/blocks/{userId}": "/api/me/blocks/zed",
    "/api/me/notification-preferences": "/api/me/notification-preferences",
    "/api/notifications/unsubscribe": "/api/notifications/unsubscribe?token=x",
    "/api/push/vapid-public-key": "/api/push/vapid-public-key",
    "/api/push/subscriptions": "/api/push/subscriptions",
    "/api/push/subscriptions/{subscriptionId}": "/api/push/subscriptions/psub_aaaaaaaaaaaaaaaaaaaaaaaaaa",
}
ROUTE_AUTH = {route: spec.auth for route, spec in route_specs(app).items()}
ROUTES = sorted(route for route, auth in ROUTE_AUTH.items() if auth != PUBLIC)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _bad_tokens() -> dict[str, str]:
    secret = get_settings().jwt_secret
    now = int(time.time())
    return {
        "expired": jwt.encode({"sub": "bob", "exp": now - 3600}, secret, algorithm="HS256"),
        "wrong key": jwt.encode({"sub": "bob", "exp": now + 600}, "another-secret-0123456789-0123456789", "HS256"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'sub': 'bob', 'exp': now + 600})}.",
        "missing sub": jwt.encode({"exp": now + 600}, secret, algorithm="HS256"),
        "missing exp": jwt.encode({"sub": "bob"}, secret, algorithm="HS256"),
        "nbf in future": jwt.encode({"sub": "bob", "exp": now + 600, "nbf": now + 300}, secret, algorithm="HS256"),
        "garbage": "not.a.token",
        "huge": "a" * 100_000,
    }


def test_every_route_is_registered_with_an_auth_rule() -> None:
    registered = {(method, path) for path, methods in app.routes.items() for method in methods}
    assert registered == set(ROUTE_AUTH)
    assert set(SAMPLE_PATHS) == {path for _, path in ROUTE_AUTH}


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_token_is_401_with_bearer_challenge(api: Api, method: str, path: str) -> None:
    response = api.call(method, SAMPLE_PATHS[path], body={})

    assert response.status == 401
    assert response.body["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("kind", sorted(_bad_tokens()))
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_bad_tokens_are_401(api: Api, method: str, path: str, kind: str) -> None:
    headers = {"Authorization": f"Bearer {_bad_tokens()[kind]}"}

    response = api.call(method, SAMPLE_PATHS[path], body={}, headers=headers)

    assert response.status == 401, response.body
    assert response.body["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "bearer  ", "Token x"])
def test_malformed_authorization_headers_are_401(api: Api, header: str) -> None:
    response = api.call("GET", "/api/messages", headers={"Authorization": header})

    assert response.status == 401


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if ROUTE_AUTH[r] == SERVICE])
def test_internal_routes_refuse_user_tokens(api: Api, method: str, path: str) -> None:
    response = api.call(method, SAMPLE_PATHS[path], "bob", {"name": "x", "creatorId": "bob", "title": "t"})

    assert response.status == 403
    assert response.body["error"]["code"] == "service_role_required"


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if ROUTE_AUTH[r] == USER])
def test_user_routes_refuse_the_service_role(api: Api, method: str, path: str) -> None:
    headers = {"Authorization": f"Bearer {token_for('platform', role='service')}"}

    response = api.call(method, SAMPLE_PATHS[path], body={}, headers=headers)

    assert response.status == 403
    assert response.body["error"]["code"] == "user_token_required"


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if ROUTE_AUTH[r] == MODERATOR])
@pytest.mark.parametrize("role", [None, "service"])
def test_moderator_routes_refuse_users_and_the_service_role(api: Api, method: str, path: str, role: str | None) -> None:
    headers = {"Authorization": f"Bearer {token_for('platform' if role else 'bob', role=role)}"}

    response = api.call(method, SAMPLE_PATHS[path], body={}, headers=headers)

    assert (response.status, response.body["error"]["code"]) == (403, "moderator_role_required")


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if ROUTE_AUTH[r] == USER])
def test_user_routes_refuse_the_moderator_role(api: Api, method: str, path: str) -> None:
    headers = {"Authorization": f"Bearer {token_for('mod1', role='moderator')}"}

    response = api.call(method, SAMPLE_PATHS[path], body={}, headers=headers)

    assert (response.status, response.body["error"]["code"]) == (403, "user_token_required")


def test_internal_endpoints_store_what_the_platform_sends(api: Api) -> None:
    user = api.service("PUT", "/api/internal/users/zed", {"name": " Zed ", "avatarUrl": "https://img/z.png"})
    pattern = api.service("PUT", "/api/internal/patterns/p9", {"creatorId": "zed", "title": "Doily"})
    first = api.service("PUT", "/api/internal/purchases/p9/amy")
    again = api.service("PUT", "/api/internal/purchases/p9/amy")

    assert user.body == {"id": "zed", "name": "Zed", "avatarUrl": "https://img/z.png", "acceptsDirectMessages": False}
    assert pattern.body == {"id": "p9", "title": "Doily", "creatorId": "zed"}
    assert first.status == again.status == 200
    assert again.body["purchasedAt"] == first.body["purchasedAt"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/internal/users/zed", {}),
        ("/api/internal/users/zed", {"name": "Zed", "avatarUrl": "javascript:alert(1)"}),
        ("/api/internal/users/bad%20id", {"name": "Zed"}),
        ("/api/internal/patterns/p9", {"title": "no creator"}),
        ("/api/internal/patterns/p9", {"creatorId": "zed", "title": "t", "price": 3}),
    ],
)
def test_internal_endpoints_validate_input(api: Api, path: str, body: dict) -> None:
    response = api.service("PUT", path, body)

    assert response.status == 400, response.body
    assert response.body["error"]["code"] == "invalid_request"


def test_browsers_may_call_the_api_cross_origin(api: Api) -> None:
    response = api.call("GET", "/api/messages", "bob", headers={"Origin": "http://localhost:3000"})

    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
