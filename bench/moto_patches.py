"""Bench-only changes to moto's DynamoDB that remove costs real DynamoDB does not have (never used by the app).

moto's per-request cost grows with the *table*, DynamoDB's does not:

- ``transact_write_items`` deep-copies every table a transaction touches, to roll back on failure: a send into
  a table of 100,000 messages copies all of them. The transaction patch copies only the items the transaction
  names (its Put items' keys, its Update/Delete/ConditionCheck keys) and restores exactly those on failure.
- ``Table.query`` walks *every item of the table* to find one partition, base table and GSI alike, then sorts
  the partition. The query patch hands it only the queried partition when the query's hash key is the table's
  hash key (every Query of this app: messages, feeds, and the ``by_activity`` index of memberships, which shares
  the table's ``user_id`` hash key), and only the window of that partition a real DynamoDB would read: for
  base tables from a sorted key list per partition kept up to date incrementally, for a GSI's first page from
  the partition's index order, kept until the next write (any write anywhere re-sorts on the next query).

- moto 5.2 writes every response through a generic serializer that walks botocore's shape model for each
  attribute value (about 80 µs per value on the bench machine: a page of 20 conversations costs 20 ms to
  *encode*, work that DynamoDB does on its servers, not in the Lambda). The serializer patch encodes the data
  operations' responses (GetItem, BatchGetItem, Query, the writes) with ``json.dumps`` directly. It checks
  itself: inside ``verifying_encoding()`` (the untimed warm-up requests of every operation at every size, and
  the self-check) each response is encoded both ways and compared (status, decoded body); a difference fails
  the run.

None changes what a request returns or what it costs in round trips or items (``self_check`` verifies results,
rollback and encoding); all are switched on and off at run time, so one run measures with and without them. The
app and the dev stack never import this module.
"""

from __future__ import annotations

import bisect
import copy
import functools
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_MARKER = "_bench_moto_patches"
_state = threading.local()


@dataclass
class Switches:
    """Which patches are on (all on by default once installed)."""

    sparse_snapshots: bool = True
    partition_queries: bool = True
    direct_encoding: bool = True


SWITCHES = Switches()


@contextmanager
def raw_moto() -> Iterator[None]:
    """Measure moto as it ships: every patch off inside the block."""
    saved = (SWITCHES.sparse_snapshots, SWITCHES.partition_queries, SWITCHES.direct_encoding)
    SWITCHES.sparse_snapshots = SWITCHES.partition_queries = SWITCHES.direct_encoding = False
    try:
        yield
    finally:
        SWITCHES.sparse_snapshots, SWITCHES.partition_queries, SWITCHES.direct_encoding = saved


# --- transactions ---------------------------------------------------------------------------------------------


class _TableCopyShim:
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models``: while a sparse transaction runs on this
    thread, the whole-table deep copy becomes a no-op (the touched items were saved beforehand)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        if getattr(_state, "sparse", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


@dataclass
class _Saved:
    table: Any
    hash_value: Any
    range_value: Any
    item: Any  # a deep copy of the item before the transaction, None when it did not exist


def _touched(backend: Any, transact_items: list[dict[str, Any]]) -> list[_Saved]:
    """Deep copies of every item ``transact_items`` names, as they are before the transaction."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved = []
    for entry in transact_items:
        for op_type, op in entry.items():
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue
            source = op.get("Item") if op_type == "Put" else op.get("Key")
            if not source or table.hash_key_attr not in source:
                continue
            hash_value = DynamoType(source[table.hash_key_attr])
            range_value = None
            if table.range_key_attr is not None:
                if table.range_key_attr not in source:
                    continue
                range_value = DynamoType(source[table.range_key_attr])
            if table.range_key_attr is not None:
                current = table.items.get(hash_value, {}).get(range_value)
            else:
                current = table.items.get(hash_value)
            saved.append(_Saved(table, hash_value, range_value, copy.deepcopy(current)))
    return saved


def _restore(saved: list[_Saved]) -> None:
    for entry in reversed(saved):  # the oldest copy of an item named twice wins
        table = entry.table
        if entry.item is None:
            table.delete_item(entry.hash_value, entry.range_value)
        elif entry.range_value is not None:
            table.items[entry.hash_value][entry.range_value] = entry.item
        else:
            table.items[entry.hash_value] = entry.item


def _sparse_transactions(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        if not SWITCHES.sparse_snapshots:
            return original(self, transact_items)
        saved = _touched(self, transact_items)
        _state.sparse = True
        try:
            return original(self, transact_items)
        except BaseException:
            _restore(saved)
            raise
        finally:
            _state.sparse = False

    return transact_write_items


# --- queries --------------------------------------------------------------------------------------------------


@dataclass
class _SortedKeys:
    """The range keys of one partition in order, extended as keys are appended (dicts keep insertion order)."""

    keys: list[Any] = field(default_factory=list)
    seen: int = 0
    partition_id: int = 0


_sorted_keys: dict[tuple[int, Any], _SortedKeys] = {}


def _partition_keys(table: Any, hash_value: Any, partition: dict[Any, Any]) -> list[Any]:
    cache_key = (id(table), hash_value)
    entry = _sorted_keys.get(cache_key)
    if entry is None or entry.partition_id != id(partition) or len(partition) < entry.seen:
        entry = _SortedKeys(sorted(partition), len(partition), id(partition))
        _sorted_keys[cache_key] = entry
    elif len(partition) > entry.seen:
        for key in list(partition)[entry.seen :]:
            bisect.insort(entry.keys, key)
        entry.seen = len(partition)
    return entry.keys


def _window(
    table: Any,
    hash_value: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: int | None,
    forward: bool,
    exclusive_start_key: dict[str, Any] | None,
) -> list[Any] | None:
    """The items of a base-table partition a real Query would read, or None when the shape is not handled."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    partition = table.items.get(hash_value)
    if partition is None:
        return []
    if table.range_key_attr is None:
        return [partition]
    keys = _partition_keys(table, hash_value, partition)
    low, high = 0, len(keys)
    if range_comparison in ("<", "<="):
        high = (bisect.bisect_left if range_comparison == "<" else bisect.bisect_right)(keys, range_objs[0])
    elif range_comparison in (">", ">="):
        low = (bisect.bisect_right if range_comparison == ">" else bisect.bisect_left)(keys, range_objs[0])
    elif range_comparison is not None and range_comparison.upper() == "BETWEEN":
        low, high = bisect.bisect_left(keys, range_objs[0]), bisect.bisect_right(keys, range_objs[1])
    elif range_comparison == "=":
        low, high = bisect.bisect_left(keys, range_objs[0]), bisect.bisect_right(keys, range_objs[0])
    elif range_comparison is not None:
        return None  # BEGINS_WITH and anything else: let moto do it
    if exclusive_start_key is not None:
        start = exclusive_start_key.get(table.range_key_attr)
        if start is None:
            return None
        start_value = DynamoType(start)
        if forward:
            low = max(low, bisect.bisect_right(keys, start_value))
        else:
            high = min(high, bisect.bisect_left(keys, start_value))
    # moto looks at one candidate past the last match (in or out of range) to decide on LastEvaluatedKey:
    # keep one more key on the side the scan ends, so its answer is the same.
    if forward:
        high = min(len(keys), high + 1)
        if limit is not None:
            high = min(high, low + limit + 1)
    else:
        low = max(0, low - 1)
        if limit is not None:
            low = max(low, high - limit - 1)
    return [partition[key] for key in keys[low:high]]


_writes = 0  # bumped by every write through the backend: cached index orders are valid until the next one
_index_orders: dict[tuple[int, str, Any], tuple[int, list[Any]]] = {}


def _counting_writes(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _writes
        _writes += 1
        try:
            return original(self, *args, **kwargs)
        finally:
            _writes += 1

    return write


def _index_window(
    table: Any, index_name: str, hash_value: Any, partition: dict[Any, Any], limit: int | None, forward: bool
) -> list[Any]:
    """The first ``limit`` + 2 items of a GSI partition in index order (the index's own range key, then the
    table's keys, as moto sorts them), from an order kept until the next write: what an index gives DynamoDB."""
    cache_key = (id(table), index_name, hash_value)
    cached = _index_orders.get(cache_key)
    if cached is None or cached[0] != _writes:
        index = table.get_index(index_name)
        range_attrs = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
        order = [a for a in [*range_attrs, table.hash_key_attr, table.range_key_attr] if a]
        items = [item for item in partition.values() if all(item.attrs.get(a) for a in range_attrs)]
        items.sort(key=lambda item: tuple(item.attrs[a].cast_value for a in order))
        cached = (_writes, items)
        _index_orders[cache_key] = cached
    items = cached[1]
    if limit is None:
        return list(items)
    return items[: limit + 2] if forward else items[-(limit + 2) :]


def _partition_queries(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def query(
        self: Any,
        hash_key: Any,
        range_comparison: str | None,
        range_objs: list[Any],
        limit: int | None,
        exclusive_start_key: dict[str, Any] | None,
        scan_index_forward: bool,
        projection_expressions: Any,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: list[tuple[str, Any]] | None = None,
        range_key_conditions: list[tuple[str, str, list[Any]]] | None = None,
        **filter_kwargs: Any,
    ) -> Any:
        def run() -> Any:
            return original(
                self,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                exclusive_start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                consistent_read,
                filter_expression,
                hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions,
                **filter_kwargs,
            )

        if not SWITCHES.partition_queries or filter_kwargs:
            return run()
        candidates: list[Any] | None = None
        if index_name is None:
            if hash_key is not None and len(range_key_conditions or ()) <= 1:
                forward = scan_index_forward is not False
                candidates = _window(self, hash_key, range_comparison, range_objs, limit, forward, exclusive_start_key)
        else:
            conditions = hash_key_conditions or []
            if len(conditions) == 1 and conditions[0][0] == self.hash_key_attr:
                partition = self.items.get(conditions[0][1])
                if partition is None:
                    candidates = []
                elif not self.range_key_attr:
                    candidates = [partition]
                elif range_comparison is None and not range_key_conditions and exclusive_start_key is None:
                    forward = scan_index_forward is not False
                    candidates = _index_window(self, index_name, conditions[0][1], partition, limit, forward)
                else:
                    candidates = list(partition.values())
        if candidates is None:
            return run()
        _state.candidates = candidates
        try:
            return run()
        finally:
            _state.candidates = None

    return query


def _narrowed_all_items(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def all_items(self: Any) -> list[Any]:
        candidates = getattr(_state, "candidates", None)
        if candidates is not None:
            _state.candidates = None  # once: the query asks for its candidates exactly once
            return candidates
        return original(self)

    return all_items


# --- response encoding ----------------------------------------------------------------------------------------

# The operations whose responses are plain data: dicts of DynamoDB attribute values, counts and keys.
DIRECT_OPERATIONS = frozenset(
    {"GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "DeleteItem"}
    | {"TransactWriteItems", "TransactGetItems"}
)
VERIFIED: Counter[str] = Counter()  # operation -> responses encoded both ways and found identical


@contextmanager
def verifying_encoding() -> Iterator[None]:
    """Inside the block, every directly encoded response is also encoded by moto and the two compared."""
    saved = getattr(_state, "verify", False)
    _state.verify = True
    try:
        yield
    finally:
        _state.verify = saved


def _without_nulls(value: Any) -> Any:
    """The response as moto's serializer writes it: members that are ``None`` are left out."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _direct_encoding(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def serialized(self: Any, action_result: Any) -> Any:
        operation = self._get_action()
        result = action_result.result
        if (
            not SWITCHES.direct_encoding
            or operation not in DIRECT_OPERATIONS
            or isinstance(result, Exception)
            or not isinstance(result, dict)
        ):
            return original(self, action_result)
        try:
            body = json.dumps(_without_nulls(result))
        except (TypeError, ValueError):  # bytes, datetimes …: not plain data, leave it to moto
            return original(self, action_result)
        # moto's own status and headers (content type, request id): those of an empty result, the cheap part.
        status, headers, _ = original(self, _empty_result())
        if getattr(_state, "verify", False):
            expected = original(self, action_result)
            if (expected[0], json.loads(expected[2])) != (status, json.loads(body)):
                raise AssertionError(f"direct encoding of {operation} differs from moto's: {body[:300]}")
            VERIFIED[operation] += 1
        return status, headers, body

    return serialized


@functools.cache
def _empty_result() -> Any:
    from moto.core.responses import ActionResult

    return ActionResult({})


# --- installing -----------------------------------------------------------------------------------------------


def install() -> None:
    """Install the patches (idempotent). Call before ``dev.moto_isolation.isolate_transactions`` so the
    isolation lock wraps the sparse transaction."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    if getattr(Table.query, _MARKER, False):
        return
    models.copy = _TableCopyShim()  # type: ignore[assignment]
    for owner, name, wrap in (
        (DynamoDBBackend, "transact_write_items", _sparse_transactions),
        (Table, "query", _partition_queries),
        (Table, "all_items", _narrowed_all_items),
        (DynamoHandler, "serialized", _direct_encoding),
        *(
            (DynamoDBBackend, write, _counting_writes)
            for write in ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items")
        ),
    ):
        wrapped = wrap(getattr(owner, name))
        setattr(wrapped, _MARKER, True)
        setattr(owner, name, wrapped)


def self_check() -> list[str]:
    """Prove on a throwaway table that the patches change no result: rollback of a failed condition restores
    exactly the prior items, and queries return the same pages with and without the partition patch.

    Returns what was checked (raises AssertionError on any difference). Runs under its own ``mock_aws``.
    """
    import boto3
    from moto import mock_aws

    checked = []
    with mock_aws(), verifying_encoding():
        client = boto3.client("dynamodb", region_name="us-east-1")
        for name, keys in (
            ("selfcheck-msgs", [("c", "HASH", "S"), ("s", "RANGE", "N")]),
            ("selfcheck-kv", [("k", "HASH", "S")]),
        ):
            client.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": a, "KeyType": t} for a, t, _ in keys],
                AttributeDefinitions=[{"AttributeName": a, "AttributeType": y} for a, _, y in keys]
                + (
                    [{"AttributeName": "u", "AttributeType": "S"}, {"AttributeName": "at", "AttributeType": "S"}]
                    if name == "selfcheck-msgs"
                    else []
                ),
                BillingMode="PAY_PER_REQUEST",
                **(
                    {
                        "GlobalSecondaryIndexes": [
                            {
                                "IndexName": "by_at",
                                "KeySchema": [
                                    {"AttributeName": "u", "KeyType": "HASH"},
                                    {"AttributeName": "at", "KeyType": "RANGE"},
                                ],
                                "Projection": {"ProjectionType": "ALL"},
                            }
                        ]
                    }
                    if name == "selfcheck-msgs"
                    else {}
                ),
            )
        for partition in ("a", "b"):
            for seq in range(1, 121):
                client.put_item(
                    TableName="selfcheck-msgs",
                    Item={
                        "c": {"S": partition},
                        "s": {"N": str(seq)},
                        "u": {"S": partition},
                        "at": {"S": f"{(seq * 7919) % 1000:04d}"},
                    },
                )
        client.put_item(TableName="selfcheck-kv", Item={"k": {"S": "x"}, "v": {"N": "1"}})

        def dump() -> dict[str, list[dict[str, Any]]]:
            return {t: sorted(client.scan(TableName=t)["Items"], key=repr) for t in ("selfcheck-msgs", "selfcheck-kv")}

        before = dump()
        failing = [
            {
                "Put": {
                    "TableName": "selfcheck-msgs",
                    "Item": {"c": {"S": "a"}, "s": {"N": "999"}, "u": {"S": "a"}, "at": {"S": "x"}},
                }
            },
            {
                "Update": {
                    "TableName": "selfcheck-kv",
                    "Key": {"k": {"S": "x"}},
                    "UpdateExpression": "SET v = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}},
                }
            },
            {"Delete": {"TableName": "selfcheck-msgs", "Key": {"c": {"S": "b"}, "s": {"N": "5"}}}},
            {
                "Update": {
                    "TableName": "selfcheck-msgs",
                    "Key": {"c": {"S": "a"}, "s": {"N": "1"}},
                    "UpdateExpression": "SET z = :one",
                    "ConditionExpression": "attribute_not_exists(c)",  # fails: the item exists
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
        try:
            client.transact_write_items(TransactItems=failing)
        except client.exceptions.TransactionCanceledException:
            pass
        else:
            raise AssertionError("the failing transaction committed")
        assert dump() == before, "a cancelled transaction left changes behind"
        checked.append("a cancelled transaction (put, update, delete, failed condition) restores every item")
        client.transact_write_items(TransactItems=failing[:3])
        assert dump() != before, "a successful transaction wrote nothing"
        checked.append("a successful transaction still writes")

        queries: list[dict[str, Any]] = []
        for forward in (True, False):
            for limit in (7, 51):
                base = {"TableName": "selfcheck-msgs", "ScanIndexForward": forward, "Limit": limit}
                queries += [
                    {**base, "KeyConditionExpression": "c = :c", "ExpressionAttributeValues": {":c": {"S": "b"}}},
                    {
                        **base,
                        "KeyConditionExpression": "c = :c AND s < :s",
                        "ExpressionAttributeValues": {":c": {"S": "b"}, ":s": {"N": "60"}},
                    },
                    {
                        **base,
                        "KeyConditionExpression": "c = :c AND s > :s",
                        "ExpressionAttributeValues": {":c": {"S": "b"}, ":s": {"N": "100"}},
                    },
                    {
                        **base,
                        "KeyConditionExpression": "c = :c AND s BETWEEN :l AND :h",
                        "ExpressionAttributeValues": {":c": {"S": "a"}, ":l": {"N": "3"}, ":h": {"N": "40"}},
                    },
                    {
                        **base,
                        "IndexName": "by_at",
                        "KeyConditionExpression": "u = :u",
                        "ExpressionAttributeValues": {":u": {"S": "a"}},
                    },
                    {
                        **base,
                        "IndexName": "by_at",
                        "KeyConditionExpression": "u = :u AND #a > :a",
                        "ExpressionAttributeNames": {"#a": "at"},
                        "ExpressionAttributeValues": {":u": {"S": "b"}, ":a": {"S": "0500"}},
                    },
                ]
        for round_number in range(2):
            for query in queries:
                patched = _pages(client, query)
                with raw_moto():
                    raw = _pages(client, query)
                assert patched == raw, f"query differs with the partition patch: {query}"
            # A write moves an item in the index: cached index orders must follow.
            client.update_item(
                TableName="selfcheck-msgs",
                Key={"c": {"S": "a"}, "s": {"N": str(7 + round_number)}},
                UpdateExpression="SET #a = :a",
                ExpressionAttributeNames={"#a": "at"},
                ExpressionAttributeValues={":a": {"S": "9999"}},
            )
        checked.append(
            f"{len(queries)} queries (base table and GSI, both directions, paginated), before and after a write "
            "that moves an item in the index, return identical pages"
        )
    return checked


def _pages(client: Any, query: dict[str, Any]) -> list[Any]:
    pages, start = [], None
    for _ in range(50):
        response = client.query(**query, **({"ExclusiveStartKey": start} if start else {}))
        pages.append((response["Items"], response.get("LastEvaluatedKey")))
        start = response.get("LastEvaluatedKey")
        if not start:
            break
    return pages
