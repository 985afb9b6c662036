"""Conversations and each participant's membership in them."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.adapters.dynamodb.base import table_meta


class Conversation(Model):
    """One conversation: the source of truth for its sequence numbers and read state.

    Every write that changes it (a send, a read) is conditioned on ``version``, so concurrent writers
    serialize and counters stay exact.
    """

    Meta = table_meta("conversations")

    id = UnicodeAttribute(hash_key=True)
    pattern_id = UnicodeAttribute(null=True)
    participant_ids = ListAttribute(of=UnicodeAttribute)
    title = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    last_message_id = UnicodeAttribute(null=True)
    last_message_at = UnicodeAttribute(null=True)
    last_message = JSONAttribute(null=True)
    is_active = BooleanAttribute(default=True)
    message_count = NumberAttribute(default=0)
    version = NumberAttribute(default=0)
    # user id -> read_state.ParticipantState.to_item()
    participant_states = JSONAttribute(default=dict)
    # The room: "<connection id> <user id>" of every connection joined to this conversation. A set, so
    # join and leave are single ADD/DELETE updates that never race the versioned send updates.
    room = UnicodeSetAttribute(null=True)
    # user id -> domain.folders.ParticipantSettings.to_item(): each participant's own archive, mute, request state.
    participant_settings = JSONAttribute(null=True)


class ByActivityIndex(GlobalSecondaryIndex["Membership"]):  # type: ignore[no-untyped-call]  # PynamoDB's hook
    """A user's inbox, most recent activity first: sparse, only memberships in the inbox carry ``activity_at``."""

    class Meta:
        index_name = "by_activity"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    activity_at = UnicodeAttribute(range_key=True)


class ByFolderIndex(GlobalSecondaryIndex["Membership"]):  # type: ignore[no-untyped-call]  # PynamoDB's hook
    """A user's archived conversations and message requests: sparse, only memberships outside the inbox carry
    ``folder_at`` (``"<folder>#<activity>"``), queried with ``begins_with`` the folder, most recent first."""

    class Meta:
        index_name = "by_folder"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    folder_at = UnicodeAttribute(range_key=True)


class Membership(Model):
    """One user's view of one conversation: everything the inbox shows, without another read."""

    Meta = table_meta("memberships")

    user_id = UnicodeAttribute(hash_key=True)
    conversation_id = UnicodeAttribute(range_key=True)
    # The conversation's latest activity, set only while it is in the user's inbox (``by_activity``); outside it
    # the same time is in ``folder_at`` (``by_folder``). Exactly one of the two is set.
    activity_at = UnicodeAttribute(null=True)
    folder_at = UnicodeAttribute(null=True)
    other_user_id = UnicodeAttribute()
    participant_ids = ListAttribute(of=UnicodeAttribute)
    pattern_id = UnicodeAttribute(null=True)
    title = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    last_message_id = UnicodeAttribute(null=True)
    last_message_at = UnicodeAttribute(null=True)
    last_message = JSONAttribute(null=True)
    is_active = BooleanAttribute(default=True)
    unread_count = NumberAttribute(default=0)
    # The member's own settings (domain.folders), what offline notifications must respect: ``muted_until`` (muted
    # while in the future), ``archived``, ``request`` (a message request waiting for this member). Absent: false.
    archived = BooleanAttribute(null=True)
    muted_until = UnicodeAttribute(null=True)
    request = BooleanAttribute(null=True)
    # The other participant has not accepted this member's message request yet (no presence flows to the member).
    awaiting = BooleanAttribute(null=True)

    by_activity = ByActivityIndex()
    by_folder = ByFolderIndex()
