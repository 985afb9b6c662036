"""``/api/internal``: the platform writes the profiles, patterns and purchases this service needs.

Only a JWT with ``"role": "service"`` may call these.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.http import SERVICE, json_response, parse, read_json_body, route
from chalicelib.auth import Principal
from chalicelib.domain.ids import is_entity_id
from chalicelib.errors import InvalidRequest
from chalicelib.schemas.requests import UpsertPatternRequest, UpsertUserRequest
from chalicelib.schemas.responses import PatternOut, PurchaseOut, UserOut
from chalicelib.services import directory

blueprint = Blueprint(__name__)


def _entity_id(value: str, what: str) -> str:
    if not is_entity_id(value):
        raise InvalidRequest(f"{what} is not a valid id", details=[{"field": what, "message": "invalid id"}])
    return value


@route(blueprint, "/internal/users/{user_id}", "PUT", auth=SERVICE, body=UpsertUserRequest, responses={200: UserOut})
def put_user(request: Any, principal: Principal, user_id: str) -> Response:
    """Store the platform's profile of a user."""
    body = parse(UpsertUserRequest, read_json_body(request))
    user = directory.upsert_user(_entity_id(user_id, "userId"), body)
    return json_response(UserOut(id=user.id, name=user.name, avatar_url=user.avatar_url).wire())


@route(
    blueprint,
    "/internal/patterns/{pattern_id}",
    "PUT",
    auth=SERVICE,
    body=UpsertPatternRequest,
    responses={200: PatternOut},
)
def put_pattern(request: Any, principal: Principal, pattern_id: str) -> Response:
    """Store the platform's copy of a pattern."""
    body = parse(UpsertPatternRequest, read_json_body(request))
    pattern = directory.upsert_pattern(_entity_id(pattern_id, "patternId"), body)
    return json_response(
        PatternOut(
            id=pattern.id, title=pattern.title, thumbnail_url=pattern.thumbnail_url, creator_id=pattern.creator_id
        ).wire()
    )


@route(blueprint, "/internal/purchases/{pattern_id}/{user_id}", "PUT", auth=SERVICE, responses={200: PurchaseOut})
def put_purchase(request: Any, principal: Principal, pattern_id: str, user_id: str) -> Response:
    """Record a purchase (idempotent): the buyer may now message the creator."""
    purchase = directory.record_purchase(_entity_id(pattern_id, "patternId"), _entity_id(user_id, "userId"))
    return json_response(
        PurchaseOut(user_id=purchase.user_id, pattern_id=purchase.pattern_id, purchased_at=purchase.purchased_at).wire()
    )
