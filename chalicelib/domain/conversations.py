"""A conversation's state as the rules see it, and the values derived from it (previews, memberships, rooms)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.domain.folders import Counters, ParticipantSettings, counter_change
from chalicelib.domain.ids import conversation_id_for
from chalicelib.domain.read_state import ParticipantState

PREVIEW_CHARS = 140


@dataclass(frozen=True)
class ConversationState:
    """One conversation between two users: its counters, read states and the latest message's preview.

    ``version`` orders every write that changes it (sends, reads): a write is conditioned on the version it
    read, so concurrent writers serialize and the counters stay exact.
    """

    id: str
    participant_ids: tuple[str, ...]
    created_at: str
    updated_at: str
    pattern_id: str | None = None
    title: str | None = None
    message_count: int = 0
    version: int = 0
    states: Mapping[str, ParticipantState] = field(default_factory=dict)
    last_message_id: str | None = None
    last_message_at: str | None = None
    last_message: Mapping[str, Any] | None = None
    is_active: bool = True
    room: frozenset[str] = frozenset()  # the connections joined to it, as read (``domain.connections.room_entry``)
    # user id -> their own settings (archived, muted, a message request waiting for them): ``domain.folders``.
    settings: Mapping[str, ParticipantSettings] = field(default_factory=dict)

    def state_of(self, user_id: str) -> ParticipantState:
        return self.states.get(user_id) or ParticipantState()

    def settings_of(self, user_id: str) -> ParticipantSettings:
        return self.settings.get(user_id) or ParticipantSettings()

    def is_request_for(self, user_id: str) -> bool:
        """Whether this conversation is a message request waiting for ``user_id`` (a creator)."""
        return self.settings_of(user_id).request

    def hides_from(self, viewer_id: str) -> bool:
        """Whether the other participant's presence, typing and read receipts are kept from ``viewer_id``: while the
        conversation is a request waiting for the other participant, the requester learns nothing of them."""
        return self.is_request_for(self.other_than(viewer_id))

    def receipts_shown_to(self, viewer_id: str, recipient_id: str) -> ParticipantState:
        """The recipient's read state as ``viewer_id`` may see it (nothing read, for a requester)."""
        if recipient_id != viewer_id and self.is_request_for(recipient_id):
            return ParticipantState()
        return self.state_of(recipient_id)

    def other_than(self, user_id: str) -> str:
        """The other participant (``user_id`` itself for a conversation with oneself, which cannot exist)."""
        return next((u for u in self.participant_ids if u != user_id), user_id)

    def with_states(self, states: Mapping[str, ParticipantState]) -> ConversationState:
        return replace(self, states=dict(states))


def new_conversation(user_a: str, user_b: str, pattern_id: str | None, title: str | None, at: str) -> ConversationState:
    """A conversation not yet stored: two participants, no messages, a read state each."""
    participants = tuple(sorted([user_a, user_b]))
    return ConversationState(
        id=conversation_id_for(user_a, user_b, pattern_id),
        participant_ids=participants,
        created_at=at,
        updated_at=at,
        pattern_id=pattern_id,
        title=title,
        states={user: ParticipantState() for user in participants},
    )


def activity_at(conversation: ConversationState) -> str:
    """What orders a user's inbox: the latest message, or the conversation's creation."""
    return conversation.last_message_at or conversation.created_at


def counters_of(before: ConversationState | None, after: ConversationState) -> dict[str, Counters]:
    """How a write moves each participant's total unread and requests count (``domain.folders``): sends, reads
    and settings changes alike."""
    return {
        user: counter_change(
            (before.settings_of(user), before.state_of(user).unread) if before is not None else None,
            (after.settings_of(user), after.state_of(user).unread),
        )
        for user in after.participant_ids
    }
