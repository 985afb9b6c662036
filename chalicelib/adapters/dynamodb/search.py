"""The search index: one item per (scope, bucket, message), written by the messages stream's consumer.

``scope`` is the partition a search reads: ``u#<user id>`` for each participant (searching all of one's
conversations) and ``c#<conversation id>`` once per conversation (searching one, ``conversationId``: a filter on
the user's partition would return empty pages in a large inbox). ``key`` = ``<bucket>#<sentAt>#<conversationId>#
<seq:012d>`` (``chalicelib.domain.search.index_key``): one Query on ``begins_with(key, "<bucket>#")``, backwards,
gives a bucket's messages newest first. Items are written with BatchWriteItem, never in the send's transaction (a
long message needs hundreds), so writing the same item twice, or deleting a missing one, is harmless: what
at-least-once delivery needs.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from chalicelib.adapters.dynamodb import parallel
from chalicelib.adapters.dynamodb.base import table_meta

PUT, DELETE = "put", "delete"
_BATCH = 25  # DynamoDB's limit of requests in one BatchWriteItem
_MAX_ATTEMPTS = 4


class SearchTerm(Model):
    """A search of ``scope`` finds the message the key names (its conversation and seq) under the key's bucket."""

    Meta = table_meta("search_index")

    scope = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)
    # The message's two participants (``pair_of``): a search learns whom each hit is with from the Query itself, so
    # the blocks between the caller and them join the one BatchGetItem that reads the messages (issue 17).
    pair = UnicodeAttribute(null=True)


def user_scope(user_id: str) -> str:
    return f"u#{user_id}"


def conversation_scope(conversation_id: str) -> str:
    return f"c#{conversation_id}"


IndexWrite = tuple[str, str, str, str | None]  # (PUT or DELETE, scope, key, the pair of a put)
PAIR_SEPARATOR = "\x1f"


def pair_of(first: str, second: str) -> str:
    """The ``pair`` attribute of a message between two users (order-free)."""
    return PAIR_SEPARATOR.join(sorted({first, second}))


def partner_in(pair: str | None, user_id: str) -> str | None:
    """The other user of a ``pair`` that ``user_id`` is in (None: no pair, or not theirs)."""
    users = pair.split(PAIR_SEPARATOR) if pair else []
    if user_id not in users:
        return None
    others = [user for user in users if user != user_id]
    return others[0] if others else None


def write_index(writes: Iterable[IndexWrite]) -> set[tuple[str, str]]:
    """Apply the writes with BatchWriteItem, 25 a request and several requests at once, retrying what DynamoDB
    leaves unprocessed (throttling); the (scope, key) pairs still unwritten after the retries (empty: all written).

    Each (scope, key) must appear once (the caller keeps the last write of each): one request may not name an item
    twice.
    """
    pending = [_request(write) for write in writes]
    chunks = [pending[start : start + _BATCH] for start in range(0, len(pending), _BATCH)]
    left = parallel.each(_write_chunk, chunks)  # a batch of long messages is hundreds of requests
    return {_identity(request) for chunk in left for request in chunk}


def _write_chunk(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One BatchWriteItem of up to 25 requests, retried with backoff while DynamoDB leaves some unprocessed; the
    requests still unprocessed after the attempts."""
    table = SearchTerm.Meta.table_name
    connection = SearchTerm._get_connection().connection
    for attempt in range(_MAX_ATTEMPTS):
        response = connection._make_api_call("BatchWriteItem", {"RequestItems": {table: chunk}})
        chunk = (response.get("UnprocessedItems") or {}).get(table) or []
        if not chunk:
            break
        time.sleep(random.uniform(0, 0.05 * (2**attempt)))  # nosec B311 # backoff jitter, not a secret
    return chunk


def _request(write: IndexWrite) -> dict[str, Any]:
    action, scope, key, pair = write
    item_key = {"scope": {"S": scope}, "key": {"S": key}}
    if action == DELETE:
        return {"DeleteRequest": {"Key": item_key}}
    return {"PutRequest": {"Item": item_key | ({"pair": {"S": pair}} if pair else {})}}


def _identity(request: dict[str, Any]) -> tuple[str, str]:
    found = request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
    return found["scope"]["S"], found["key"]["S"]


def query_index(
    scope: str, bucket: str, *, limit: int, start: dict[str, Any] | None
) -> tuple[list[tuple[str, str | None]], dict[str, Any] | None]:
    """One Query (one round trip, whatever the bucket holds): up to ``limit`` (key, pair) of a scope's bucket, newest
    first (pair None: an item written before pairs were), and where the next page starts (LastEvaluatedKey)."""
    request: dict[str, Any] = {
        "TableName": SearchTerm.Meta.table_name,
        "KeyConditionExpression": "#s = :s AND begins_with(#k, :b)",
        "ExpressionAttributeNames": {"#s": "scope", "#k": "key"},
        "ExpressionAttributeValues": {":s": {"S": scope}, ":b": {"S": f"{bucket}#"}},
        "ScanIndexForward": False,
        "Limit": limit,
        "ConsistentRead": True,
    }
    if start:
        request["ExclusiveStartKey"] = start
    response = SearchTerm._get_connection().connection._make_api_call("Query", request)
    hits = [(item["key"]["S"], item.get("pair", {}).get("S")) for item in response.get("Items", [])]
    return hits, response.get("LastEvaluatedKey")
