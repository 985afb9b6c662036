"""``/api/me/notification-preferences`` (the caller's) and ``/api/notifications/unsubscribe`` (an email digest's
one-click unsubscribe, RFC 8058: no login, a signed token)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.domain.principal import Principal
from chalicelib.entrypoints.http.routing import PUBLIC, Answer, query_params, read_json_body, route
from chalicelib.entrypoints.parsing import parse
from chalicelib.schemas.requests import NotificationPreferencesRequest, UnsubscribeQuery
from chalicelib.schemas.responses import NotificationPreferencesOut, UnsubscribedOut
from chalicelib.services import preferences

blueprint = Blueprint(__name__)
TAG = "notifications"


@route(
    blueprint,
    "/me/notification-preferences",
    "GET",
    operation_id="getNotificationPreferences",
    tag=TAG,
    responses={200: NotificationPreferencesOut},
)
def get_preferences(request: Any, principal: Principal) -> Answer:
    """The caller's notification preferences: email digests, Web Push, quiet hours (defaults until set)."""
    return preferences.get_preferences(principal.user_id)


@route(
    blueprint,
    "/me/notification-preferences",
    "PUT",
    operation_id="putNotificationPreferences",
    tag=TAG,
    body=NotificationPreferencesRequest,
    responses={200: NotificationPreferencesOut},
)
def put_preferences(request: Any, principal: Principal) -> Answer:
    """Replace the caller's notification preferences.

    `email.delayMinutes` is 1-1440 (default 10); `quietHours` is `{start, end, timeZone}` (24-hour `HH:MM`, an IANA
    time zone, may span midnight) or null. What the body leaves out takes its default; a value outside its rules is
    a 400 `invalid_request` naming the field.
    """
    body = parse(NotificationPreferencesRequest, read_json_body(request, required=True))
    return preferences.put_preferences(principal.user_id, body)


@route(
    blueprint,
    "/notifications/unsubscribe",
    "POST",
    operation_id="unsubscribeEmail",
    tag=TAG,
    auth=PUBLIC,
    query=UnsubscribeQuery,
    responses={200: UnsubscribedOut},
)
def unsubscribe(request: Any, principal: None) -> Answer:
    """Turn off email digests for the user the token was issued to (the digest's one-click `List-Unsubscribe`).

    No login: the signed `token` of the digest's `List-Unsubscribe` header is the proof. Idempotent. The body
    (RFC 8058's `List-Unsubscribe=One-Click` form) is not read. A token this service did not issue is a 400
    `invalid_unsubscribe_token`.
    """
    query = parse(UnsubscribeQuery, query_params(request))
    return preferences.unsubscribe(query.token)
