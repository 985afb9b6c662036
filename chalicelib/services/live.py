"""Messaging with real-time delivery: what REST handlers and socket actions both call.

Store first (one transaction), then deliver: the same two steps whichever door a message came in by.
"""

from __future__ import annotations

from chalicelib.auth import Principal
from chalicelib.models import UserProfile
from chalicelib.models.batch import batch_get
from chalicelib.realtime.delivery import (
    deliver_conversation_opened,
    deliver_message,
    deliver_read,
    deliver_typing,
)
from chalicelib.realtime.gateway import Gateway
from chalicelib.schemas.requests import SendMessageRequest
from chalicelib.services.conversations import (
    PatternConversation,
    get_conversation_by_id,
    get_conversation_by_pattern_and_users,
)
from chalicelib.services.directory import Directory
from chalicelib.services.messages import (
    ReadResult,
    SendResult,
    create_message,
    mark_conversation_messages_as_read,
    mark_message_as_read,
)


def send_message(
    principal: Principal, request: SendMessageRequest, gateway: Gateway, *, origin_connection_id: str | None = None
) -> SendResult:
    """Store a message, then deliver it to the room and the recipient's devices (a retry delivers nothing)."""
    result = create_message(principal, request)
    if result.created:
        message = result.message
        profiles = batch_get([(UserProfile, message.recipient_id, None), (UserProfile, message.sender_id, None)])
        directory = Directory.from_batch(profiles, caller=principal)
        deliver_message(
            gateway, result, result.stored_conversation, directory, origin_connection_id=origin_connection_id
        )
    return result


def read_messages(principal: Principal, message_id: str, *, whole_conversation: bool, gateway: Gateway) -> ReadResult:
    """Move the caller's read position, then tell the room and the other participant."""
    if whole_conversation:
        result = mark_conversation_messages_as_read(principal, message_id)
    else:
        result = mark_message_as_read(principal, message_id)
    if result.changed:
        deliver_read(gateway, principal.user_id, result, result.stored_conversation, result.other_participant)
    return result


def announce_typing(principal: Principal, conversation_id: str, *, typing: bool, gateway: Gateway) -> None:
    """Tell the conversation's room that the caller started or stopped typing (nothing is stored)."""
    conversation = get_conversation_by_id(conversation_id, principal.user_id)
    deliver_typing(gateway, conversation, principal.user_id, typing=typing)


def open_pattern_conversation(
    principal: Principal, pattern_id: str, creator_id: str | None, gateway: Gateway
) -> PatternConversation:
    """Get or create the conversation with a pattern's creator; a new one is announced to the creator."""
    result = get_conversation_by_pattern_and_users(principal, pattern_id, creator_id)
    if result.created and result.creator is not None:
        deliver_conversation_opened(
            gateway, set(result.creator.connection_ids or ()), result.conversation, result.caller.wire()
        )
    return result
