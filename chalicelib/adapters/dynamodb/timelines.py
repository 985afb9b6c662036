"""Each user's timeline of messages, in commit order: what catch-up (sync) pages through."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.adapters.dynamodb.base import table_meta


class TimelineEntry(Model):
    """One message in a user's timeline: what ``GET /api/messages/sync`` pages through."""

    Meta = table_meta("feeds")

    user_id = UnicodeAttribute(hash_key=True)
    position = UnicodeAttribute(range_key=True)  # "<sentAt>#<conversation id>#<seq, 12 digits>": sorts by time
    conversation_id = UnicodeAttribute()
    message_seq = NumberAttribute()
    expires_at = TTLAttribute()
