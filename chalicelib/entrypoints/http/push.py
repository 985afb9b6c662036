"""``/api/push``: Web Push (RFC 8030, VAPID RFC 8292): the application server key and the caller's browser
subscriptions. What is pushed, and when: ``chalicelib.services.push``."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.bootstrap import preload, services
from chalicelib.domain.principal import Principal
from chalicelib.domain.push import is_subscription_id
from chalicelib.entrypoints.http.routing import Answer, path_id, read_json_body, route
from chalicelib.entrypoints.parsing import parse
from chalicelib.schemas.requests import PushSubscriptionRequest
from chalicelib.schemas.responses import PushSubscriptionOut, VapidPublicKeyOut

# This function's init loads the use cases its handlers call (built on first use: bootstrap.preload).
preload("push")

blueprint = Blueprint(__name__)
TAG = "push"


@route(
    blueprint,
    "/push/vapid-public-key",
    "GET",
    operation_id="getVapidPublicKey",
    tag=TAG,
    responses={200: VapidPublicKeyOut},
)
def vapid_public_key(request: Any, principal: Principal) -> Answer:
    """The VAPID public key (base64url, an uncompressed P-256 point) to subscribe with.

    Pass it as `applicationServerKey` to `PushManager.subscribe({userVisibleOnly: true, applicationServerKey})`.
    """
    return services().push.public_key()


@route(
    blueprint,
    "/push/subscriptions",
    "PUT",
    operation_id="putPushSubscription",
    tag=TAG,
    body=PushSubscriptionRequest,
    responses={201: PushSubscriptionOut, 200: PushSubscriptionOut},
    errors={409},
)
def put_subscription(request: Any, principal: Principal) -> Answer:
    """Register this browser's push subscription (`PushSubscription.toJSON()`).

    `201` when new; the same endpoint again answers `200` with the same id (its keys are updated). The endpoint
    must be `https` on a browser push service (`PUSH_ALLOWED_HOSTS`; `400 push_endpoint_not_allowed`); `keys.p256dh`
    a P-256 point and `keys.auth` 16 bytes, base64url (`400 invalid_request`). At most `PUSH_MAX_SUBSCRIPTIONS`
    (10) per user: `409 too_many_push_subscriptions`.
    """
    body = parse(PushSubscriptionRequest, read_json_body(request))
    return services().push.subscribe(principal, body)


@route(
    blueprint,
    "/push/subscriptions/{subscriptionId}",
    "DELETE",
    operation_id="deletePushSubscription",
    tag=TAG,
    responses={200: PushSubscriptionOut},
)
def delete_subscription(request: Any, principal: Principal, subscriptionId: str) -> Answer:
    """Remove one of the caller's push subscriptions (on logout, or when the user turns notifications off here)."""
    subscription_id = path_id(subscriptionId, is_subscription_id, "push subscription")
    return services().push.unsubscribe(principal, subscription_id)
