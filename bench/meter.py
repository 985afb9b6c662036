"""What a request costs, read off botocore: DynamoDB round trips, items read and written with their request units,
S3 requests, frames posted, plus what the harness reports (invocations, client frames, response and log bytes).

Like ``tests/integration/conftest.py``'s ``DynamoCalls``, it wraps ``botocore.client.BaseClient._make_api_call``,
so every call the app makes is seen, whichever library made it; items come from the requests and responses
themselves (``Items`` of a Query, ``Responses`` of a BatchGetItem, ``Item`` of a GetItem, the actions of a
TransactWriteItems), never from what the code under test says about itself. Write units need the items as they
were before and after each write (DynamoDB bills the larger, and every index the item is in): they are read
from moto's tables around the call (``bench/units.py`` prices them).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import botocore.client

from bench import units

_WRITE_ACTIONS = ("Put", "Update", "Delete")
_REGION = "us-east-1"  # bench/environment.py
_TABLE_PREFIX = "bench-"


@dataclass
class Cost:
    """The botocore calls of one measured request."""

    operations: Counter[str] = field(default_factory=Counter)
    items_read: int = 0
    items_written: int = 0
    posts: int = 0  # PostToConnection calls (WebSocket frames sent)
    moto_ms: float = 0.0  # time moto spent emulating AWS for the request's own thread (not Lambda time)
    moto_cpu_ms: float = 0.0  # the same in CPU time of that thread
    read_units: float = 0.0  # DynamoDB RRU
    write_units: float = 0.0  # DynamoDB WRU, tables and indexes
    s3: Counter[str] = field(default_factory=Counter)  # "put" / "get" class requests
    post_bytes: list[int] = field(default_factory=list)  # each frame posted to a connection
    invocations: Counter[str] = field(default_factory=Counter)  # function -> invocations (from the harness)
    client_frames: list[int] = field(default_factory=list)  # frames a client sent (bytes)
    response_bytes: int = 0  # REST response bodies
    log_bytes: int = 0  # what the app logged
    stored_bytes: Counter[str] = field(default_factory=Counter)  # table (or "s3") -> bytes of what was created
    stored_items: Counter[str] = field(default_factory=Counter)
    transactions: int = 0  # TransactWriteItems round trips
    s3_calls: int = 0

    @property
    def round_trips(self) -> int:
        return sum(self.operations.values())

    def signature(self) -> tuple[int, int, int, int]:
        """What must not change with the data's size."""
        return self.round_trips, self.items_read, self.items_written, self.posts

    def describe(self) -> str:
        return " + ".join(f"{count} {name}" if count > 1 else name for name, count in sorted(self.operations.items()))


def _write_targets(operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
    """(table, key, transactional) of every item a write names."""
    from dev import moto_bulk

    def key_of(table: str, source: dict[str, Any]) -> dict[str, Any]:
        hash_attr, range_attr, _ = moto_bulk.key_schema(table, region=_REGION)
        return {name: source[name] for name in (hash_attr, range_attr) if name}

    if operation == "PutItem":
        return [(params["TableName"], key_of(params["TableName"], params["Item"]), False)]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(params["TableName"], params["Key"], False)]
    if operation == "TransactWriteItems":
        found = []
        for entry in params.get("TransactItems", ()):
            for action, op in entry.items():
                if action == "Put":
                    found.append((op["TableName"], key_of(op["TableName"], op["Item"]), True))
                elif action in ("Update", "Delete"):
                    found.append((op["TableName"], op["Key"], True))
        return found
    if operation == "BatchWriteItem":
        found = []
        for table, requests in params.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    found.append((table, key_of(table, request["PutRequest"]["Item"]), False))
                else:
                    found.append((table, request["DeleteRequest"]["Key"], False))
        return found
    return []


def _snapshot(targets: list[tuple[str, dict[str, Any], bool]]) -> list[dict[str, Any] | None]:
    from dev import moto_bulk

    return [moto_bulk.item_of(table, key, region=_REGION) for table, key, _ in targets]


def _write_units(
    targets: list[tuple[str, dict[str, Any], bool]], before: list[Any], after: list[Any]
) -> tuple[float, list[tuple[str, int]]]:
    """Write request units of the writes, and (table, size) of every item they created."""
    from dev import moto_bulk

    total, created = 0.0, []
    for (table, _, transactional), old, new in zip(targets, before, after, strict=True):
        total += units.write_units(max(units.item_size(old), units.item_size(new)), transactional=transactional)
        for index_keys in moto_bulk.key_schema(table, region=_REGION)[2]:
            total += units.index_writes(old, new, index_keys)
        if old is None and new is not None:
            created.append((table.removeprefix(_TABLE_PREFIX), units.item_size(new)))
    return total, created


def _read_units(operation: str, params: dict[str, Any], response: dict[str, Any]) -> float:
    if operation == "GetItem":
        return units.read_units(units.item_size(response.get("Item")), consistent=bool(params.get("ConsistentRead")))
    if operation == "BatchGetItem":
        total = 0.0
        for table, items in response.get("Responses", {}).items():
            consistent = bool(params.get("RequestItems", {}).get(table, {}).get("ConsistentRead"))
            total += sum(units.read_units(units.item_size(item), consistent=consistent) for item in items)
        return total
    if operation in ("Query", "Scan"):
        size = sum(units.item_size(item) for item in response.get("Items", ()))
        consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
        return units.read_units(size, consistent=consistent)
    if operation == "TransactGetItems":
        return sum(
            units.read_units(units.item_size(entry.get("Item")), consistent=True, transactional=True)
            for entry in response.get("Responses", ())
        )
    return 0.0


def _items_read(operation: str, params: dict[str, Any], response: dict[str, Any]) -> int:
    if operation in ("Query", "Scan"):
        return len(response.get("Items", ()))
    if operation == "GetItem":
        return 1 if response.get("Item") else 0
    if operation == "BatchGetItem":
        return sum(len(items) for items in response.get("Responses", {}).values())
    if operation == "TransactGetItems":
        return sum(1 for entry in response.get("Responses", ()) if entry.get("Item"))
    if operation == "TransactWriteItems":
        return sum(1 for entry in params.get("TransactItems", ()) if "ConditionCheck" in entry)
    return 0


def _items_written(operation: str, params: dict[str, Any]) -> int:
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return 1
    if operation == "TransactWriteItems":
        return sum(1 for entry in params.get("TransactItems", ()) if any(a in entry for a in _WRITE_ACTIONS))
    if operation == "BatchWriteItem":
        return sum(len(requests) for requests in params.get("RequestItems", {}).values())
    return 0


class Meter:
    """Counts while ``active``; ``take()`` returns what was counted since the last take.

    Also times moto's side of every call made on the measuring thread (``BotocoreStubber.process_request``:
    parsing the HTTP request, running the emulated operation, serializing the response): on AWS that work is
    DynamoDB's, not the Lambda's, so the report can tell the app's own time from the emulator's.
    """

    def __init__(self) -> None:
        self.capacity = False  # price DynamoDB requests in request units (untimed passes only)
        self._active = False
        self._thread: int | None = None
        self._cost = Cost()
        self._lock = threading.Lock()
        self._original = botocore.client.BaseClient._make_api_call
        meter = self

        def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if not meter._active:
                return meter._original(client, operation, params)
            service = client.meta.service_model.service_name
            # Reading moto's items around a write takes time: only in the (untimed) pass that prices requests.
            targets = _write_targets(operation, params) if service == "dynamodb" and meter.capacity else []
            before = _snapshot(targets)
            try:
                response = meter._original(client, operation, params)
            except Exception:
                meter._record(service, operation, params, None)
                raise
            meter._record(service, operation, params, response)
            if targets:
                written, created = _write_units(targets, before, _snapshot(targets))
                with meter._lock:
                    meter._cost.write_units += written
                    for table, size in created:
                        meter._cost.stored_bytes[table] += size
                        meter._cost.stored_items[table] += 1
            return response

        self._counting = counting

        from moto.core.botocore_stubber import BotocoreStubber

        self._original_process = BotocoreStubber.process_request

        def timed_process(stubber: Any, request: Any) -> Any:
            if not meter._active or threading.get_ident() != meter._thread:
                return meter._original_process(stubber, request)
            started, cpu = time.perf_counter_ns(), time.thread_time_ns()
            try:
                return meter._original_process(stubber, request)
            finally:
                elapsed, cpu_elapsed = time.perf_counter_ns() - started, time.thread_time_ns() - cpu
                with meter._lock:
                    meter._cost.moto_ms += elapsed / 1e6
                    meter._cost.moto_cpu_ms += cpu_elapsed / 1e6

        self._timed_process = timed_process

    @property
    def active(self) -> bool:
        return self._active

    @active.setter
    def active(self, value: bool) -> None:
        self._thread = threading.get_ident() if value else None
        self._active = value

    def install(self) -> None:
        from moto.core.botocore_stubber import BotocoreStubber

        botocore.client.BaseClient._make_api_call = self._counting  # type: ignore[method-assign]
        BotocoreStubber.process_request = self._timed_process  # type: ignore[method-assign]

    def uninstall(self) -> None:
        from moto.core.botocore_stubber import BotocoreStubber

        botocore.client.BaseClient._make_api_call = self._original  # type: ignore[method-assign]
        BotocoreStubber.process_request = self._original_process  # type: ignore[method-assign]

    def _record(self, service: str, operation: str, params: dict[str, Any], response: dict[str, Any] | None) -> None:
        with self._lock:
            if service == "dynamodb":
                self._cost.operations[operation] += 1
                self._cost.transactions += operation == "TransactWriteItems"
                if response is not None:
                    self._cost.items_read += _items_read(operation, params, response)
                    self._cost.items_written += _items_written(operation, params)
                    if self.capacity:
                        self._cost.read_units += _read_units(operation, params, response)
            elif service == "apigatewaymanagementapi" and operation == "PostToConnection":
                self._cost.posts += 1
                data = params.get("Data", b"")
                self._cost.post_bytes.append(len(data if isinstance(data, bytes) else str(data).encode()))
            elif service == "s3":
                self._cost.s3_calls += 1
                request_class = units.s3_request_class(operation)
                if request_class is not None:
                    self._cost.s3[request_class] += 1
                if operation == "PutObject" and self.capacity:
                    body = params.get("Body", b"")
                    self._cost.stored_bytes["s3"] += len(body) if isinstance(body, bytes | str) else 0

    def note(
        self,
        function: str,
        *,
        response_bytes: int = 0,
        client_frame: bytes | str | None = None,
    ) -> None:
        """What the harness saw of a measured request: the function it invoked, what went over the wire."""
        if not self._active:
            return
        with self._lock:
            self._cost.invocations[function] += 1
            self._cost.response_bytes += response_bytes
            if client_frame is not None:
                frame = client_frame.encode() if isinstance(client_frame, str) else client_frame
                self._cost.client_frames.append(len(frame))

    def note_log(self, size: int) -> None:
        if self._active:
            with self._lock:
                self._cost.log_bytes += size

    def take(self) -> Cost:
        with self._lock:
            cost, self._cost = self._cost, Cost()
        return cost
