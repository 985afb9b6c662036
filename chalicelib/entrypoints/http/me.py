"""``/api/me``: what the caller keeps about other users: the users they blocked."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.bootstrap import preload, services
from chalicelib.domain.ids import is_entity_id
from chalicelib.domain.principal import Principal
from chalicelib.entrypoints.http.routing import Answer, path_id, query_params, route
from chalicelib.entrypoints.parsing import parse
from chalicelib.schemas.requests import BlocksQuery
from chalicelib.schemas.responses import BlockedOut, BlocksOut, BlockStateOut

# This function's init loads the use cases its handlers call (built on first use: bootstrap.preload).
preload("organizing")

blueprint = Blueprint(__name__)
TAG = "blocks"


def _user_id(value: str) -> str:
    return path_id(value, is_entity_id, "user")


@route(
    blueprint,
    "/me/blocks/{userId}",
    "PUT",
    operation_id="blockUser",
    tag=TAG,
    responses={201: BlockedOut, 200: BlockedOut},
    errors={429},
)
def block(request: Any, principal: Principal, userId: str) -> Answer:
    """Block a user (201 when new, 200 when already blocked).

    While either of two users has blocked the other, sends in either direction answer `403 recipient_unavailable`
    (the same whoever blocked), no pattern conversation between them can be opened, neither can join the rooms of
    their conversations, typing and presence do not flow, and their open connections stop receiving each other's
    events. A message request from that user waiting for the caller is declined (it leaves `requests` for
    `archived`): declining a request is blocking.
    """
    out, created = services().organizing.block(principal, _user_id(userId))
    return BlockedOut(block=out), 201 if created else 200


@route(
    blueprint,
    "/me/blocks/{userId}",
    "DELETE",
    operation_id="unblockUser",
    tag=TAG,
    responses={200: BlockStateOut},
    errors={429},
)
def unblock(request: Any, principal: Principal, userId: str) -> Answer:
    """Unblock a user (idempotent: a user who is not blocked is already unblocked)."""
    return services().organizing.unblock(principal, _user_id(userId))


@route(
    blueprint,
    "/me/blocks",
    "GET",
    operation_id="listBlocks",
    tag=TAG,
    query=BlocksQuery,
    responses={200: BlocksOut},
)
def blocks(request: Any, principal: Principal) -> Answer:
    """The users the caller blocked (paginated with `cursor`, by user id). Who blocked the caller is never shown."""
    query = parse(BlocksQuery, query_params(request))
    return services().organizing.blocks(principal, query.limit, query.cursor)
