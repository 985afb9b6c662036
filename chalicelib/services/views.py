"""Turning stored items into the wire's Message and Conversation shapes."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.clock import now_iso
from chalicelib.domain.read_state import ParticipantState
from chalicelib.models import Conversation, Membership, Message
from chalicelib.schemas.responses import (
    ConversationOut,
    EnrichedConversationOut,
    LastMessageOut,
    MessageOut,
)
from chalicelib.services.attachment_urls import wire_fields
from chalicelib.services.directory import Directory

PREVIEW_CHARS = 140


def participant_states(conversation: Conversation) -> dict[str, ParticipantState]:
    stored: dict[str, Any] = conversation.participant_states or {}
    return {user: ParticipantState.from_item(stored.get(user)) for user in conversation.participant_ids}


def message_out(message: Message, recipient_state: ParticipantState) -> MessageOut:
    """The seed's Message; ``isRead``/``readAt`` come from the recipient's read position."""
    read_at = recipient_state.read_at(int(message.recipient_receipt))
    return MessageOut(
        id=message.id,
        conversation_id=message.conversation_id,
        sender_id=message.sender_id,
        recipient_id=message.recipient_id,
        content=message.content or "",
        **wire_fields(message.attachment),
        is_read=read_at is not None,
        sent_at=message.sent_at,
        read_at=read_at,
        client_message_id=message.client_message_id,
    )


def preview_of(message: Message) -> dict[str, Any]:
    """The short form of a message kept on conversations and memberships for list views."""
    preview: dict[str, Any] = {
        "id": message.id,
        "senderId": message.sender_id,
        "content": (message.content or "")[:PREVIEW_CHARS],
        "sentAt": message.sent_at,
    }
    if message.attachment and message.attachment.get("kind"):
        preview["attachmentType"] = message.attachment["kind"]
    return preview


def conversation_out(conversation: Conversation | Membership) -> ConversationOut:
    """The seed's Conversation (from the conversation item or a membership's copy of it)."""
    return ConversationOut(
        id=conversation.id if isinstance(conversation, Conversation) else conversation.conversation_id,
        pattern_id=conversation.pattern_id,
        participant_ids=list(conversation.participant_ids),
        last_message_id=conversation.last_message_id,
        last_message_at=conversation.last_message_at,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at if isinstance(conversation, Conversation) else conversation.activity_at,
        title=conversation.title,
        is_active=bool(conversation.is_active),
    )


def enriched_out(
    conversation: Conversation | Membership, viewer_id: str, unread: int, directory: Directory
) -> EnrichedConversationOut:
    """A conversation as ``viewer_id`` sees it in list and detail views."""
    base = conversation_out(conversation)
    others = [user for user in base.participant_ids if user != viewer_id] or [viewer_id]
    preview = conversation.last_message
    return EnrichedConversationOut(
        **base.model_dump(),
        unread_count=unread,
        last_message=LastMessageOut.model_validate(preview) if preview else None,
        participants=[directory.participant(user) for user in base.participant_ids],
        other_participant=directory.participant_with_presence(others[0], now_iso()),
        pattern=directory.pattern(base.pattern_id),
    )


def membership_for(conversation: Conversation, user_id: str) -> Membership:
    """``user_id``'s membership item, derived entirely from the conversation item."""
    states = participant_states(conversation)
    other = next((u for u in conversation.participant_ids if u != user_id), user_id)
    return Membership(
        user_id,
        conversation.id,
        activity_at=conversation.last_message_at or conversation.created_at,
        other_user_id=other,
        participant_ids=list(conversation.participant_ids),
        pattern_id=conversation.pattern_id,
        title=conversation.title,
        created_at=conversation.created_at,
        last_message_id=conversation.last_message_id,
        last_message_at=conversation.last_message_at,
        last_message=conversation.last_message,
        is_active=conversation.is_active,
        unread_count=states[user_id].unread,
    )
