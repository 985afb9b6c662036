"""Messages, and the records that make a retried send return the original."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    NumberSetAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.constants import STREAM_NEW_AND_OLD_IMAGE
from pynamodb.models import Model

from chalicelib.adapters.dynamodb.base import table_meta


class Message(Model):
    """A message, keyed by conversation and its gapless sequence number (commit order).

    ``content`` is always the current text ("" once deleted) and ``is_deleted`` marks a tombstone: what a reader of
    the table's stream (search indexing) needs to re-index an edit and drop a deletion. Items written before
    messages could change have no ``version``: they read as version 1.
    """

    # The table's stream (both images of every change) feeds on_message_stream's consumers
    # (chalicelib/entrypoints/message_stream.py): search indexing, and what else needs to follow messages.
    Meta = table_meta("messages", stream_view_type=STREAM_NEW_AND_OLD_IMAGE)

    conversation_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    id = UnicodeAttribute()
    sender_id = UnicodeAttribute()
    recipient_id = UnicodeAttribute()
    # The recipient's receipt number for this message (see domain.read_state).
    recipient_receipt = NumberAttribute()
    content = UnicodeAttribute(default="")
    sent_at = UnicodeAttribute()
    client_message_id = UnicodeAttribute(null=True)
    attachment = JSONAttribute(null=True)
    version = NumberAttribute(null=True)  # every change is conditioned on it (absent: 1)
    edited_at = UnicodeAttribute(null=True)
    is_deleted = BooleanAttribute(null=True)
    deleted_at = UnicodeAttribute(null=True)
    # [{"emoji": "👍", "userIds": ["bob", "alice"]}], in the order each emoji was first used.
    reactions = JSONAttribute(null=True)
    # A reply: {"seq": <the quoted message's seq>, "senderId": ...}; the quote is shown from the original as it is.
    reply_to = JSONAttribute(null=True)
    # On a quoted message: the seqs of the first replies, which follow its edits and deletion (domain.lifecycle).
    reply_seqs = NumberSetAttribute(null=True)


class IdempotencyRecord(Model):
    """``send#<user>#<clientMessageId>`` → the message that request stored (expires by TTL)."""

    Meta = table_meta("idempotency")

    key = UnicodeAttribute(hash_key=True)
    request_hash = UnicodeAttribute()
    conversation_id = UnicodeAttribute()
    message_id = UnicodeAttribute()
    message_seq = NumberAttribute()
    created_at = UnicodeAttribute()
    expires_at = TTLAttribute()
