"""Who blocked whom: one item per blocker and blocked user, listed (paginated) from the blocker's partition, and read
or checked by key wherever two users meet (a send's snapshot and transaction, joins, typing, pattern conversations)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import CancellationReason
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb.base import table_meta
from chalicelib.errors import ErrorCode, Forbidden


class Block(Model):
    """``user_id`` blocked ``blocked_id`` (at ``created_at``). Either direction keeps the two users apart."""

    Meta = table_meta("blocks")

    user_id = UnicodeAttribute(hash_key=True)
    blocked_id = UnicodeAttribute(range_key=True)
    created_at = UnicodeAttribute()


# How many condition checks ``check_not_blocked`` adds. PynamoDB sends a transaction's condition checks before its
# other actions, in the order they were added: a transaction that calls ``check_not_blocked`` before any other
# ``condition_check`` finds them at the first two positions of its cancellation reasons.
CHECKS = 2


def check_not_blocked(transaction: TransactWrite, first: str, second: str) -> None:
    """Hold ``transaction`` to neither user having blocked the other when it commits (race-free: a block committed
    meanwhile cancels it). Call it before any other ``condition_check`` of the transaction."""
    transaction.condition_check(Block, first, second, condition=Block.user_id.does_not_exist())
    transaction.condition_check(Block, second, first, condition=Block.user_id.does_not_exist())


def refusal(reasons: list[CancellationReason | None]) -> Forbidden | None:
    """The answer for a transaction ``check_not_blocked`` cancelled, whichever side blocked (a blocked user does not
    learn it); None when something else cancelled it."""
    if any(reason is not None and reason.code == "ConditionalCheckFailed" for reason in reasons[:CHECKS]):
        return recipient_unavailable()
    return None


def recipient_unavailable() -> Forbidden:
    return Forbidden("this user cannot be messaged", code=ErrorCode.RECIPIENT_UNAVAILABLE)


def block_keys(first: str, second: str) -> list[tuple[type[Block], str, str]]:
    """The BatchGetItem keys of the blocks between two users, either way."""
    return [(Block, first, second), (Block, second, first)]


def blocked_between(found: Mapping[Any, Any], first: str, second: str) -> bool:
    """Whether a batch that read ``block_keys(first, second)`` found either block."""
    return any(found.get(key) is not None for key in block_keys(first, second))
