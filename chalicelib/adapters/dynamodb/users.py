"""Users as this service keeps them: the platform's profile, the token's claims, the unread total, presence."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.models import Model

from chalicelib.adapters.dynamodb.base import table_meta


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
    # Message requests (domain.folders): a creator has at least one pattern (set by PUT /api/internal/patterns);
    # the platform may open a creator to everyone (acceptsDirectMessages); requests waiting for this user.
    is_creator = BooleanAttribute(null=True)
    accepts_direct_messages = BooleanAttribute(null=True)
    requests_count = NumberAttribute(null=True)
    # A moderator's suspension (issue 16): until then ``$connect`` is refused (a condition of its own update).
    suspended_until = UnicodeAttribute(null=True)
    # Offline notifications (issue 18). The platform's copy of the user's email (never shown to other users), and
    # their preferences (absent: the defaults of domain.notifications.Preferences).
    email = UnicodeAttribute(null=True)
    notify_email_enabled = BooleanAttribute(null=True)
    notify_email_delay_minutes = NumberAttribute(null=True)
    notify_push_enabled = BooleanAttribute(null=True)
    notify_push_show_preview = BooleanAttribute(null=True)
    notify_quiet_hours = JSONAttribute(null=True)  # {"start", "end", "timeZone"}
    # The open email digest window: the message that opened it and when (set by a conditional update, so a burst of
    # messages opens one window), then the window being sent (cleared once mailed), and the last digest's time.
    digest_window = UnicodeAttribute(null=True)
    digest_since = UnicodeAttribute(null=True)
    digest_sending = UnicodeAttribute(null=True)
    digest_sending_since = UnicodeAttribute(null=True)
    digest_sent_at = UnicodeAttribute(null=True)
