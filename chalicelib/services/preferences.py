"""Notification preferences: the caller's own (``/api/me/notification-preferences``) and the one-click unsubscribe of
an email digest (``/api/notifications/unsubscribe``, RFC 8058).

One round trip each: a GetItem (strongly consistent: a PUT is seen by the next GET), an UpdateItem. Preferences live
on the user's item (``UserProfile.notify_*``), so the digest worker and the push sender read them with the profile
they read anyway.
"""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.dynamodb import UserProfile
from chalicelib.adapters.dynamodb.records import notification_preferences, preference_actions
from chalicelib.domain.clock import now_iso
from chalicelib.domain.notifications import InvalidToken, Preferences, QuietHours, unsubscribed_user
from chalicelib.errors import ErrorCode, InvalidRequest
from chalicelib.schemas.requests import NotificationPreferencesRequest
from chalicelib.schemas.responses import (
    EmailPreferencesOut,
    NotificationPreferencesOut,
    PushPreferencesOut,
    QuietHoursOut,
    UnsubscribedOut,
)
from chalicelib.settings import get_settings


def preferences_out(preferences: Preferences) -> NotificationPreferencesOut:
    quiet = preferences.quiet_hours
    return NotificationPreferencesOut(
        email=EmailPreferencesOut(enabled=preferences.email_enabled, delay_minutes=preferences.email_delay_minutes),
        push=PushPreferencesOut(enabled=preferences.push_enabled, show_preview=preferences.push_show_preview),
        quiet_hours=QuietHoursOut(start=quiet.start, end=quiet.end, time_zone=quiet.time_zone) if quiet else None,
    )


def get_preferences(user_id: str) -> NotificationPreferencesOut:
    """The user's preferences (the defaults until they set some)."""
    try:
        item = UserProfile.get(user_id, consistent_read=True)
    except UserProfile.DoesNotExist:
        item = None
    return preferences_out(notification_preferences(item))


def put_preferences(user_id: str, request: NotificationPreferencesRequest) -> NotificationPreferencesOut:
    """Replace the user's preferences (what the request leaves out takes its default)."""
    quiet = request.quiet_hours
    preferences = Preferences(
        email_enabled=request.email.enabled,
        email_delay_minutes=request.email.delay_minutes,
        push_enabled=request.push.enabled,
        push_show_preview=request.push.show_preview,
        quiet_hours=QuietHours(quiet.start, quiet.end, quiet.time_zone) if quiet else None,
    )
    UserProfile(user_id).update(actions=[*preference_actions(preferences), UserProfile.updated_at.set(now_iso())])
    return preferences_out(preferences)


def unsubscribe(token: str) -> UnsubscribedOut:
    """Turn off the token's user's email digests. No login: the token is the proof; repeating it changes nothing."""
    try:
        user_id = unsubscribed_user(token, get_settings().cursor_secret)
    except InvalidToken as exc:
        raise InvalidRequest(str(exc), code=ErrorCode.INVALID_UNSUBSCRIBE_TOKEN) from None
    try:
        UserProfile(user_id).update(
            actions=[UserProfile.notify_email_enabled.set(False)],
            condition=UserProfile.id.exists(),
        )
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise
        # The user is gone: nothing to mail, nothing to store (and no item made for them).
    return UnsubscribedOut(unsubscribed=True)
