"""``/api/internal``: the platform writes the profiles, patterns and purchases this service needs.

Only a JWT with ``"role": "service"`` may call these.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.domain.ids import is_entity_id
from chalicelib.domain.principal import Principal
from chalicelib.entrypoints.http.routing import SERVICE, Answer, read_json_body, route
from chalicelib.entrypoints.parsing import parse
from chalicelib.errors import InvalidRequest
from chalicelib.schemas.requests import UpsertPatternRequest, UpsertUserRequest
from chalicelib.schemas.responses import InternalUserOut, PatternOut, PurchaseOut
from chalicelib.services import directory

blueprint = Blueprint(__name__)
TAG = "platform"


def _entity_id(value: str, what: str) -> str:
    if not is_entity_id(value):
        raise InvalidRequest(f"{what} is not a valid id", details=[{"field": what, "message": "invalid id"}])
    return value


@route(
    blueprint,
    "/internal/users/{userId}",
    "PUT",
    operation_id="putUser",
    tag=TAG,
    auth=SERVICE,
    body=UpsertUserRequest,
    responses={200: InternalUserOut},
)
def put_user(request: Any, principal: Principal, userId: str) -> Answer:
    """Store the platform's profile of a user.

    ``email`` is where the user's email digests go; it is answered here, to the platform, and to nobody else."""
    body = parse(UpsertUserRequest, read_json_body(request))
    return directory.upsert_user(_entity_id(userId, "userId"), body)


@route(
    blueprint,
    "/internal/patterns/{patternId}",
    "PUT",
    operation_id="putPattern",
    tag=TAG,
    auth=SERVICE,
    body=UpsertPatternRequest,
    responses={200: PatternOut},
)
def put_pattern(request: Any, principal: Principal, patternId: str) -> Answer:
    """Store the platform's copy of a pattern."""
    body = parse(UpsertPatternRequest, read_json_body(request))
    return directory.upsert_pattern(_entity_id(patternId, "patternId"), body)


@route(
    blueprint,
    "/internal/purchases/{patternId}/{userId}",
    "PUT",
    operation_id="putPurchase",
    tag=TAG,
    auth=SERVICE,
    responses={200: PurchaseOut},
)
def put_purchase(request: Any, principal: Principal, patternId: str, userId: str) -> Answer:
    """Record a purchase (idempotent): the buyer may now message the creator."""
    return directory.record_purchase(_entity_id(patternId, "patternId"), _entity_id(userId, "userId"))
