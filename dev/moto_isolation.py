"""Give moto's DynamoDB the transaction isolation real DynamoDB has."""

from __future__ import annotations

import functools
import threading
from typing import Any

# Real DynamoDB runs each TransactWriteItems in isolation; moto evaluates the conditions and applies the
# writes without a lock, so two concurrent transactions could both pass the same condition (e.g. two
# sends claiming one message number). Serializing them restores the guarantee the services rely on.
_TRANSACTION_LOCK = threading.RLock()
_MARKER = "_serialized_by_dev_moto_isolation"


def isolate_transactions() -> None:
    """Serialize moto's ``transact_write_items`` behind one lock (idempotent: wraps at most once)."""
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    if getattr(original, _MARKER, False):
        return

    @functools.wraps(original)
    def isolated(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with _TRANSACTION_LOCK:
            return original(self, *args, **kwargs)

    setattr(isolated, _MARKER, True)
    DynamoDBBackend.transact_write_items = isolated  # type: ignore[method-assign]
