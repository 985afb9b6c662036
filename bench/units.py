"""What DynamoDB and S3 bill a request for: item sizes, read and write request units, S3 request classes.

DynamoDB (on-demand, "Read/write capacity mode" and "Item sizes and formats" in its developer guide):

- an item's size is the UTF-8 length of its attribute names plus its values: strings by their UTF-8 length,
  numbers at about one byte per two significant digits plus one, binary by length, booleans and nulls one
  byte, lists and maps three bytes plus one per element plus their contents, sets the sum of their members;
- a strongly consistent read costs one read request unit (RRU) per 4 KB of item, an eventually consistent
  read (every read of a global secondary index) half of that; a Query adds the items it returns and rounds
  the sum up, a GetItem or each item of a BatchGetItem is rounded up on its own;
- a write costs one write request unit (WRU) per 1 KB of the larger of the item before and after it (a delete:
  of the item deleted); in a transaction every read and write costs double;
- each write also writes every global secondary index the item is (or was) in: one index write when the
  index key stays, a delete and a put when it changes (standard writes, also inside a transaction).

S3 bills requests by class: PUT, COPY, POST and LIST at one price, GET and the rest (HEAD, tagging reads) at
another; presigning a URL is no request at all.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
S3_PUT_CLASS = frozenset(
    {"PutObject", "CopyObject", "PostObject", "ListObjects", "ListObjectsV2", "PutObjectTagging"}
    | {"CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
)
S3_FREE = frozenset({"DeleteObject", "DeleteObjects"})


def _number_size(text: str) -> int:
    digits = Decimal(text).normalize().as_tuple().digits
    significant = len(digits) or 1
    return math.ceil(significant / 2) + 1


def value_size(value: dict[str, Any]) -> int:
    """The billed size of one DynamoDB attribute value (``{"S": "…"}``, ``{"M": {…}}`` …)."""
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode("utf-8"))
    if kind == "N":
        return _number_size(content)
    if kind == "B":
        return len(content) if isinstance(content, bytes) else len(content.encode())  # base64 text in JSON: close
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(item.encode("utf-8")) for item in content)
    if kind == "NS":
        return sum(_number_size(item) for item in content)
    if kind == "BS":
        return sum(len(item) for item in content)
    if kind == "L":
        return 3 + sum(1 + value_size(item) for item in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + value_size(item) for name, item in content.items())
    raise ValueError(f"unknown attribute type {kind!r}")


def item_size(item: dict[str, Any] | None) -> int:
    """The billed size of an item in DynamoDB JSON (0 for no item)."""
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def read_units(size: int, *, consistent: bool, transactional: bool = False) -> float:
    units = math.ceil(size / READ_UNIT_BYTES) if size else 1
    factor = 2.0 if transactional else 1.0 if consistent else 0.5
    return units * factor


def write_units(size: int, *, transactional: bool = False) -> float:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES)) * (2.0 if transactional else 1.0)


def index_writes(before: dict[str, Any] | None, after: dict[str, Any] | None, key_attributes: list[str]) -> float:
    """Write units a base-table write costs one global secondary index (ALL projection) keyed by ``key_attributes``."""

    def in_index(item: dict[str, Any] | None) -> bool:
        return bool(item) and all(name in item for name in key_attributes)

    was, now = in_index(before), in_index(after)
    if not was and not now:
        return 0.0
    if was and not now:
        return write_units(item_size(before))
    if now and not was:
        return write_units(item_size(after))
    assert before is not None and after is not None
    if [before[name] for name in key_attributes] != [after[name] for name in key_attributes]:
        return write_units(item_size(before)) + write_units(item_size(after))
    return write_units(max(item_size(before), item_size(after)))


def s3_request_class(operation: str) -> str | None:
    """``"put"`` or ``"get"`` (S3's two request prices), None for a free one."""
    if operation in S3_FREE:
        return None
    return "put" if operation in S3_PUT_CLASS else "get"
