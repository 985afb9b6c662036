"""After an upload lands in S3: process it, and tell the room when a message's image is ready."""

from __future__ import annotations

from urllib.parse import unquote_plus

from chalicelib.realtime.delivery import send_event
from chalicelib.realtime.gateway import Gateway, endpoint_url
from chalicelib.realtime.registry import room_of
from chalicelib.services.attachments import process_upload
from chalicelib.services.views import message_out, participant_states


def on_uploaded(key: str) -> None:
    """The S3 ``ObjectCreated`` event of an original upload (keys arrive URL-encoded)."""
    processed = process_upload(unquote_plus(key))
    if processed is None or processed.message is None or processed.conversation is None:
        return
    message, conversation = processed.message, processed.conversation
    state = participant_states(conversation)[message.recipient_id]
    send_event(
        Gateway(endpoint_url()),
        set(room_of(conversation)),
        "attachment_ready",
        {"message": message_out(message, state).wire()},
        conversation=conversation,
    )
