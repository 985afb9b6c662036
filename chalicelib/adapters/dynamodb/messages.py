"""Messages, and the records that make a retried send return the original."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.adapters.dynamodb.base import table_meta


class Message(Model):
    """A message, keyed by conversation and its gapless sequence number (commit order)."""

    Meta = table_meta("messages")

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
