"""Attachments: sign an upload, verify it before a message uses it, process images, sign downloads.

S3's POST policy is the first gate (exact key, type, size); this module is the second, because moto
does not enforce POST policies and a client can lie about what it uploads.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.dynamodb import Attachment, Message
from chalicelib.adapters.dynamodb.conversations import Conversation
from chalicelib.adapters.dynamodb.rate_limits import charge
from chalicelib.adapters.dynamodb.records import conversation_state, message_record, upload_state
from chalicelib.adapters.dynamodb.transactions import commit
from chalicelib.domain.clock import iso
from chalicelib.domain.conversations import ConversationState
from chalicelib.domain.files import DISPLAY_FORMATS, FILE, IMAGE, safe_file_name, sniff_image_type
from chalicelib.domain.ids import parse_message_id
from chalicelib.domain.images import render
from chalicelib.domain.principal import Principal
from chalicelib.domain.uploads import PENDING, READY, REJECTED, UploadState, attachment_snapshot
from chalicelib.errors import ErrorCode, InvalidRequest, NotFound, PayloadTooLarge
from chalicelib.schemas.requests import UploadRequest
from chalicelib.schemas.responses import AttachmentOut, UploadFormOut, UploadTicketOut
from chalicelib.services.conversations import get_conversation_by_id
from chalicelib.services.notify import Notifier
from chalicelib.services.ports import Clock, Files
from chalicelib.services.presenters import Presenter
from chalicelib.settings import get_settings

ORIGINAL_KEY = re.compile(r"^conversations/(conv_[a-z2-7]{26})/(att_[A-Za-z0-9_-]{24})/original$")
_FILE_MAGIC = {"application/pdf": (b"%PDF-",), "application/zip": (b"PK\x03\x04", b"PK\x05\x06")}


def kind_of(content_type: str) -> str:
    settings = get_settings()
    if content_type in settings.image_types:
        return IMAGE
    if content_type in settings.file_types:
        return FILE
    allowed = ", ".join(settings.image_types + settings.file_types)
    raise InvalidRequest(
        f"this file type is not accepted; use one of: {allowed}", code=ErrorCode.UNSUPPORTED_ATTACHMENT_TYPE
    )


def max_bytes_for(kind: str) -> int:
    settings = get_settings()
    return settings.image_max_bytes if kind == IMAGE else settings.file_max_bytes


def _looks_like(content_type: str, head: bytes) -> bool:
    if content_type.startswith("image/"):
        return sniff_image_type(head) == content_type
    if content_type in _FILE_MAGIC:
        return head.startswith(_FILE_MAGIC[content_type])
    if content_type == "text/plain":
        return b"\x00" not in head
    return True


@dataclass
class Processed:
    """An upload event handled: the upload as it is now, and the message that uses it (if one does)."""

    upload: UploadState
    message: Message | None
    conversation: ConversationState | None


class Attachments:
    """Uploads from presign to the message that uses them, and the image processing of the upload event."""

    def __init__(self, files: Files, presenter: Presenter, notifier: Notifier, clock: Clock) -> None:
        self.files = files
        self.presenter = presenter
        self.notifier = notifier
        self.clock = clock

    def request_upload(self, principal: Principal, request: UploadRequest) -> UploadTicketOut:
        """Sign a one-object upload into a conversation the caller takes part in (2 DynamoDB round trips)."""
        conversation = get_conversation_by_id(request.conversation_id, principal.user_id)
        kind = kind_of(request.content_type)
        limit = max_bytes_for(kind)
        if request.size > limit:
            raise PayloadTooLarge(f"{kind}s are limited to {limit} bytes", code=ErrorCode.ATTACHMENT_TOO_LARGE)
        attachment_id = "att_" + secrets.token_urlsafe(18)
        key = f"conversations/{conversation.id}/{attachment_id}/original"
        post = self.files.presign_upload(key, request.content_type, limit)
        now = self.clock()
        record = Attachment(
            attachment_id,
            conversation_id=conversation.id,
            uploader_id=principal.user_id,
            key=key,
            kind=kind,
            content_type=request.content_type,
            file_name=safe_file_name(request.file_name),
            declared_size=request.size,
            status=PENDING,
            created_at=iso(now),
            expires_at=timedelta(days=1),
        )

        def build(transaction: Any) -> None:
            charge(transaction, principal.user_id, "presign")
            transaction.save(record)

        commit(build)
        expires = now + timedelta(seconds=get_settings().upload_url_ttl_seconds)
        return UploadTicketOut(
            attachment_id=attachment_id,
            upload=UploadFormOut(url=post["url"], fields=post["fields"]),
            expires_at=iso(expires),
            max_bytes=limit,
        )

    def verify_upload(self, upload: UploadState) -> int:
        """Check the stored object against what was signed; its real size. Raises InvalidRequest otherwise."""
        meta = self.files.head(upload.key)
        if meta is None:
            raise InvalidRequest("the file has not been uploaded", code=ErrorCode.ATTACHMENT_NOT_UPLOADED)
        size = int(meta["ContentLength"])
        if size > max_bytes_for(upload.kind) or size < 1:
            raise InvalidRequest("the uploaded file is over the size limit", code=ErrorCode.ATTACHMENT_TOO_LARGE)
        stored_type = (meta.get("ContentType") or "").split(";")[0].strip().lower()
        if stored_type != upload.content_type:
            raise InvalidRequest(
                "the uploaded file's type is not the one declared", code=ErrorCode.ATTACHMENT_TYPE_MISMATCH
            )
        if not _looks_like(upload.content_type, self.files.read_head(upload.key)):
            raise InvalidRequest(
                "the file's content does not match its declared type", code=ErrorCode.ATTACHMENT_TYPE_MISMATCH
            )
        return size

    def mark_attached(self, upload: UploadState) -> None:
        """Tag the objects as used, before the message commits (a leak beats losing a file)."""
        self.files.mark_attached(upload.stored_keys)

    def get_for(self, principal: Principal, attachment_id: str) -> AttachmentOut:
        """Fresh URLs for an attachment: for the conversation's participants once sent, for its uploader before."""
        try:
            upload = upload_state(Attachment.get(attachment_id, consistent_read=True))
        except Attachment.DoesNotExist:
            raise NotFound("attachment not found") from None
        if upload.message_id:
            try:
                get_conversation_by_id(upload.conversation_id, principal.user_id)
            except NotFound:
                # The same answer as for an id that does not exist: a stranger learns nothing.
                raise NotFound("attachment not found") from None
        elif upload.uploader_id != principal.user_id:
            raise NotFound("attachment not found")
        return self.presenter.attachment(
            attachment_snapshot(upload, int(upload.size or upload.declared_size)),
            conversation_id=upload.conversation_id,
            message_id=upload.message_id,
        )

    def process_upload(self, key: str) -> Processed | None:
        """Handle an uploaded original: make an image's served copy (no EXIF/GPS) and thumbnail, or reject it."""
        match = ORIGINAL_KEY.match(key)
        if not match:
            return None
        try:
            record = Attachment.get(match.group(2), consistent_read=True)
        except Attachment.DoesNotExist:
            return None
        if record.key != key or record.kind != IMAGE or record.status != PENDING:
            return None
        base = key.rsplit("/", 1)[0]
        actions: list[Any]
        try:
            data = self.files.read(key)
            if len(data) > max_bytes_for(IMAGE):
                raise ValueError("over the size limit")
            display, thumbnail, width, height = render(data, record.content_type, get_settings().thumbnail_max_px)
            _, served_type, extension = DISPLAY_FORMATS[record.content_type]
            display_key, thumbnail_key = f"{base}/display.{extension}", f"{base}/thumb.jpg"
            attached = bool(record.message_id)
            self.files.write(display_key, display, served_type, attached=attached)
            self.files.write(thumbnail_key, thumbnail, "image/jpeg", attached=attached)
            actions = [
                Attachment.status.set(READY),
                Attachment.width.set(width),
                Attachment.height.set(height),
                Attachment.display_key.set(display_key),
                Attachment.thumbnail_key.set(thumbnail_key),
            ]
        except ValueError as exc:
            actions = [Attachment.status.set(REJECTED), Attachment.reason.set(f"not a readable image: {exc}"[:200])]
        try:
            record.update(actions=actions, condition=Attachment.status == PENDING)
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return None  # another delivery of the same event (S3 may send one twice) got there first
            raise
        upload = upload_state(record)
        if not upload.message_id:
            return Processed(upload, None, None)
        # A message already uses it (the upload event came after the send): bring the message up to date.
        if upload.status == READY:
            self.files.mark_attached(upload.stored_keys)
        conversation_id, seq = parse_message_id(upload.message_id) or ("", 0)
        message = Message.get(conversation_id, seq, consistent_read=True)
        size = int((message.attachment or {}).get("size") or 0)
        message.update(actions=[Message.attachment.set(attachment_snapshot(upload, size))])
        conversation = conversation_state(Conversation.get(conversation_id, consistent_read=True))
        return Processed(upload, message, conversation)

    def on_uploaded(self, key: str) -> None:
        """The S3 ``ObjectCreated`` event of an original upload: process it, and when a message already uses it,
        tell the room."""
        processed = self.process_upload(key)
        if processed is None or processed.message is None or processed.conversation is None:
            return
        conversation = processed.conversation
        record = message_record(processed.message)
        shown = self.presenter.message(record, conversation.state_of(record.recipient_id))
        self.notifier.attachment_ready(shown, conversation)
