"""Attachments: sign an upload, verify it before a message uses it, process images, sign downloads.

S3's POST policy is the first gate (exact key, type, size); this module is the second, because moto
does not enforce POST policies and a client can lie about what it uploads.
"""

from __future__ import annotations

import io
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import UpdateError

from chalicelib.auth import Principal
from chalicelib.domain.clock import iso, now_iso, utc_now
from chalicelib.domain.files import DISPLAY_FORMATS, FILE, IMAGE, safe_file_name, sniff_image_type
from chalicelib.domain.ids import parse_message_id
from chalicelib.errors import Conflict, InvalidRequest, NotFound, PayloadTooLarge, ServiceUnavailable
from chalicelib.models import Attachment, Conversation, Message
from chalicelib.models.attachments import PENDING, READY, REJECTED
from chalicelib.schemas.requests import UploadRequest
from chalicelib.services import rate_limits
from chalicelib.services.attachment_urls import wire_fields
from chalicelib.services.conversations import get_conversation_by_id
from chalicelib.services.transactions import commit
from chalicelib.settings import get_settings
from chalicelib.storage import s3

ORIGINAL_KEY = re.compile(r"^conversations/(conv_[a-z2-7]{26})/(att_[A-Za-z0-9_-]{24})/original$")
_FILE_MAGIC = {"application/pdf": (b"%PDF-",), "application/zip": (b"PK\x03\x04", b"PK\x05\x06")}
MAX_IMAGE_PIXELS = 40_000_000


@dataclass
class UploadTicket:
    attachment_id: str
    url: str
    fields: dict[str, str]
    expires_at: str
    max_bytes: int


def _storage_error(exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(
        "file storage is unavailable, retry the request",
        code="storage_unavailable",
        details={"cause": type(exc).__name__},
    )


def kind_of(content_type: str) -> str:
    settings = get_settings()
    if content_type in settings.image_types:
        return IMAGE
    if content_type in settings.file_types:
        return FILE
    allowed = ", ".join(settings.image_types + settings.file_types)
    raise InvalidRequest(f"this file type is not accepted; use one of: {allowed}", code="unsupported_attachment_type")


def max_bytes_for(kind: str) -> int:
    settings = get_settings()
    return settings.image_max_bytes if kind == IMAGE else settings.file_max_bytes


def request_upload(principal: Principal, request: UploadRequest) -> UploadTicket:
    """Sign a one-object upload into a conversation the caller takes part in (2 DynamoDB round trips)."""
    conversation = get_conversation_by_id(request.conversation_id, principal.user_id)
    kind = kind_of(request.content_type)
    limit = max_bytes_for(kind)
    if request.size > limit:
        raise PayloadTooLarge(f"{kind}s are limited to {limit} bytes", code="attachment_too_large")
    attachment_id = "att_" + secrets.token_urlsafe(18)
    key = f"conversations/{conversation.id}/{attachment_id}/original"
    try:
        post = s3.presign_upload(key, request.content_type, limit)
    except (BotoCoreError, ClientError) as exc:
        raise _storage_error(exc) from exc
    settings = get_settings()
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
        created_at=now_iso(),
        expires_at=timedelta(days=1),
    )

    def build(transaction: Any) -> None:
        rate_limits.charge(transaction, principal.user_id, "presign")
        transaction.save(record)

    commit(build)
    expires = utc_now() + timedelta(seconds=settings.upload_url_ttl_seconds)
    return UploadTicket(attachment_id, post["url"], post["fields"], iso(expires), limit)


def _looks_like(content_type: str, head: bytes) -> bool:
    if content_type.startswith("image/"):
        return sniff_image_type(head) == content_type
    if content_type in _FILE_MAGIC:
        return head.startswith(_FILE_MAGIC[content_type])
    if content_type == "text/plain":
        return b"\x00" not in head
    return True


def verify_upload(record: Attachment) -> int:
    """Check the stored object against what was signed; its real size. Raises InvalidRequest otherwise."""
    try:
        meta = s3.head(record.key)
        if meta is None:
            raise InvalidRequest("the file has not been uploaded", code="attachment_not_uploaded")
        size = int(meta["ContentLength"])
        if size > max_bytes_for(record.kind) or size < 1:
            raise InvalidRequest("the uploaded file is over the size limit", code="attachment_too_large")
        stored_type = (meta.get("ContentType") or "").split(";")[0].strip().lower()
        if stored_type != record.content_type:
            raise InvalidRequest("the uploaded file's type is not the one declared", code="attachment_type_mismatch")
        if not _looks_like(record.content_type, s3.read_head(record.key)):
            raise InvalidRequest("the file's content does not match its declared type", code="attachment_type_mismatch")
    except (BotoCoreError, ClientError) as exc:
        raise _storage_error(exc) from exc
    return size


def check_attachable(record: Attachment | None, sender: str, conversation_id: str) -> Attachment:
    """``record`` if ``sender`` may attach it to a message in ``conversation_id`` now."""
    if record is None or record.uploader_id != sender or record.conversation_id != conversation_id:
        # Another user's or another conversation's upload looks exactly like a missing one.
        raise InvalidRequest("unknown attachment", code="attachment_not_found")
    if record.message_id:
        raise Conflict("this attachment is already part of a message", code="attachment_already_used")
    if record.status == REJECTED:
        raise InvalidRequest(f"the file was rejected: {record.reason or 'unreadable'}", code="attachment_rejected")
    return record


def snapshot(record: Attachment, size: int) -> dict[str, Any]:
    """What a message keeps of its attachment (the keys too: deleting a conversation finds its objects)."""
    return {
        "id": record.id,
        "kind": record.kind,
        "name": record.file_name,
        "contentType": record.content_type,
        "size": size,
        "key": record.key,
        "status": record.status,
        "width": record.width,
        "height": record.height,
        "displayKey": record.display_key,
        "thumbnailKey": record.thumbnail_key,
    }


def stored_keys(record: Attachment) -> list[str]:
    return [key for key in (record.key, record.display_key, record.thumbnail_key) if key]


def mark_attached(record: Attachment) -> None:
    """Tag the objects as used, before the message commits (a leak beats losing a file)."""
    try:
        s3.mark_attached(stored_keys(record))
    except (BotoCoreError, ClientError) as exc:
        raise _storage_error(exc) from exc


def get_attachment_for(principal: Principal, attachment_id: str) -> dict[str, Any]:
    """Fresh URLs for an attachment: for the conversation's participants once sent, for its uploader before."""
    try:
        record = Attachment.get(attachment_id, consistent_read=True)
    except Attachment.DoesNotExist:
        raise NotFound("attachment not found") from None
    if record.message_id:
        try:
            get_conversation_by_id(record.conversation_id, principal.user_id)
        except NotFound:
            # The same answer as for an id that does not exist: a stranger learns nothing.
            raise NotFound("attachment not found") from None
    elif record.uploader_id != principal.user_id:
        raise NotFound("attachment not found")
    return {
        "message_id": record.message_id,
        "conversation_id": record.conversation_id,
        **wire_fields(snapshot(record, int(record.size or record.declared_size))),
    }


# --- image processing (the S3 upload event) -----------------------------------------------------------


@dataclass
class Processed:
    record: Attachment
    message: Message | None
    conversation: Conversation | None


def _render(data: bytes, declared: str, max_px: int) -> tuple[bytes, bytes, int, int]:
    """(display image re-encoded without metadata, JPEG thumbnail, width, height); ValueError if unreadable."""
    from PIL import Image, ImageOps

    if declared == "image/heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as opened:
            expected = {
                "image/jpeg": "JPEG",
                "image/png": "PNG",
                "image/gif": "GIF",
                "image/webp": "WEBP",
                "image/heic": "HEIF",
            }[declared]
            if opened.format != expected:
                raise ValueError(f"an image of type {opened.format}, not {declared}")
            opened.load()
            animated = declared == "image/gif" and getattr(opened, "n_frames", 1) > 1
            image = ImageOps.exif_transpose(opened)  # apply the orientation before the EXIF goes
            pillow_format, _, _ = DISPLAY_FORMATS[declared]
            display = io.BytesIO()
            if animated:
                # Frames re-encoded without the source's info dict: no comments, no metadata.
                opened.seek(0)
                opened.save(display, format="GIF", save_all=True, loop=opened.info.get("loop", 0))
            else:
                clean = image.convert("RGB") if pillow_format == "JPEG" and image.mode not in ("RGB", "L") else image
                clean.save(display, format=pillow_format, **({"quality": 88} if pillow_format != "PNG" else {}))
            thumb = image.convert("RGBA") if image.mode in ("P", "LA", "RGBA") else image.convert("RGB")
            thumb.thumbnail((max_px, max_px))
            if thumb.mode == "RGBA":
                background = Image.new("RGB", thumb.size, (255, 255, 255))
                background.paste(thumb, mask=thumb.split()[-1])
                thumb = background
            thumbnail = io.BytesIO()
            thumb.save(thumbnail, format="JPEG", quality=80)
            return display.getvalue(), thumbnail.getvalue(), image.width, image.height
    except Image.DecompressionBombError as exc:
        raise ValueError("too many pixels") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError("the image cannot be decoded") from exc


def process_upload(key: str) -> Processed | None:
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
        data = s3.read(key)
        if len(data) > max_bytes_for(IMAGE):
            raise ValueError("over the size limit")
        display, thumbnail, width, height = _render(data, record.content_type, get_settings().thumbnail_max_px)
        _, served_type, extension = DISPLAY_FORMATS[record.content_type]
        display_key, thumbnail_key = f"{base}/display.{extension}", f"{base}/thumb.jpg"
        attached = bool(record.message_id)
        s3.write(display_key, display, served_type, attached=attached)
        s3.write(thumbnail_key, thumbnail, "image/jpeg", attached=attached)
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
    if not record.message_id:
        return Processed(record, None, None)
    # A message already uses it (the upload event came after the send): bring the message up to date.
    if record.status == READY:
        s3.mark_attached(stored_keys(record))
    conversation_id, seq = parse_message_id(record.message_id) or ("", 0)
    message = Message.get(conversation_id, seq, consistent_read=True)
    message.update(actions=[Message.attachment.set(snapshot(record, int(message.attachment.get("size") or 0)))])
    return Processed(record, message, Conversation.get(conversation_id, consistent_read=True))
