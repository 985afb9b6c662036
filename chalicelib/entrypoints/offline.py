"""Issue 18's consumer of the messages table's stream: from decoded stream records to queued work.

``on_message_records(records)`` takes the records of one stream batch (as Lambda hands them) and
* queues the webhook events they make (``message.created``/``updated``/``deleted``, ``conversation.created``);
* opens an email digest window for each recipient of a new message (one conditional update per recipient; a window
  already open absorbs the message).
Both are idempotent under the stream's at-least-once delivery: event ids derive from the record, windows from the
conditional update. It is registered with the one stream handler of the messages table (issue 17's plumbing): there
is no second stream reader.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.bootstrap import services


def on_message_records(records: Iterable[Mapping[str, Any]]) -> None:
    built = services()
    changes = built.message_changes(records)
    if not changes:
        return
    if built.webhooks is not None:
        built.webhooks.enqueue(changes)
    if built.digests is not None:
        built.digests.schedule(changes)
