"""Reading items of several tables in one round trip (BatchGetItem, strongly consistent)."""

from __future__ import annotations

from typing import Any, TypeVar

from pynamodb.exceptions import PynamoDBException
from pynamodb.models import Model

M = TypeVar("M", bound=Model)
Key = tuple[type[Model], Any, Any]  # (model class, hash key, range key or None)

_MAX_UNPROCESSED_RETRIES = 3


class BatchIncomplete(PynamoDBException):
    """DynamoDB kept leaving keys unprocessed (throttling): a storage failure, retryable by the client."""

    msg = "BatchGetItem left keys unprocessed after retries"


def _key_dict(model: type[Model], hash_key: Any, range_key: Any) -> dict[str, Any]:
    hash_attr = model._hash_key_attribute()  # type: ignore[no-untyped-call]  # PynamoDB's own key lookup
    key = {hash_attr.attr_name: {hash_attr.attr_type: hash_attr.serialize(hash_key)}}
    if range_key is not None:
        range_attr = model._range_key_attribute()  # type: ignore[no-untyped-call]
        key[range_attr.attr_name] = {range_attr.attr_type: range_attr.serialize(range_key)}
    return key


def _identity(model: type[Model], item: dict[str, Any]) -> tuple[Any, ...]:
    hash_attr = model._hash_key_attribute()  # type: ignore[no-untyped-call]
    range_attr = model._range_key_attribute()  # type: ignore[no-untyped-call]
    hash_value = hash_attr.deserialize(item[hash_attr.attr_name][hash_attr.attr_type])
    if range_attr is None:
        return (model, hash_value, None)
    return (model, hash_value, range_attr.deserialize(item[range_attr.attr_name][range_attr.attr_type]))


_MAX_KEYS = 100  # DynamoDB's limit for one BatchGetItem


def batches(keys: int) -> int:
    """How many BatchGetItem requests ``batch_get`` makes for ``keys`` distinct keys."""
    return -(-keys // _MAX_KEYS)


class Batch(dict[Key, Model | None]):
    """What a BatchGetItem found, by key (None: absent), with a typed accessor."""

    def item(self, model: type[M], hash_key: Any, range_key: Any = None) -> M | None:
        found = self[(model, hash_key, range_key)]
        if found is not None and not isinstance(found, model):
            raise TypeError(f"{type(found).__name__} under a {model.__name__} key")
        return found


def batch_get(keys: list[Key]) -> Batch:
    """Fetch every key (across tables); absent items map to None.

    One BatchGetItem per 100 distinct keys: pages are sized so that a request stays within one.
    """
    unique = list(dict.fromkeys(keys))
    found = Batch()
    for start in range(0, len(unique), _MAX_KEYS):
        found.update(_batch_get_once(unique[start : start + _MAX_KEYS]))
    return found


def _batch_get_once(unique: list[Key]) -> dict[Key, Model | None]:
    found: dict[Key, Model | None] = {key: None for key in unique}
    if not unique:
        return found
    by_table: dict[str, dict[str, Any]] = {}
    models: dict[str, type[Model]] = {}
    for model, hash_key, range_key in unique:
        table = model.Meta.table_name
        models[table] = model
        entry = by_table.setdefault(table, {"Keys": [], "ConsistentRead": True})
        entry["Keys"].append(_key_dict(model, hash_key, range_key))
    connection = unique[0][0]._get_connection().connection
    request: dict[str, Any] = by_table
    for _ in range(1 + _MAX_UNPROCESSED_RETRIES):
        response = connection._make_api_call("BatchGetItem", {"RequestItems": request})
        for table, items in response.get("Responses", {}).items():
            model = models[table]
            for item in items:
                found[_identity(model, item)] = model.from_raw_data(item)
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return found
    raise BatchIncomplete()
