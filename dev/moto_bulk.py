"""Items written into, and read out of, moto's DynamoDB tables directly: seeding and the data folder.

The dev stack runs moto in its own process, so 300,000 items need not travel as 12,000 BatchWriteItem requests
through botocore and moto's HTTP layer (a minute and a half): they are put into moto's tables the way its own
``put_item`` stores them (``Item`` objects keyed by hash and range key). Items arrive in DynamoDB's JSON
(``{"name": {"S": "value"}}``), exactly what PynamoDB's ``Model.serialize()`` sends in a PutItem, so the shapes
are the services' own. Writes hold the lock moto's writes take (``dev.moto_isolation``) and invalidate the
query patch's cached index orders (``dev.moto_patches``); ``moto_patches.self_check`` proves the items read
back through the API as they went in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pynamodb.models import Model


def _table(table_name: str, region: str) -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    # The dev stack's credentials ("testing") and the tests' map to moto's default account.
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][region].get_table(table_name)


def _item(hash_value: Any, range_value: Any, attrs: dict[str, Any]) -> Any:
    """moto's ``Item(hash, range, attrs)``, without the size check its attribute dict runs on every insert (it
    re-measures the whole item each time: quadratic, two thirds of a bulk write). These items are the services' own
    shapes, far below DynamoDB's 400 KB, or were stored by moto before."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    item = Item.__new__(Item)
    item.hash_key, item.range_key = hash_value, range_value
    values = LimitedSizeDict()
    for name, value in attrs.items():
        dict.__setitem__(values, name, DynamoType(value))
    item.attrs = values
    return item


def put_items(table_name: str, items: Iterable[dict[str, Any]], *, region: str) -> int:
    """Store DynamoDB-JSON items in ``table_name`` (replacing items with the same key); returns how many."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    from dev import moto_patches
    from dev.moto_isolation import serialized

    table = _table(table_name, region)
    hash_attr, range_attr = table.hash_key_attr, table.range_key_attr
    hash_type, range_type = table.hash_key_type, table.range_key_type
    count = 0
    with serialized():
        for attrs in items:
            hash_value = DynamoType(attrs[hash_attr])
            if hash_value.type != hash_type:
                raise ValueError(f"{table_name}: {hash_attr} is {hash_value.type}, the table's key is {hash_type}")
            if range_attr is None:
                table.items[hash_value] = _item(hash_value, None, attrs)
            else:
                range_value = DynamoType(attrs[range_attr])
                if range_value.type != range_type:
                    raise ValueError(f"{table_name}: {range_attr} is {range_value.type}, the key is {range_type}")
                table.items[hash_value][range_value] = _item(hash_value, range_value, attrs)
            count += 1
        moto_patches.note_writes()
    return count


def put_models(models: Iterable[Model]) -> int:
    """Store PynamoDB model instances in their tables, serialized as PynamoDB serializes a PutItem."""
    by_table: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for model in models:
        meta = type(model).Meta
        by_table.setdefault((meta.table_name, meta.region), []).append(model.serialize())
    return sum(put_items(name, items, region=region) for (name, region), items in by_table.items())


def items_of(table_name: str, *, region: str) -> Iterator[dict[str, Any]]:
    """Every item of ``table_name`` in DynamoDB JSON, as a Scan would return it (a snapshot, taken under the lock)."""
    from dev.moto_isolation import serialized

    table = _table(table_name, region)
    with serialized():
        if table.range_key_attr is None:
            items = list(table.items.values())
        else:
            items = [item for partition in table.items.values() for item in partition.values()]
        snapshot = [item.to_json()["Attributes"] for item in items]
    yield from snapshot


def table_names(region: str) -> list[str]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return sorted(dynamodb_backends[DEFAULT_ACCOUNT_ID][region].tables)


def key_schema(table_name: str, *, region: str) -> tuple[str, str | None, list[list[str]]]:
    """A table's hash and range key attributes and each global secondary index's key attributes."""
    table = _table(table_name, region)
    indexes = [[key["AttributeName"] for key in index.schema] for index in table.global_indexes]
    return table.hash_key_attr, table.range_key_attr, indexes


def item_of(table_name: str, key: dict[str, Any], *, region: str) -> dict[str, Any] | None:
    """One item as moto holds it (DynamoDB JSON), or None."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = _table(table_name, region)
    hash_value = DynamoType(key[table.hash_key_attr])
    if table.range_key_attr is None:
        item = table.items.get(hash_value)
    else:
        item = table.items.get(hash_value, {}).get(DynamoType(key[table.range_key_attr]))
    return item.to_json()["Attributes"] if item is not None else None
