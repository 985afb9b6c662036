"""The messages table's stream as the use cases see it: each record decoded into a ``MessageChange`` (the message
before and after, as domain records), the one shape every stream consumer takes.

A record that cannot be decoded (an item no model reads) is a ``PoisonRecord``: the entry point reports it as a
failed item, so Lambda retries it, bisects around it and finally hands it to the on-failure destination; it never
blocks the records around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.dynamodb.messages import Message
from chalicelib.adapters.dynamodb.records import message_record
from chalicelib.domain.messages import MessageRecord

INSERT, MODIFY, REMOVE = "INSERT", "MODIFY", "REMOVE"


class PoisonRecord(ValueError):
    """A stream record whose images are not a message this code can read."""


@dataclass(frozen=True)
class MessageChange:
    """One change of one message: ``old`` is None for a new message, ``new`` is None for a removed item.

    ``sequence_number`` identifies the record in its shard (what a partial batch response names); redelivery
    hands the same record again, so a consumer must be idempotent (apply the same change twice, same result).
    """

    sequence_number: str
    event_name: str
    old: MessageRecord | None
    new: MessageRecord | None

    @property
    def message(self) -> MessageRecord:
        """The message as it is after the change (as it was, for a removal)."""
        found = self.new or self.old
        if found is None:  # decode never builds a change without either; bandit refuses asserts in the app
            raise ValueError("a message change without an old or a new image")
        return found


def _image(raw: Mapping[str, Any] | None) -> MessageRecord | None:
    if not raw:
        return None
    try:
        return message_record(Message.from_raw_data(dict(raw)))
    except Exception as exc:  # an item PynamoDB cannot read, or a record field the domain needs is missing
        raise PoisonRecord(f"{type(exc).__name__}: not a readable message") from exc


def decode(record: Mapping[str, Any]) -> MessageChange:
    """A Lambda DynamoDB stream record (``Records[i]`` of the event) as a change; PoisonRecord if unreadable."""
    dynamodb = record.get("dynamodb")
    if not isinstance(dynamodb, Mapping) or not isinstance(dynamodb.get("SequenceNumber"), str):
        raise PoisonRecord("not a DynamoDB stream record")
    event_name = record.get("eventName")
    if event_name not in (INSERT, MODIFY, REMOVE):
        raise PoisonRecord(f"unknown event {event_name!r}")
    old, new = _image(dynamodb.get("OldImage")), _image(dynamodb.get("NewImage"))
    if old is None and new is None:
        raise PoisonRecord("a record without images (the stream must be NEW_AND_OLD_IMAGES)")
    return MessageChange(dynamodb["SequenceNumber"], str(event_name), old, new)
