"""Stream records of the messages table, decoded into the domain's ``MessageChange`` (old and new images as
``MessageRecord``), for the consumers of issue 18 (digests, webhooks).

A record as Lambda hands it (``{"eventID", "eventName", "dynamodb": {"NewImage", "OldImage", ...}}``, images in
DynamoDB JSON) or as GetRecords returns it. A record of another table, or without the images a consumer needs, is
None (skipped).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.dynamodb.messages import Message
from chalicelib.adapters.dynamodb.records import message_record
from chalicelib.domain.messages import MessageRecord
from chalicelib.domain.webhooks import MessageChange

_REQUIRED = ("conversation_id", "seq", "id", "sender_id", "recipient_id", "recipient_receipt", "sent_at")


def _image(raw: Any) -> MessageRecord | None:
    if not isinstance(raw, Mapping) or any(name not in raw for name in _REQUIRED):
        return None
    return message_record(Message.from_raw_data(dict(raw)))


def message_change(record: Mapping[str, Any]) -> MessageChange | None:
    """The change one stream record describes, or None when it is not a message's."""
    stream = record.get("dynamodb") or {}
    name = str(record.get("eventName") or "")
    event_id = str(record.get("eventID") or "")
    if name not in ("INSERT", "MODIFY", "REMOVE") or not event_id or not isinstance(stream, Mapping):
        return None
    new, old = _image(stream.get("NewImage")), _image(stream.get("OldImage"))
    if new is None and old is None:
        return None
    return MessageChange(event_id=event_id, event_name=name, new=new, old=old)
