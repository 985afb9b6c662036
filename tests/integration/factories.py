"""Bulk test data written straight to the tables, shaped exactly as the send path shapes it.

Sending 1,000 messages through the API would test moto's speed, not ours; these factories build the
same items with the same domain helpers the services use.
"""

from __future__ import annotations

from chalicelib.domain.clock import now_iso
from chalicelib.domain.ids import message_id_for
from chalicelib.models import Conversation, Membership, Message, UserProfile
from chalicelib.services.conversations import new_conversation
from chalicelib.services.views import membership_for, participant_states, preview_of


def seed_conversation(sender: str, recipient: str, messages: int, pattern_id: str | None = None) -> Conversation:
    """A stored conversation in which ``sender`` and ``recipient`` alternate ``messages`` messages (all unread)."""
    conversation = new_conversation(sender, recipient, pattern_id, None, now_iso())
    states = participant_states(conversation)
    with Message.batch_write() as batch:
        for seq in range(1, messages + 1):
            author, reader = (sender, recipient) if seq % 2 else (recipient, sender)
            message_id = message_id_for(conversation.id, seq)
            states[reader] = states[reader].receive(message_id)
            message = Message(
                conversation.id,
                seq,
                id=message_id,
                sender_id=author,
                recipient_id=reader,
                recipient_receipt=states[reader].received,
                content=f"message {seq}",
                sent_at=now_iso(),
            )
            batch.save(message)
    if messages:
        conversation.message_count = messages
        conversation.last_message_id = message.id
        conversation.last_message_at = message.sent_at
        conversation.last_message = preview_of(message)
    conversation.participant_states = {user: state.to_item() for user, state in states.items()}
    conversation.save()
    with Membership.batch_write() as batch:
        for user in conversation.participant_ids:
            batch.save(membership_for(conversation, user))
    for user, state in states.items():
        UserProfile(user).update(actions=[UserProfile.total_unread.add(state.unread)])
    return conversation


def seed_inbox(user: str, conversations: int, messages_each: int = 1) -> list[Conversation]:
    """``user`` talking with ``conversations`` distinct partners (who get profiles)."""
    seeded = []
    with UserProfile.batch_write() as batch:
        for index in range(conversations):
            batch.save(UserProfile(f"{user}-partner-{index}", name=f"Partner {index}"))
    for index in range(conversations):
        seeded.append(seed_conversation(f"{user}-partner-{index}", user, messages_each))
    return seeded
