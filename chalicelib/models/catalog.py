"""The platform's data this service keeps a copy of: user profiles, patterns, purchases."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.models import Model

from chalicelib.models.base import table_meta


class UserProfile(Model):
    """A user: profile (from the platform, or the JWT's claims), total unread counter, presence."""

    Meta = table_meta("users")

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(null=True)
    avatar_url = UnicodeAttribute(null=True)
    claim_name = UnicodeAttribute(null=True)
    claim_picture = UnicodeAttribute(null=True)
    total_unread = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)
    # Presence: the user's open WebSocket connections, and until when they can possibly be alive
    # (API Gateway closes every connection after 2 hours, so a lost $disconnect heals by then).
    connection_ids = UnicodeSetAttribute(null=True)
    presence_expires_at = UnicodeAttribute(null=True)
    last_seen_at = UnicodeAttribute(null=True)
    # Connections (of other users) joined to a conversation with this user: they get presence_update.
    watcher_ids = UnicodeSetAttribute(null=True)


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
