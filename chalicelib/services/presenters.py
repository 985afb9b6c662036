"""Records as the wire shows them: the seed's Message and Conversation, enriched conversations, attachments with
download URLs signed for the viewer (callers only present what the viewer may see)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.dynamodb.batch import batches
from chalicelib.domain.clock import now_iso
from chalicelib.domain.conversations import ConversationState
from chalicelib.domain.files import DISPLAY_FORMATS, FILE, IMAGE
from chalicelib.domain.folders import ParticipantSettings
from chalicelib.domain.messages import MessageRecord, quote_of
from chalicelib.domain.read_state import ParticipantState
from chalicelib.domain.uploads import PENDING, READY, REJECTED
from chalicelib.schemas.responses import (
    AttachmentOut,
    ConversationOut,
    ConversationSettingsOut,
    EnrichedConversationOut,
    LastMessageOut,
    MessageOut,
    ReactionOut,
    ReplyToOut,
)
from chalicelib.services.directory import Directory
from chalicelib.services.ports import Files

logger = logging.getLogger(__name__)


def _status(kind: str | None, status: str | None) -> str:
    if status == REJECTED:
        return "rejected"
    if kind == IMAGE and status == PENDING:
        return "processing"  # served once the metadata-free copy exists
    return "ready"


class Presenter:
    """Turns records into wire models; the only place that signs download URLs."""

    def __init__(self, files: Files) -> None:
        self.files = files

    def attachment_fields(self, attachment: Mapping[str, Any] | None, *, sign: bool = True) -> dict[str, Any]:
        """A message's attachment fields; with ``sign``, freshly signed URLs (FileStorageError if signing fails)."""
        if not attachment:
            return {}
        kind = attachment.get("kind")
        status = _status(kind, attachment.get("status"))
        fields: dict[str, Any] = {
            "attachment_id": attachment.get("id"),
            "attachment_type": kind,
            "attachment_name": attachment.get("name"),
            "attachment_size": attachment.get("size"),
            "attachment_status": status,
        }
        if status != "ready" or not sign:
            return fields
        if kind == FILE:
            # Anything that is not an image downloads; it is never rendered by the browser. A sent file is served
            # from the server's copy of what was verified (messages from before copies existed: the original,
            # whose upload form expired long ago).
            fields["attachment_url"] = self.files.presign_download(
                attachment.get("verifiedKey") or attachment["key"],
                attachment["contentType"],
                file_name=attachment.get("name"),
                inline=False,
            )
        elif kind == IMAGE and attachment.get("status") == READY:
            served_type = DISPLAY_FORMATS[attachment["contentType"]][1]
            fields["attachment_url"] = self.files.presign_download(
                attachment["displayKey"], served_type, file_name=None, inline=True
            )
            fields["thumbnail_url"] = self.files.presign_download(
                attachment["thumbnailKey"], "image/jpeg", file_name=None, inline=True
            )
            fields["width"], fields["height"] = attachment.get("width"), attachment.get("height")
        return fields

    def message(
        self,
        message: MessageRecord,
        recipient_state: ParticipantState,
        *,
        sign: bool = True,
        original: MessageRecord | None = None,
    ) -> MessageOut:
        """The seed's Message; ``isRead``/``readAt`` come from the recipient's read position. A reply shows the
        message it quotes as ``original`` is now (pass it: without it only the quote's id and sender are known)."""
        read_at = recipient_state.read_at(message.recipient_receipt)
        quote = quote_of(message, original)
        return MessageOut(
            id=message.id,
            conversation_id=message.conversation_id,
            sender_id=message.sender_id,
            recipient_id=message.recipient_id,
            content=message.content,
            **self.attachment_fields(message.attachment, sign=sign),
            is_read=read_at is not None,
            sent_at=message.sent_at,
            read_at=read_at,
            client_message_id=message.client_message_id,
            version=message.version,
            edited_at=message.edited_at,
            is_deleted=message.is_deleted,
            deleted_at=message.deleted_at,
            reactions=reactions_out(message),
            reply_to=(
                ReplyToOut(
                    id=quote.id,
                    sender_id=quote.sender_id,
                    content=quote.content,
                    is_deleted=quote.is_deleted,
                    attachment_type=quote.attachment_kind,
                )
                if quote
                else None
            ),
        )

    def committed_message(
        self, message: MessageRecord, recipient_state: ParticipantState, *, original: MessageRecord | None = None
    ) -> MessageOut:
        """A message that is already stored: if its URLs cannot be signed now, it is shown without them (the
        client refreshes them with ``GET /api/attachments/{id}``) rather than turning a stored send into an error."""
        try:
            return self.message(message, recipient_state, original=original)
        except Exception:
            logger.exception("signing a stored message's attachment failed; answered without URLs")
            return self.message(message, recipient_state, sign=False, original=original)

    def attachment(self, snapshot: Mapping[str, Any], *, conversation_id: str, message_id: str | None) -> AttachmentOut:
        return AttachmentOut(conversation_id=conversation_id, message_id=message_id, **self.attachment_fields(snapshot))


def reactions_out(message: MessageRecord) -> list[ReactionOut]:
    return [ReactionOut(emoji=r.emoji, count=len(r.user_ids), user_ids=list(r.user_ids)) for r in message.reactions]


def original_in(message: MessageRecord, originals: Mapping[int, MessageRecord]) -> MessageRecord | None:
    """The message ``message`` quotes, among ``originals`` (by seq, of its conversation)."""
    return originals.get(message.reply_to.seq) if message.reply_to else None


def originals_outside(page: list[MessageRecord]) -> set[int]:
    """The seqs of the messages that replies of ``page`` quote and that are not on the page themselves."""
    on_page = {m.seq for m in page}
    return {m.reply_to.seq for m in page if m.reply_to and not m.is_deleted} - on_page


def fitting_keys(page: list[MessageRecord], other_keys: int) -> int:
    """How many of ``page`` (in the order it grows) can have the originals they quote read with the ``other_keys``
    items read anyway, in as many BatchGetItems as those alone take: a page ends before quotes would cost another
    round trip. The first message always fits."""
    kept = len(page)
    while kept > 1 and batches(other_keys + len(originals_outside(page[:kept]))) > batches(other_keys):
        kept -= 1
    return kept


def fitting(shown: list[MessageOut], max_bytes: int) -> int:
    """How many of ``shown`` (in the order a page grows) fit in ``max_bytes`` of JSON, the first always (a page
    that cannot hold one message would never move)."""
    total = 0
    for index, message in enumerate(shown):
        # As Chalice encodes the body (ASCII-escaped): the largest form a message can take on the wire.
        total += len(json.dumps(message.wire(), separators=(",", ":")))
        if total > max_bytes and index > 0:
            return index
    return len(shown)


def conversation_out(conversation: ConversationState) -> ConversationOut:
    """The seed's Conversation."""
    return ConversationOut(
        id=conversation.id,
        pattern_id=conversation.pattern_id,
        participant_ids=list(conversation.participant_ids),
        last_message_id=conversation.last_message_id,
        last_message_at=conversation.last_message_at,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        title=conversation.title,
        is_active=conversation.is_active,
    )


def settings_out(settings: ParticipantSettings, now: str) -> ConversationSettingsOut:
    """A participant's own settings as the wire shows them."""
    return ConversationSettingsOut(
        archived=settings.archived, muted_until=settings.muted_until, is_muted=settings.is_muted(now)
    )


def enriched_out(
    conversation: ConversationState, viewer_id: str, unread: int, directory: Directory
) -> EnrichedConversationOut:
    """A conversation as ``viewer_id`` sees it in list and detail views, with the viewer's own settings. A requester
    does not see the presence of the creator who has not accepted their request yet."""
    base = conversation_out(conversation)
    others = [user for user in base.participant_ids if user != viewer_id] or [viewer_id]
    preview = conversation.last_message
    now = now_iso()
    other = directory.participant_with_presence(others[0], now)
    if conversation.hides_from(viewer_id):
        other = other.model_copy(update={"online": False, "last_seen_at": None})
    return EnrichedConversationOut(
        **base.model_dump(),
        unread_count=unread,
        last_message=LastMessageOut.model_validate(dict(preview)) if preview else None,
        participants=[directory.participant(user) for user in base.participant_ids],
        other_participant=other,
        pattern=directory.pattern(base.pattern_id),
        settings=settings_out(conversation.settings_of(viewer_id), now),
    )
