"""Open WebSocket connections."""

from __future__ import annotations

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.models import Model

from chalicelib.adapters.dynamodb.base import table_meta


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
    # Users whose presence this connection asked for (``watch_presence``): it is in their profile's watcher_ids.
    watching = UnicodeSetAttribute(null=True)
    expires_at = TTLAttribute()
