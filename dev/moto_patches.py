"""moto's DynamoDB without the costs real DynamoDB does not have: what keeps ``make dev`` flat as data grows.

Used by the dev stack (``make dev`` and ``make test``'s e2e stacks, ``dev/stack.py``) and the benchmarks; never by
the app (it is dev-only, like all of ``dev/``). moto's per-request cost grows with the *table*, DynamoDB's does
not, and moto keeps every object it ever made:

- ``sparse_snapshots``: ``transact_write_items`` deep-copies every table a transaction touches, to roll back on
  failure: a send into a table of 100,000 messages copies all of them. The patch copies only the items the
  transaction names (its Put items' keys, its Update/Delete/ConditionCheck keys) and restores exactly those.
- ``partition_queries``: ``Table.query`` walks *every item of the table* to find one partition, base table and
  GSI alike, then sorts it. The patch hands it only the queried partition when the query's hash key is the
  table's hash key (every Query of this app: messages, feeds, and the ``by_activity`` index of memberships, which
  shares the table's ``user_id`` hash key), and only the window of that partition a real DynamoDB would read: for
  base tables from a sorted key list per partition kept up to date incrementally, for a GSI's first page from
  the partition's index order, kept until the next write.
- ``direct_encoding``: moto 5.2 writes every response through a generic serializer that walks botocore's shape
  model for each attribute value (~80 µs per value: a page of 20 conversations costs 20 ms to *encode*, work
  DynamoDB does on its servers). The patch encodes the data operations' responses with ``json.dumps``.
- ``untracked_items``: moto's ``BaseModel.__new__`` appends every instance to its class's ``instances_tracked``
  list (for the moto server's dashboard) and nothing ever removes them: every DynamoDB item moto creates (each
  write makes a new one, each update and each Query deep-copies items, each transaction as shipped deep-copies
  whole tables) stays in memory for the life of the process. That, not the data, is what took the stack to
  7 GB. The patch stops the tracking for moto's DynamoDB classes; items then live as long as their table holds
  them.
- ``sqs_sends``: moto's SQS ``send_message`` reads a queue's ``attributes`` for one flag, and building them counts
  the queue's messages three times (visible, delayed, in flight), each reading the clock per message: a send
  into a queue of delayed digests or undelivered webhook events costs the queue's length, and it ran on the
  stream consumer's path. The patch answers 0 for the counts while a send runs (it never reads them);
  ``GetQueueAttributes`` still counts.

None changes what a request returns or costs in round trips or items. ``apply()`` installs them and runs
``self_check()``, which proves it on throwaway tables (a cancelled transaction restores every item, queries
return the same pages with and without the patch, encodings match, the patches still take effect, nothing is
tracked) and fails with ``PatchBroken`` naming the patch, so a moto upgrade that breaks one stops the stack at
startup instead of silently measuring something else. The switches turn them off at run time
(``raw_moto()``): the benchmark measures moto as it ships with the same process.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import functools
import inspect
import itertools
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dev import moto_isolation

_MARKER = "_dev_moto_patches"
_state = threading.local()

PATCHES = {
    "sparse_snapshots": "transactions copy only the items they name, not whole tables",
    "partition_queries": "a Query reads only the window of its partition, not the whole table",
    "direct_encoding": "data responses are encoded with json.dumps, not walked through botocore's shapes",
    "untracked_items": "moto does not keep every DynamoDB item and table it ever created",
    "bulk_writes": "dev/moto_bulk.py writes items into moto's tables directly (seeding, reloading the data folder)",
    "sqs_sends": "an SQS send does not count the queue's messages",
}


class PatchBroken(RuntimeError):
    """A patch no longer holds on this moto: the message names it and says what failed."""

    def __init__(self, patch: str, problem: str) -> None:
        import moto

        self.patch = patch
        super().__init__(
            f"moto patch {patch!r} ({PATCHES[patch]}) does not hold on moto {moto.__version__}: {problem}. "
            "Fix it in dev/moto_patches.py (or pin the moto that works); DEV_MOTO_PATCHES=off runs moto as it "
            "ships meanwhile (slow as data grows)."
        )


@dataclass
class Switches:
    """Which patches are on (all on by default once installed)."""

    sparse_snapshots: bool = True
    partition_queries: bool = True
    direct_encoding: bool = True
    untracked_items: bool = True
    sqs_sends: bool = True


SWITCHES = Switches()
# What ``raw_moto()`` turns off: the patches that change moto's speed.
_SPEED_PATCHES = ("sparse_snapshots", "partition_queries", "direct_encoding", "sqs_sends")


@dataclass
class Effects:
    """How often each patch took effect: the self-check proves a patch still does something after an upgrade."""

    table_copies_skipped: int = 0
    queries_narrowed: int = 0
    responses_encoded: int = 0
    counts_skipped: int = 0


EFFECTS = Effects()


@contextmanager
def raw_moto() -> Iterator[None]:
    """Time moto as it ships: the patches that change its speed off inside the block (``untracked_items`` stays
    on: it changes memory, not time, and the raw requests' copies would otherwise be kept for good)."""
    saved = {name: getattr(SWITCHES, name) for name in _SPEED_PATCHES}
    for name in _SPEED_PATCHES:
        setattr(SWITCHES, name, False)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(SWITCHES, name, value)


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
            EFFECTS.table_copies_skipped += 1
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
        if entry.range_value is not None:
            _touch(table, entry.hash_value, entry.range_value)


def _sparse_transactions(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        if not SWITCHES.sparse_snapshots:
            try:
                return original(self, transact_items)
            except BaseException:
                # moto's own rollback puts copies of whole tables in place: what was kept per table is stale.
                note_writes()
                _sorted_keys.clear()
                raise
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

# Deletes are counted per table: a partition's sorted keys are extended on appends, rebuilt after a delete in its
# table (a closed connection must not make the next sync re-sort a timeline of 100,000 rows).
_deletes: dict[int, int] = {}


@dataclass
class _SortedKeys:
    """The range keys of one partition in order, extended as keys are appended (dicts keep insertion order)."""

    keys: list[Any] = field(default_factory=list)
    seen: int = 0
    partition_id: int = 0
    deletes: int = 0


@dataclass
class _IndexOrder:
    """One GSI partition in index order, kept up to date item by item as writes go through the backend."""

    order_attrs: list[str]  # the index's range key, then the table's keys: how moto sorts an index
    range_attrs: list[str]  # the index's range key (an item without it is not in the index)
    entries: list[tuple[tuple[Any, ...], Any]] = field(default_factory=list)  # sorted (sort key, table range key)
    sort_keys: dict[Any, tuple[Any, ...]] = field(default_factory=dict)  # table range key -> its sort key

    def sort_key(self, item: Any) -> tuple[Any, ...] | None:
        if not all(item.attrs.get(a) for a in self.range_attrs):
            return None
        return tuple(item.attrs[a].cast_value for a in self.order_attrs)

    def update(self, range_value: Any, item: Any) -> None:
        """``item`` (None: deleted) is the partition's item at ``range_value`` now."""
        old = self.sort_keys.pop(range_value, None)
        if old is not None:
            position = bisect.bisect_left(self.entries, (old,), key=lambda entry: (entry[0],))
            del self.entries[position]
        new = self.sort_key(item) if item is not None else None
        if new is not None:
            bisect.insort(self.entries, (new, range_value), key=lambda entry: (entry[0],))
            self.sort_keys[range_value] = new


_sorted_keys: dict[tuple[int, Any], _SortedKeys] = {}
_index_orders: dict[tuple[int, str, Any], _IndexOrder] = {}
_orders_by_table: dict[int, set[tuple[int, str, Any]]] = {}


def note_writes() -> None:
    """Items were written behind the backend's back (``dev.moto_bulk``, a rollback): forget every index order
    (rebuilt on the next query of each)."""
    _index_orders.clear()
    _orders_by_table.clear()


def _touch(table: Any, hash_value: Any, range_value: Any) -> None:
    """The item at (hash, range) of ``table`` was written: move it in every index order kept for its partition."""
    keys = _orders_by_table.get(id(table))
    if not keys:
        return
    item = table.items.get(hash_value, {}).get(range_value) if range_value is not None else None
    for cache_key in keys:
        if cache_key[2] == hash_value:
            _index_orders[cache_key].update(range_value, item)


def _tracking_writes(original: Callable[..., Any], key_argument: str) -> Callable[..., Any]:
    """A backend write (``put_item``: the item names its key; ``update_item``, ``delete_item``: the key) that
    then updates the index orders of the item it wrote."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    position = 1  # (table_name, item_attrs | key, ...)

    @functools.wraps(original)
    def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        finally:
            table_name = args[0] if args else kwargs.get("table_name")
            source = args[position] if len(args) > position else kwargs.get(key_argument)
            table = self.tables.get(table_name) if isinstance(table_name, str) else None
            if table is not None and table.range_key_attr is not None and isinstance(source, dict):
                with contextlib.suppress(KeyError):  # moto refused a request without the key: nothing was written
                    _touch(table, DynamoType(source[table.hash_key_attr]), DynamoType(source[table.range_key_attr]))

    return write


def _partition_keys(table: Any, hash_value: Any, partition: dict[Any, Any]) -> list[Any]:
    cache_key = (id(table), hash_value)
    entry = _sorted_keys.get(cache_key)
    deletes = _deletes.get(id(table), 0)
    if entry is None or entry.partition_id != id(partition) or entry.deletes != deletes or len(partition) < entry.seen:
        entry = _SortedKeys(sorted(partition), len(partition), id(partition), deletes)
        _sorted_keys[cache_key] = entry
    elif len(partition) > entry.seen:
        # The keys added since: the newest of the dict, read from its end (copying 100,000 keys to reach the last
        # one would make every query after a write cost the partition's size again).
        for key in itertools.islice(reversed(partition), len(partition) - entry.seen):
            bisect.insort(entry.keys, key)
        entry.seen = len(partition)
    return entry.keys


def _prefix_bounds(prefix: Any) -> tuple[Any, Any] | None:
    """The sort keys that begin with a string ``prefix`` are those from it to its successor (the prefix with its
    last character the next code point): code point order is DynamoDB's UTF-8 byte order. None: not handled."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    value = prefix.value if prefix.type == "S" else None
    if not isinstance(value, str) or not value or ord(value[-1]) >= 0x10FFFF:
        return None
    return prefix, DynamoType({"S": value[:-1] + chr(ord(value[-1]) + 1)})


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
    elif range_comparison is not None and range_comparison.upper() == "BEGINS_WITH":
        bounds = _prefix_bounds(range_objs[0])
        if bounds is None:
            return None
        low, high = bisect.bisect_left(keys, bounds[0]), bisect.bisect_left(keys, bounds[1])
    elif range_comparison is not None:
        return None  # anything else: let moto do it
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


def _counting_deletes(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def delete_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        _deletes[id(self)] = _deletes.get(id(self), 0) + 1
        return original(self, *args, **kwargs)

    return delete_item


def _index_window(
    table: Any, index_name: str, hash_value: Any, partition: dict[Any, Any], limit: int | None, forward: bool
) -> list[Any]:
    """The first ``limit`` + 2 items of a GSI partition in index order (the index's own range key, then the
    table's keys, as moto sorts them), from an order kept up to date by every write: what an index gives DynamoDB."""
    cache_key = (id(table), index_name, hash_value)
    cached = _index_orders.get(cache_key)
    if cached is None:
        index = table.get_index(index_name)
        range_attrs = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
        order = [a for a in [*range_attrs, table.hash_key_attr, table.range_key_attr] if a]
        cached = _IndexOrder(order, range_attrs)
        for range_value, item in partition.items():
            key = cached.sort_key(item)
            if key is not None:
                cached.entries.append((key, range_value))
                cached.sort_keys[range_value] = key
        cached.entries.sort(key=lambda entry: entry[0])
        _index_orders[cache_key] = cached
        _orders_by_table.setdefault(id(table), set()).add(cache_key)
    entries = cached.entries
    if limit is not None:
        entries = entries[: limit + 2] if forward else entries[-(limit + 2) :]
    return [partition[range_value] for _, range_value in entries]


# The positional parameters moto's Table.query has (the patch passes them on by position).
_QUERY_PARAMETERS = (
    "self",
    "hash_key",
    "range_comparison",
    "range_objs",
    "limit",
    "exclusive_start_key",
    "scan_index_forward",
    "projection_expressions",
    "index_name",
    "consistent_read",
    "filter_expression",
)


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
        # The candidates are picked under the lock moto's writes take: a sorted order is never built from a
        # partition a write is changing (the write then updates an order that does not hold it yet).
        with moto_isolation.serialized():
            candidates = _candidates(
                self,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                exclusive_start_key,
                scan_index_forward,
                index_name,
                hash_key_conditions,
                range_key_conditions,
            )
        if candidates is None:
            return run()
        _state.candidates = candidates
        try:
            return run()
        finally:
            _state.candidates = None

    return query


def _candidates(
    self: Any,
    hash_key: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    scan_index_forward: bool,
    index_name: str | None,
    hash_key_conditions: list[tuple[str, Any]] | None,
    range_key_conditions: list[tuple[str, str, list[Any]]] | None,
) -> list[Any] | None:
    """The items a real Query of this shape would read, or None when the patch does not handle the shape."""
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
    return candidates


def _narrowed_all_items(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def all_items(self: Any) -> list[Any]:
        candidates = getattr(_state, "candidates", None)
        if candidates is not None:
            _state.candidates = None  # once: the query asks for its candidates exactly once
            EFFECTS.queries_narrowed += 1
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


class EncodingMismatch(AssertionError):
    """A directly encoded response differs from moto's own encoding (always the ``direct_encoding`` patch's)."""


@functools.cache
def _output_members(operation: str) -> frozenset[str]:
    """The top-level members of ``operation``'s response: moto's serializer writes nothing else."""
    from moto.core.utils import get_service_model

    shape = get_service_model("dynamodb").operation_model(operation).output_shape
    return frozenset(shape.members) if shape is not None else frozenset()


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
        members = _output_members(operation)
        try:
            body = json.dumps(_without_nulls({key: value for key, value in result.items() if key in members}))
        except (TypeError, ValueError):  # bytes, datetimes …: not plain data, leave it to moto
            return original(self, action_result)
        # moto's own status and headers (content type, request id): those of an empty result, the cheap part.
        status, headers, _ = original(self, _empty_result())
        EFFECTS.responses_encoded += 1
        if getattr(_state, "verify", False):
            expected = original(self, action_result)
            if (expected[0], json.loads(expected[2])) != (status, json.loads(body)):
                raise EncodingMismatch(f"direct encoding of {operation} differs from moto's: {body[:300]}")
            VERIFIED[operation] += 1
        return status, headers, body

    return serialized


@functools.cache
def _empty_result() -> Any:
    from moto.core.responses import ActionResult

    return ActionResult({})


# --- instance tracking ----------------------------------------------------------------------------------------


def _dynamodb_models() -> list[type]:
    """moto's DynamoDB classes whose instances ``BaseModel.__new__`` tracks (items, tables, indexes, backups)."""
    import moto.dynamodb.models as models
    import moto.dynamodb.models.dynamo_type as dynamo_type
    import moto.dynamodb.models.table as table
    from moto.core.common_models import BaseModel

    found: dict[str, type] = {}
    for module in (models, dynamo_type, table):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__.startswith("moto.dyn"):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def _untracked(cls: type, tracked_new: Callable[..., Any]) -> Callable[..., Any]:
    def __new__(klass: type, *args: Any, **kwargs: Any) -> Any:
        if SWITCHES.untracked_items:
            return object.__new__(klass)
        return tracked_new(klass, *args, **kwargs)

    setattr(__new__, _MARKER, True)
    return __new__


# --- SQS sends ------------------------------------------------------------------------------------------------

_QUEUE_COUNTS = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)


def _sending(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not SWITCHES.sqs_sends:
            return original(self, *args, **kwargs)
        saved = getattr(_state, "sending", False)
        _state.sending = True
        try:
            return original(self, *args, **kwargs)
        finally:
            _state.sending = saved

    return send_message


def _uncounted_while_sending(count: property) -> property:
    def value(queue: Any) -> int:
        if getattr(_state, "sending", False):
            EFFECTS.counts_skipped += 1
            return 0  # read only inside ``attributes``, of which the send wants ContentBasedDeduplication
        return int(count.fget(queue))  # type: ignore[misc]

    setattr(value, _MARKER, True)
    return property(value)


# --- installing -----------------------------------------------------------------------------------------------


def _require(patch: str, condition: bool, problem: str) -> None:
    if not condition:
        raise PatchBroken(patch, problem)


def install() -> None:
    """Install the patches (idempotent); ``PatchBroken`` names one whose hook no longer exists in moto.

    Call before ``dev.moto_isolation.isolate_transactions`` so the isolation lock wraps the sparse transaction.
    """
    import moto.dynamodb.models as models
    from moto.core.common_models import BaseModel
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    if getattr(Table.query, _MARKER, False):
        return
    _require(
        "sparse_snapshots",
        getattr(models, "copy", None) is copy and hasattr(DynamoDBBackend, "transact_write_items"),
        "moto.dynamodb.models no longer deep-copies tables through its `copy` module in transact_write_items",
    )
    parameters = tuple(inspect.signature(Table.query).parameters)
    _require(
        "partition_queries",
        parameters[: len(_QUERY_PARAMETERS)] == _QUERY_PARAMETERS and hasattr(Table, "all_items"),
        f"Table.query's parameters changed: {parameters}",
    )
    _require(
        "direct_encoding",
        hasattr(DynamoHandler, "serialized") and hasattr(DynamoHandler, "_get_action"),
        "DynamoHandler.serialized or _get_action is gone",
    )
    _require(
        "untracked_items",
        hasattr(Item, "instances_tracked") and "instances_tracked" in inspect.getsource(BaseModel.__new__),
        "moto's BaseModel no longer tracks instances in instances_tracked (the patch may be unneeded: check memory)",
    )
    from moto.sqs.models import Queue, SQSBackend

    _require(
        "sqs_sends",
        hasattr(SQSBackend, "send_message")
        and all(isinstance(Queue.__dict__.get(name), property) for name in _QUEUE_COUNTS)
        and "attributes" in inspect.getsource(SQSBackend.send_message),
        "SQSBackend.send_message or Queue's message counts changed (the patch may be unneeded: check its cost)",
    )
    for name in _QUEUE_COUNTS:
        setattr(Queue, name, _uncounted_while_sending(Queue.__dict__[name]))
    models.copy = _TableCopyShim()  # type: ignore[assignment]
    for owner, name, wrap in (
        (DynamoDBBackend, "transact_write_items", _sparse_transactions),
        (Table, "query", _partition_queries),
        (Table, "all_items", _narrowed_all_items),
        (Table, "delete_item", _counting_deletes),
        (DynamoHandler, "serialized", _direct_encoding),
        (DynamoDBBackend, "put_item", lambda original: _tracking_writes(original, "item_attrs")),
        (DynamoDBBackend, "update_item", lambda original: _tracking_writes(original, "key")),
        (DynamoDBBackend, "delete_item", lambda original: _tracking_writes(original, "key")),
        (SQSBackend, "send_message", _sending),
    ):
        wrapped = wrap(getattr(owner, name))
        setattr(wrapped, _MARKER, True)
        setattr(owner, name, wrapped)
    tracked_new = BaseModel.__new__
    for cls in _dynamodb_models():
        cls.__new__ = staticmethod(_untracked(cls, tracked_new))  # type: ignore[assignment]
        cls.instances_tracked = []  # type: ignore[attr-defined]  # what was tracked before the patch


def apply() -> list[str]:
    """Install the patches and prove them (``self_check``); returns what was checked."""
    install()
    return self_check()


# --- the self-check -------------------------------------------------------------------------------------------

_KEYS = {
    "msgs": [("c", "HASH", "S"), ("s", "RANGE", "N")],
    "kv": [("k", "HASH", "S")],
    "words": [("w", "HASH", "S"), ("t", "RANGE", "S")],  # string sort keys: begins_with, as the search index
}
# Sort keys of the words table: prefixes of one another, accents, astral code points, a prefix at its successor's
# edge (``ab`` then ``ac``), and the highest code point below U+10FFFF (whose successor is U+10FFFF).
_WORDS = [
    *(f"ab#{n:02d}" for n in range(12)),
    *("a", "ab", "abc", "abd", "ac", "b", "ba", "cafe", "café", "café#2", "cafè", "caf", "\U0001f600x"),
    *("\U0001f600", "\U0010fffe", "\U0010fffe\U0010fffe", "z"),
]
_ROWS = 30  # per partition of the messages table: enough for several pages of every query below


@contextmanager
def _checking(patch: str) -> Iterator[None]:
    """Any failure inside the block is that patch's."""
    try:
        yield
    except PatchBroken:
        raise
    except EncodingMismatch as exc:  # found while another patch's requests ran: still the encoder's fault
        raise PatchBroken("direct_encoding", str(exc)) from exc
    except Exception as exc:  # AssertionError, or moto's internals having moved (AttributeError, TypeError …)
        raise PatchBroken(patch, f"{type(exc).__name__}: {exc}") from exc


def self_check() -> list[str]:
    """Prove on throwaway tables that the patches change no result and still take effect.

    Returns what was checked; raises ``PatchBroken`` naming the first patch that does not hold. Runs under its own
    ``mock_aws`` (which forgets everything when it ends): call it before the stack's moto server holds any data.
    """
    import boto3
    from moto import mock_aws
    from moto.dynamodb.models.dynamo_type import Item

    checked: list[str] = []
    tracked_before = len(Item.instances_tracked)
    effects_before = copy.copy(EFFECTS)
    with mock_aws():
        # An explicit endpoint: the dev stack points AWS_ENDPOINT_URL_DYNAMODB at its own server.
        client = boto3.client(
            "dynamodb", region_name="us-east-1", endpoint_url="https://dynamodb.us-east-1.amazonaws.com"
        )
        _create_check_tables(client)
        with _checking("sparse_snapshots"), verifying_encoding():
            checked += _check_transactions(client, effects_before)
        with _checking("partition_queries"):
            checked += _check_queries(client, effects_before)
        with _checking("bulk_writes"), verifying_encoding():
            checked += _check_bulk_writes(client)
        with _checking("direct_encoding"):
            expected = {"GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"}
            missing = expected - set(VERIFIED)
            assert not missing, f"no response of {sorted(missing)} was encoded directly"
            assert EFFECTS.responses_encoded > effects_before.responses_encoded, "no response was encoded directly"
            checked.append(
                "responses of every data operation above encoded directly and by moto's serializer, compared identical"
            )
        with _checking("sqs_sends"):
            checked += _check_sqs_sends(effects_before)
        with _checking("untracked_items"):
            grown = len(Item.instances_tracked) - tracked_before
            assert grown == 0, f"{grown} items were tracked by moto's BaseModel during the check"
            checked.append("no DynamoDB item or table was kept by moto's instance tracking")
    return checked


def _create_check_tables(client: Any) -> None:
    for name, keys in _KEYS.items():
        extra: dict[str, Any] = {}
        attributes = [{"AttributeName": a, "AttributeType": y} for a, _, y in keys]
        if name == "msgs":
            attributes += [{"AttributeName": "u", "AttributeType": "S"}, {"AttributeName": "at", "AttributeType": "S"}]
            extra["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": "by_at",
                    "KeySchema": [
                        {"AttributeName": "u", "KeyType": "HASH"},
                        {"AttributeName": "at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ]
        client.create_table(
            TableName=f"selfcheck-{name}",
            KeySchema=[{"AttributeName": a, "KeyType": t} for a, t, _ in keys],
            AttributeDefinitions=attributes,
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
    rows = [
        {"c": {"S": partition}, "s": {"N": str(seq)}, "u": {"S": partition}, "at": {"S": f"{(seq * 7919) % 1000:04d}"}}
        for partition in ("a", "b")
        for seq in range(1, _ROWS + 1)
    ]
    for start in range(0, len(rows), 25):
        batch = [{"PutRequest": {"Item": row}} for row in rows[start : start + 25]]
        client.batch_write_item(RequestItems={"selfcheck-msgs": batch})
    client.put_item(TableName="selfcheck-kv", Item={"k": {"S": "x"}, "v": {"N": "1"}})
    for partition in ("p", "q"):
        for word in _WORDS if partition == "p" else _WORDS[::3]:
            client.put_item(TableName="selfcheck-words", Item={"w": {"S": partition}, "t": {"S": word}})


def _dump(client: Any) -> dict[str, list[dict[str, Any]]]:
    return {f"selfcheck-{t}": sorted(client.scan(TableName=f"selfcheck-{t}")["Items"], key=repr) for t in _KEYS}


def _check_transactions(client: Any, before_effects: Effects) -> list[str]:
    before = _dump(client)
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
    assert _dump(client) == before, "a cancelled transaction left changes behind"
    client.transact_write_items(TransactItems=failing[:3])
    after = _dump(client)
    assert after != before, "a successful transaction wrote nothing"
    assert {"c": {"S": "a"}, "s": {"N": "999"}, "u": {"S": "a"}, "at": {"S": "x"}} in after["selfcheck-msgs"]
    assert EFFECTS.table_copies_skipped > before_effects.table_copies_skipped, (
        "moto's transactions no longer deep-copy tables through the shim: the patch does nothing"
    )
    return [
        "a cancelled transaction (put, update, delete, failed condition) restores every item",
        "a successful transaction still writes, without copying whole tables",
    ]


def _check_queries(client: Any, before_effects: Effects) -> list[str]:
    queries: list[dict[str, Any]] = []
    for forward in (True, False):
        for limit in (4, 13):
            base = {"TableName": "selfcheck-msgs", "ScanIndexForward": forward, "Limit": limit}
            queries += [
                {**base, "KeyConditionExpression": "c = :c", "ExpressionAttributeValues": {":c": {"S": "b"}}},
                {
                    **base,
                    "KeyConditionExpression": "c = :c AND s < :s",
                    "ExpressionAttributeValues": {":c": {"S": "b"}, ":s": {"N": "17"}},
                },
                {
                    **base,
                    "KeyConditionExpression": "c = :c AND s > :s",
                    "ExpressionAttributeValues": {":c": {"S": "b"}, ":s": {"N": "22"}},
                },
                {
                    **base,
                    "KeyConditionExpression": "c = :c AND s BETWEEN :l AND :h",
                    "ExpressionAttributeValues": {":c": {"S": "a"}, ":l": {"N": "3"}, ":h": {"N": "25"}},
                },
                {
                    **base,
                    "IndexName": "by_at",
                    "KeyConditionExpression": "u = :u",
                    "ExpressionAttributeValues": {":u": {"S": "a"}},
                },
                *(
                    {
                        **base,
                        "TableName": "selfcheck-words",
                        "KeyConditionExpression": "w = :w AND begins_with(t, :p)",
                        "ExpressionAttributeValues": {":w": {"S": "p"}, ":p": {"S": prefix}},
                    }
                    for prefix in ("ab", "a", "caf", "café", "\U0001f600", "\U0010fffe", "zz")
                ),
                {
                    **base,
                    "IndexName": "by_at",
                    "KeyConditionExpression": "u = :u AND #a > :a",
                    "ExpressionAttributeNames": {"#a": "at"},
                    "ExpressionAttributeValues": {":u": {"S": "b"}, ":a": {"S": "0500"}},
                },
            ]
    for round_number in range(2):
        # Encodings are compared in the first round only (moto's serializer is the slow part of this check).
        with verifying_encoding() if round_number == 0 else contextlib.nullcontext():
            for query in queries:
                patched = _pages(client, query)
                with raw_moto():
                    raw = _pages(client, query)
                assert patched == raw, f"query differs with the partition patch: {query}"
            # A write moves an item in the index, a delete and a put keep the partition's size: caches must follow.
            client.update_item(
                TableName="selfcheck-msgs",
                Key={"c": {"S": "a"}, "s": {"N": str(7 + round_number)}},
                UpdateExpression="SET #a = :a",
                ExpressionAttributeNames={"#a": "at"},
                ExpressionAttributeValues={":a": {"S": "9999"}},
            )
            client.delete_item(TableName="selfcheck-msgs", Key={"c": {"S": "b"}, "s": {"N": str(20 + round_number)}})
            client.put_item(
                TableName="selfcheck-msgs",
                Item={"c": {"S": "b"}, "s": {"N": str(500 + round_number)}, "u": {"S": "b"}, "at": {"S": "0001"}},
            )
            words = {"w": {"S": "p"}}
            client.delete_item(TableName="selfcheck-words", Key={**words, "t": {"S": f"ab#{3 + round_number:02d}"}})
            client.put_item(TableName="selfcheck-words", Item={**words, "t": {"S": f"ab#{50 + round_number}"}})
            client.put_item(TableName="selfcheck-words", Item={**words, "t": {"S": "caf\u00e9s"}})
    assert EFFECTS.queries_narrowed > before_effects.queries_narrowed, "no query was narrowed: the patch does nothing"
    return [
        f"{len(queries)} queries (base table with comparisons and begins_with, GSI, both directions, paginated), "
        "before and after writes that move, delete and add items, return identical pages"
    ]


def _check_bulk_writes(client: Any) -> list[str]:
    from dev import moto_bulk

    rows = [
        {"c": {"S": "bulk"}, "s": {"N": str(seq)}, "u": {"S": "bulk"}, "at": {"S": f"{seq:04d}"}} for seq in (3, 1, 2)
    ]
    moto_bulk.put_items("selfcheck-msgs", rows, region="us-east-1")
    query = {
        "TableName": "selfcheck-msgs",
        "KeyConditionExpression": "c = :c",
        "ExpressionAttributeValues": {":c": {"S": "bulk"}},
    }
    got = client.query(**query)["Items"]
    assert got == sorted(rows, key=lambda row: int(row["s"]["N"])), f"bulk-written items read back as {got}"
    by_index = client.query(
        TableName="selfcheck-msgs",
        IndexName="by_at",
        KeyConditionExpression="u = :u",
        ExpressionAttributeValues={":u": {"S": "bulk"}},
        ScanIndexForward=False,
        Limit=2,
    )["Items"]
    assert [item["at"]["S"] for item in by_index] == ["0003", "0002"], f"the index missed bulk writes: {by_index}"
    key = {"c": {"S": "bulk"}, "s": {"N": "2"}}
    assert client.get_item(TableName="selfcheck-msgs", Key=key, ConsistentRead=True)["Item"] == rows[2]
    assert "Item" not in client.get_item(TableName="selfcheck-msgs", Key={"c": {"S": "none"}, "s": {"N": "1"}})
    batch = client.batch_get_item(RequestItems={"selfcheck-msgs": {"Keys": [key], "ConsistentRead": True}})
    assert batch["Responses"]["selfcheck-msgs"] == [rows[2]], f"BatchGetItem read back {batch}"
    exported = sorted(moto_bulk.items_of("selfcheck-msgs", region="us-east-1"), key=repr)
    assert exported == sorted(client.scan(TableName="selfcheck-msgs")["Items"], key=repr), "exported items differ"
    return [
        "items written in bulk read back by GetItem, BatchGetItem and Query (table and index), and export as Scan "
        "returns them"
    ]


def _check_sqs_sends(before_effects: Effects) -> list[str]:
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url="https://sqs.us-east-1.amazonaws.com")
    plain = sqs.create_queue(QueueName="selfcheck-plain")["QueueUrl"]
    fifo = sqs.create_queue(
        QueueName="selfcheck.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    sqs.send_message(QueueUrl=plain, MessageBody="now")
    sqs.send_message(QueueUrl=plain, MessageBody="later", DelaySeconds=600)
    sqs.send_message_batch(QueueUrl=plain, Entries=[{"Id": str(n), "MessageBody": f"b{n}"} for n in range(3)])
    received = sqs.receive_message(QueueUrl=plain, MaxNumberOfMessages=1, VisibilityTimeout=600)["Messages"]
    assert len(received) == 1, f"received {received}"
    for _ in range(2):  # the same body twice: content-based deduplication keeps one
        sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")
    counts = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesDelayed",
        "ApproximateNumberOfMessagesNotVisible",
    ]
    got = sqs.get_queue_attributes(QueueUrl=plain, AttributeNames=counts)["Attributes"]
    assert got == dict(zip(counts, ["3", "1", "1"], strict=True)), f"the plain queue's counts are {got}"
    deduplicated = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=counts[:1])["Attributes"]
    assert deduplicated == {counts[0]: "1"}, f"content-based deduplication kept {deduplicated} messages"
    assert EFFECTS.counts_skipped > before_effects.counts_skipped, "no send skipped the counts: the patch does nothing"
    return [
        "SQS sends (single, batched, delayed, FIFO with content-based deduplication) queue what they did, and "
        "GetQueueAttributes still counts visible, delayed and in-flight messages"
    ]


def _pages(client: Any, query: dict[str, Any]) -> list[Any]:
    pages, start = [], None
    for _ in range(50):
        response = client.query(**query, **({"ExclusiveStartKey": start} if start else {}))
        pages.append((response["Items"], response.get("LastEvaluatedKey")))
        start = response.get("LastEvaluatedKey")
        if not start:
            break
    return pages
