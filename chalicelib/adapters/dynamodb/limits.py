"""Per-user request counters for rate limits (fixed windows, expiring by TTL)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.adapters.dynamodb.base import table_meta


class RateCounter(Model):
    """``rate#<action>#<period>#<window>#<user>`` → requests (hits) counted in that window."""

    Meta = table_meta("rate_limits")

    key = UnicodeAttribute(hash_key=True)
    hits = NumberAttribute(default=0)
    expires_at = TTLAttribute()
