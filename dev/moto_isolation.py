"""Give moto's DynamoDB the transaction isolation real DynamoDB has."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Real DynamoDB runs each TransactWriteItems in isolation; moto evaluates the conditions and applies the
# writes without a lock, so two concurrent transactions could both pass the same condition (e.g. two
# sends claiming one message number). Serializing them restores the guarantee the services rely on.
_TRANSACTION_LOCK = threading.RLock()
_MARKER = "_serialized_by_dev_moto_isolation"


_WRITES = ("transact_write_items", "put_item", "update_item", "delete_item", "batch_write_item")
# moto applies a transaction's writes one by one (and restores a copy when it is cancelled), so a read running
# beside it could see half of a transaction, which DynamoDB never shows a GetItem. Reads take the lock too.
_READS = ("get_item", "batch_get_item", "query", "scan", "transact_get_items")
_SERIALIZED = _WRITES + _READS


def isolate_transactions() -> None:
    """Serialize moto's reads and writes behind one lock (idempotent: wraps each at most once).

    Transactions for their isolation; plain writes too, because a transaction copies whole tables while it
    runs and a concurrent plain write would change a table under that copy (moto then fails with 500); reads so
    that none sees a transaction half applied.
    """
    from moto.dynamodb.models import DynamoDBBackend

    for name in _SERIALIZED:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, _MARKER, False):
            continue
        setattr(DynamoDBBackend, name, _locked(original))


@contextmanager
def serialized() -> Iterator[None]:
    """Hold the lock moto's writes take (``dev.moto_bulk`` writes many items at once, between two requests)."""
    with _TRANSACTION_LOCK:
        yield


def _locked(original: Any) -> Any:
    @functools.wraps(original)
    def isolated(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _TRANSACTION_LOCK:
            return original(self, *args, **kwargs)

    setattr(isolated, _MARKER, True)
    return isolated
