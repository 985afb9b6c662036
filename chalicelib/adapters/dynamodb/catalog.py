"""The platform's catalog this service keeps a copy of: patterns and who bought them."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from chalicelib.adapters.dynamodb.base import table_meta


class Pattern(Model):
    """A crochet pattern sold on the platform."""

    Meta = table_meta("patterns")

    id = UnicodeAttribute(hash_key=True)
    creator_id = UnicodeAttribute()
    title = UnicodeAttribute()
    thumbnail_url = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)


class Purchase(Model):
    """A user bought a pattern: what opens messaging with its creator (requirement 3.1)."""

    Meta = table_meta("purchases")

    user_id = UnicodeAttribute(hash_key=True)
    pattern_id = UnicodeAttribute(range_key=True)
    purchased_at = UnicodeAttribute()
