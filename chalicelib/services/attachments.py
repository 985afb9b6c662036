"""Attachments: sign an upload, verify it before a message uses it, process images, sign downloads.

S3's POST policy is the first gate (exact key, type, size); this module is the second, because moto
does not enforce POST policies and a client can lie about what it uploads.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib import metrics
from chalicelib.adapters.dynamodb import Attachment, Message
from chalicelib.adapters.dynamodb.conversations import Conversation
from chalicelib.adapters.dynamodb.rate_limits import charge
from chalicelib.adapters.dynamodb.records import bump_version, conversation_state, message_record, upload_state
from chalicelib.adapters.dynamodb.transactions import commit
from chalicelib.domain.clock import iso
from chalicelib.domain.conversations import ConversationState
from chalicelib.domain.files import DISPLAY_FORMATS, FILE, IMAGE, safe_file_name, sniff_image_type
from chalicelib.domain.ids import parse_message_id
from chalicelib.domain.images import ImageLimits, ImageRejected, OverLimits, render
from chalicelib.domain.principal import Principal
from chalicelib.domain.uploads import (
    PENDING,
    READY,
    REJECTED,
    UploadState,
    Verified,
    attachment_snapshot,
    served_keys,
)
from chalicelib.errors import (
    ErrorCode,
    FileStorageError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
)
from chalicelib.schemas.requests import UploadRequest
from chalicelib.schemas.responses import AttachmentOut, UploadFormOut, UploadTicketOut
from chalicelib.services.conversations import get_conversation_by_id
from chalicelib.services.notify import Notifier
from chalicelib.services.ports import Clock, Files, Queue
from chalicelib.services.presenters import Presenter
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)

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

    def __init__(
        self, files: Files, presenter: Presenter, notifier: Notifier, clock: Clock, failures: Queue | None = None
    ) -> None:
        self.files = files
        self.presenter = presenter
        self.notifier = notifier
        self.clock = clock
        self.failures = failures  # the upload-failures queue: what could not be settled now is settled from there

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

    def verify_upload(self, upload: UploadState) -> Verified:
        """Check the upload against what was signed, before a message uses it (InvalidRequest otherwise).

        A processed image needs no look at S3: its message serves the copies processing made from the bytes it read.
        Anything else is checked on the stored object (size, equal to the declared one; type; first bytes), and a
        file is copied, server-side, to a key no client can write: the copy is what its message serves, the
        original stays writable by the uploader as long as the presigned POST is valid.
        """
        if upload.kind == IMAGE and upload.status == READY and upload.size is not None:
            _check_size(upload, upload.size)
            return Verified(upload.size)
        meta = self.files.head(upload.key)
        if meta is None:
            raise InvalidRequest("the file has not been uploaded", code=ErrorCode.ATTACHMENT_NOT_UPLOADED)
        size = int(meta["ContentLength"])
        _check_size(upload, size)
        stored_type = (meta.get("ContentType") or "").split(";")[0].strip().lower()
        if stored_type != upload.content_type:
            raise InvalidRequest(
                "the uploaded file's type is not the one declared", code=ErrorCode.ATTACHMENT_TYPE_MISMATCH
            )
        etag = str(meta["ETag"])
        checked_key, copy_key = upload.key, None
        if upload.kind == FILE:
            copy_key = checked_key = f"{upload.key.rsplit('/', 1)[0]}/verified-{secrets.token_hex(8)}"
            if not self.files.copy(upload.key, copy_key, etag=etag):
                raise ServiceUnavailable(
                    "the file changed while it was being checked; send it again", code=ErrorCode.CONTENTION
                )
        if not _looks_like(upload.content_type, self.files.read_head(checked_key)):
            raise InvalidRequest(
                "the file's content does not match its declared type", code=ErrorCode.ATTACHMENT_TYPE_MISMATCH
            )
        # A processed image keeps what processing read; one still pending is processed from this version only.
        return Verified(size, etag=None if upload.status == READY else etag, copy_key=copy_key)

    def attach(self, attachment_id: str, snapshot: Mapping[str, Any] | None) -> None:
        """After a send committed: tag what its message serves (from the committed snapshot) as attached, so the
        lifecycle rule for abandoned uploads leaves it alone. An image still being processed has nothing served yet:
        processing tags its copies when the record it writes shows the message.

        When S3 fails here, the upload-failures queue gets the attachment to settle later from its record (a send
        that was refused never gets here: nothing unreferenced is ever tagged attached).
        """
        keys = served_keys(snapshot)
        if not keys:
            return
        try:
            self.files.mark_attached(keys)
        except FileStorageError:
            if self.failures is None:
                raise
            logger.warning("tagging a sent attachment failed; it is settled later", extra={"attachment": attachment_id})
            self.failures.send({"settle": {"attachmentId": attachment_id}})

    def get_for(self, principal: Principal, attachment_id: str) -> AttachmentOut:
        """Fresh URLs for an attachment: for the conversation's participants once sent, for its uploader before."""
        try:
            upload = upload_state(Attachment.get(attachment_id, consistent_read=True))
        except Attachment.DoesNotExist:
            raise NotFound("attachment not found") from None
        if upload.deleted_at:
            raise NotFound("attachment not found")  # its message was deleted: gone for everyone
        if upload.message_id:
            try:
                get_conversation_by_id(upload.conversation_id, principal.user_id)
            except NotFound:
                # The same answer as for an id that does not exist: a stranger learns nothing.
                raise NotFound("attachment not found") from None
        elif upload.uploader_id != principal.user_id:
            raise NotFound("attachment not found")
        return self.presenter.attachment(
            attachment_snapshot(upload),
            conversation_id=upload.conversation_id,
            message_id=upload.message_id,
        )

    def process_upload(self, key: str) -> Processed | None:
        """Handle an uploaded original: make an image's served copy (no EXIF/GPS) and thumbnail, or reject it.

        What is read is pinned: a send that came first recorded the ETag it checked, and only that version is
        processed (another one is rejected: the file changed after it was sent); otherwise the version read is
        recorded with the result, and the send then uses that. The record decides, with one conditional update;
        whoever loses it (a second delivery of the event, a send pinning another version meanwhile) reads it again.
        A redelivery of a finished upload only brings its message up to date.
        """
        match = ORIGINAL_KEY.match(key)
        if not match:
            return None
        record = _attachment(match.group(2))
        if record is None or record.key != key or record.kind != IMAGE:
            return None
        for _ in range(3):  # a version is pinned once and the status leaves pending once: two rounds at most
            if record.deleted_at:
                return None  # its message was deleted: nothing of it is served any more
            if record.status != PENDING:
                break
            actions, condition = self._process(record)
            try:
                not_deleted = Attachment.deleted_at.does_not_exist()
                record.update(actions=actions, condition=(Attachment.status == PENDING) & condition & not_deleted)
            except UpdateError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
                record = _attachment(record.id) or record  # processed meanwhile, or pinned to another version
                continue
            if record.status == REJECTED:
                metrics.count(metrics.UPLOADS_REJECTED)
            break
        return self._settle(upload_state(record))

    def _process(self, record: Attachment) -> tuple[list[Any], Any]:
        """The update processing makes of a pending image, and the condition on the version it read."""
        pinned = record.verified_etag
        found = self.files.read(record.key, etag=pinned)
        if found is None:
            reason = "the file changed after it was sent" if pinned else "the file is gone"
            return _rejection(reason), _version_is(pinned)
        data, etag = found
        settings = get_settings()
        limits = ImageLimits(settings.image_max_pixels, settings.image_max_frames, settings.image_max_animation_pixels)
        try:
            if len(data) > max_bytes_for(IMAGE):
                raise ImageRejected("over the size limit")
            display, thumbnail, width, height = render(data, record.content_type, settings.thumbnail_max_px, limits)
        except OverLimits as exc:
            return _rejection(f"over the image limits: {exc}"), _version_is(etag, first=True)
        except ImageRejected as exc:
            return _rejection(f"not a readable image: {exc}"), _version_is(etag, first=True)
        _, served_type, extension = DISPLAY_FORMATS[record.content_type]
        # Keys of this run only: a concurrent run of the same upload never overwrites (or re-tags) what the record
        # ends up naming. Written pending; tagged attached once the record names them and shows a message.
        base, run = record.key.rsplit("/", 1)[0], secrets.token_hex(6)
        display_key, thumbnail_key = f"{base}/display-{run}.{extension}", f"{base}/thumb-{run}.jpg"
        self.files.write(display_key, display, served_type, attached=False)
        self.files.write(thumbnail_key, thumbnail, "image/jpeg", attached=False)
        actions = [
            Attachment.status.set(READY),
            Attachment.width.set(width),
            Attachment.height.set(height),
            Attachment.display_key.set(display_key),
            Attachment.thumbnail_key.set(thumbnail_key),
            Attachment.size.set(len(data)),
            Attachment.verified_etag.set(etag),
        ]
        return actions, _version_is(etag, first=True)

    def fail_processing(self, key: str, reason: str) -> Processed | None:
        """Processing of an upload did not finish (it failed or timed out, after Lambda's retries): the upload is
        rejected, unless it finished meanwhile, and a message using it is brought up to date. Idempotent: a
        redelivery finds the record settled and changes nothing."""
        match = ORIGINAL_KEY.match(key)
        record = _attachment(match.group(2)) if match else None
        if record is None or record.key != key or record.kind != IMAGE:
            return None
        for _ in range(3):
            if record.deleted_at:
                return None
            if record.status != PENDING:
                break
            try:
                condition = (Attachment.status == PENDING) & Attachment.deleted_at.does_not_exist()
                record.update(actions=_rejection(reason), condition=condition)
            except UpdateError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
                record = _attachment(record.id) or record
                continue
            metrics.count(metrics.UPLOADS_REJECTED)
            break
        return self._settle(upload_state(record))

    def settle(self, attachment_id: str) -> Processed | None:
        """Bring what a message serves up to its upload's committed record: tags, and the message's copy."""
        record = _attachment(attachment_id)
        return self._settle(upload_state(record)) if record is not None else None

    def _settle(self, upload: UploadState) -> Processed:
        """Tag what the upload's message serves as attached and bring the message's copy of the upload up to date;
        the message and its conversation only when this changed the message (the room is then told). A deleted
        message's upload is left alone: deleting released its objects to the lifecycle rule."""
        if upload.deleted_at:
            return Processed(upload, None, None)
        if not upload.message_id:
            return Processed(upload, None, None)
        if upload.used_keys:
            self.files.mark_attached(upload.used_keys)
        conversation_id, seq = parse_message_id(upload.message_id) or ("", 0)
        message = Message.get(conversation_id, seq, consistent_read=True)
        shown = dict(message.attachment or {})
        wanted = attachment_snapshot(upload)
        if all(shown.get(field) == wanted[field] for field in _SETTLED_FIELDS):
            return Processed(upload, None, None)  # already up to date: a redelivery, or the send saw it finished
        try:
            # A change of the message: its version grows (never a deleted message's: its attachment is gone).
            message.update(
                actions=[Message.attachment.set({**wanted, "size": shown.get("size", wanted["size"])}), bump_version()],
                condition=Message.deleted_at.does_not_exist(),
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return Processed(upload, None, None)
            raise
        conversation = conversation_state(Conversation.get(conversation_id, consistent_read=True))
        return Processed(upload, message, conversation)

    def on_uploaded(self, key: str) -> None:
        """The S3 ``ObjectCreated`` event of an original upload: process it, and when a message already uses it,
        tell the room."""
        self._tell_room(self.process_upload(key))

    def on_processing_failed(self, key: str, reason: str) -> None:
        """The upload's processing failed for good (on_upload's dead-letter queue): reject it, tell the room."""
        self._tell_room(self.fail_processing(key, reason))

    def on_settle(self, attachment_id: str) -> None:
        self._tell_room(self.settle(attachment_id))

    def _tell_room(self, processed: Processed | None) -> None:
        if processed is None or processed.message is None or processed.conversation is None:
            return
        conversation = processed.conversation
        record = message_record(processed.message)
        original = None
        if record.reply_to is not None:  # a reply shows what it quotes as it is now
            with contextlib.suppress(Message.DoesNotExist):
                quoted = Message.get(record.conversation_id, record.reply_to.seq, consistent_read=True)
                original = message_record(quoted)
        shown = self.presenter.message(record, conversation.state_of(record.recipient_id), original=original)
        self.notifier.attachment_ready(shown, conversation)


# What processing (or giving up on it) changes in a message's copy of its upload.
_SETTLED_FIELDS = ("status", "width", "height", "displayKey", "thumbnailKey", "verifiedKey")


def _check_size(upload: UploadState, size: int) -> None:
    if size > max_bytes_for(upload.kind) or size < 1:
        raise InvalidRequest("the uploaded file is over the size limit", code=ErrorCode.ATTACHMENT_TOO_LARGE)
    if size != upload.declared_size:
        raise InvalidRequest(
            f"the uploaded file has {size} bytes, not the {upload.declared_size} declared",
            code=ErrorCode.ATTACHMENT_SIZE_MISMATCH,
        )


def _attachment(attachment_id: str) -> Attachment | None:
    try:
        return Attachment.get(attachment_id, consistent_read=True)
    except Attachment.DoesNotExist:
        return None


def _rejection(reason: str) -> list[Any]:
    return [Attachment.status.set(REJECTED), Attachment.reason.set(reason[:200])]


def _version_is(etag: str | None, *, first: bool = False) -> Any:
    """The record pins ``etag`` (or, with ``first``, pins nothing yet: this version becomes the pinned one)."""
    if etag is None:
        return Attachment.verified_etag.does_not_exist()
    if first:
        return Attachment.verified_etag.does_not_exist() | (Attachment.verified_etag == etag)
    return Attachment.verified_etag == etag
