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


class ByActivityIndex(GlobalSecondaryIndex["Membership"]):  # type: ignore[no-untyped-call]  # PynamoDB's hook
    """A user's conversations, most recent activity first."""

    class Meta:
        index_name = "by_activity"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    activity_at = UnicodeAttribute(range_key=True)


class Membership(Model):
    """One user's view of one conversation: everything the inbox shows, without another read."""

    Meta = table_meta("memberships")

    user_id = UnicodeAttribute(hash_key=True)
    conversation_id = UnicodeAttribute(range_key=True)
    activity_at = UnicodeAttribute()
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

    by_activity = ByActivityIndex()
