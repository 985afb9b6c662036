"""What a request costs, read off botocore: DynamoDB round trips, items read and written, frames posted.

Like ``tests/integration/conftest.py``'s ``DynamoCalls``, it wraps ``botocore.client.BaseClient._make_api_call``,
so every call the app makes is seen, whichever library made it; items come from the requests and responses
themselves (``Items`` of a Query, ``Responses`` of a BatchGetItem, ``Item`` of a GetItem, the actions of a
TransactWriteItems), never from what the code under test says about itself.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import botocore.client

_WRITE_ACTIONS = ("Put", "Update", "Delete")


@dataclass
class Cost:
    """The botocore calls of one measured request."""

    operations: Counter[str] = field(default_factory=Counter)
    items_read: int = 0
    items_written: int = 0
    posts: int = 0  # PostToConnection calls (WebSocket frames sent)
    moto_ms: float = 0.0  # time moto spent emulating AWS for the request's own thread (not Lambda time)

    @property
    def round_trips(self) -> int:
        return sum(self.operations.values())

    def signature(self) -> tuple[int, int, int, int]:
        """What must not change with the data's size."""
        return self.round_trips, self.items_read, self.items_written, self.posts

    def describe(self) -> str:
        return " + ".join(f"{count} {name}" if count > 1 else name for name, count in sorted(self.operations.items()))


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
            try:
                response = meter._original(client, operation, params)
            except Exception:
                meter._record(service, operation, params, None)
                raise
            meter._record(service, operation, params, response)
            return response

        self._counting = counting

        from moto.core.botocore_stubber import BotocoreStubber

        self._original_process = BotocoreStubber.process_request

        def timed_process(stubber: Any, request: Any) -> Any:
            if not meter._active or threading.get_ident() != meter._thread:
                return meter._original_process(stubber, request)
            started = time.perf_counter_ns()
            try:
                return meter._original_process(stubber, request)
            finally:
                elapsed = time.perf_counter_ns() - started
                with meter._lock:
                    meter._cost.moto_ms += elapsed / 1e6

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
                if response is not None:
                    self._cost.items_read += _items_read(operation, params, response)
                    self._cost.items_written += _items_written(operation, params)
            elif service == "apigatewaymanagementapi" and operation == "PostToConnection":
                self._cost.posts += 1

    def take(self) -> Cost:
        with self._lock:
            cost, self._cost = self._cost, Cost()
        return cost
