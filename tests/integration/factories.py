"""Bulk test data written straight to the tables, shaped exactly as the send path shapes it.

Sending 1,000 messages through the API would test moto's speed, not ours; these factories build the
same items with the same domain helpers the services use.
"""

from __future__ import annotations

from chalicelib.domain.clock import now_iso
from chalicelib.domain.ids import conversation_id_for, message_id_for
from chalicelib.models import Conversation, Membership, Message, UserProfile
from chalicelib.services.conversations import new_conversation
from chalicelib.services.views import membership_for, participant_states, preview_of


def append_history(conversation: Conversation, count: int) -> Conversation:
    """Add ``count`` messages, the two participants alternating, all unread; store everything they touch."""
    first, second = conversation.participant_ids
    states = participant_states(conversation)
    start = int(conversation.message_count or 0)
    message = None
    with Message.batch_write() as batch:
        for seq in range(start + 1, start + count + 1):
            author, reader = (first, second) if seq % 2 else (second, first)
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
    unread_before = {user: participant_states(conversation)[user].unread for user in states}
    if message is not None:
        conversation.message_count = start + count
        conversation.last_message_id = message.id
        conversation.last_message_at = message.sent_at
        conversation.last_message = preview_of(message)
        conversation.updated_at = message.sent_at
    conversation.participant_states = {user: state.to_item() for user, state in states.items()}
    conversation.version = int(conversation.version or 0) + 1
    conversation.save()
    with Membership.batch_write() as batch:
        for user in conversation.participant_ids:
            batch.save(membership_for(conversation, user))
    for user, state in states.items():
        if state.unread != unread_before[user]:
            UserProfile(user).update(actions=[UserProfile.total_unread.add(state.unread - unread_before[user])])
    return conversation


def seed_conversation(user_a: str, user_b: str, messages: int, pattern_id: str | None = None) -> Conversation:
    """A stored conversation (or the existing one of that pair) grown by ``messages`` messages."""
    try:
        conversation = Conversation.get(conversation_id_for(user_a, user_b, pattern_id), consistent_read=True)
    except Conversation.DoesNotExist:
        conversation = new_conversation(user_a, user_b, pattern_id, None, now_iso())
    return append_history(conversation, messages)


def seed_inbox(user: str, conversations: int, first_partner: int = 0) -> None:
    """Give ``user`` ``conversations`` more conversations with new partners (with profiles), one message each."""
    partners = [f"{user}-partner-{index}" for index in range(first_partner, first_partner + conversations)]
    with UserProfile.batch_write() as batch:
        for partner in partners:
            batch.save(UserProfile(partner, name=partner.title()))
    for partner in partners:
        seed_conversation(partner, user, 1)
