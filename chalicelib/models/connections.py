"""WebSocket connections and the per-user feed that catch-up (sync) reads."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.models import Model

from chalicelib.models.base import table_meta


class Connection(Model):
    """An open API Gateway WebSocket connection of a user (expires by TTL after API Gateway's 2 h max)."""

    Meta = table_meta("connections")

    connection_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    connected_at = UnicodeAttribute()
    # The token's expiry: frames after it are refused, the client reconnects with a fresh token.
    token_expires_at = UnicodeAttribute(null=True)
    claim_name = UnicodeAttribute(null=True)
    claim_picture = UnicodeAttribute(null=True)
    # "<conversation id> <other participant id>" of every room this connection joined.
    rooms = UnicodeSetAttribute(null=True)
    expires_at = TTLAttribute()


class FeedEntry(Model):
    """One message in a user's timeline, in commit order: what ``GET /api/messages/sync`` pages through."""

    Meta = table_meta("feeds")

    user_id = UnicodeAttribute(hash_key=True)
    position = UnicodeAttribute(range_key=True)  # "<sentAt>#<conversation id>#<seq, 12 digits>": sorts by time
    conversation_id = UnicodeAttribute()
    message_seq = NumberAttribute()
    expires_at = TTLAttribute()
