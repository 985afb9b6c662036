"""Bulk test data planned by the service's own ``plan_send`` and written straight to the tables (dev/bulk.py).

Sending 1,000 messages through the API would test moto's speed, not ours; these factories write the same items
a send writes, built by the same code.
"""

from __future__ import annotations

from chalicelib.adapters.dynamodb import Conversation, UserProfile
from chalicelib.adapters.dynamodb.records import conversation_state
from chalicelib.domain.clock import now_iso
from chalicelib.domain.conversations import ConversationState, new_conversation
from chalicelib.domain.ids import conversation_id_for
from dev.bulk import plan_messages, write_items, write_plans


def append_history(conversation: ConversationState, count: int) -> ConversationState:
    """Add ``count`` messages, the two participants alternating, all unread; store everything they touch."""
    first, second = conversation.participant_ids
    start = conversation.message_count
    sends = [
        ((first if seq % 2 else second), f"message {seq}", now_iso()) for seq in range(start + 1, start + count + 1)
    ]
    plans = plan_messages(conversation, sends)
    if not plans:
        return conversation
    write_plans(plans, before={conversation.id: conversation})
    return plans[-1].conversation


def seed_conversation(user_a: str, user_b: str, messages: int, pattern_id: str | None = None) -> ConversationState:
    """A stored conversation (or the existing one of that pair) grown by ``messages`` messages."""
    try:
        conversation = conversation_state(
            Conversation.get(conversation_id_for(user_a, user_b, pattern_id), consistent_read=True)
        )
    except Conversation.DoesNotExist:
        conversation = new_conversation(user_a, user_b, pattern_id, None, now_iso())
    return append_history(conversation, messages)


def seed_inbox(user: str, conversations: int, first_partner: int = 0) -> None:
    """Give ``user`` ``conversations`` more conversations with new partners (with profiles), one message each."""
    partners = [f"{user}-partner-{index}" for index in range(first_partner, first_partner + conversations)]
    write_items(UserProfile(partner, name=partner.title()) for partner in partners)
    plans = [
        plan
        for partner in partners
        for plan in plan_messages(
            new_conversation(partner, user, None, None, now_iso()), [(partner, "message 1", now_iso())]
        )
    ]
    write_plans(plans)
