"""Who shares a conversation with whom: one item per user and partner, written when their first conversation is
created, so "do these users share a conversation with me?" is one BatchGetItem whatever the inbox's size."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.adapters.dynamodb.base import table_meta


class Contact(Model):
    """``user_id`` has a conversation with ``contact_id`` (since ``since``); written for both of them."""

    Meta = table_meta("contacts")

    user_id = UnicodeAttribute(hash_key=True)
    contact_id = UnicodeAttribute(range_key=True)
    since = UnicodeAttribute()
    # ``contact_id`` has not accepted ``user_id``'s message request yet: no presence flows to ``user_id``.
    request = BooleanAttribute(null=True)
