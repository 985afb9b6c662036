"""An upload on its way into a message: who may attach it where, and what the message keeps of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.errors import Conflict, ErrorCode, InvalidRequest

PENDING, READY, REJECTED = "pending", "ready", "rejected"


@dataclass(frozen=True)
class UploadState:
    """What the server knows of an upload requested through ``POST /api/attachments``."""

    id: str
    conversation_id: str
    uploader_id: str
    key: str
    kind: str  # "image" | "file"
    content_type: str
    file_name: str
    declared_size: int
    status: str = PENDING
    reason: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    display_key: str | None = None
    thumbnail_key: str | None = None
    message_id: str | None = None

    @property
    def stored_keys(self) -> list[str]:
        return [key for key in (self.key, self.display_key, self.thumbnail_key) if key]


def check_attachable(upload: UploadState | None, sender: str, conversation_id: str) -> UploadState:
    """``upload`` if ``sender`` may attach it to a message in ``conversation_id`` now."""
    if upload is None or upload.uploader_id != sender or upload.conversation_id != conversation_id:
        # Another user's or another conversation's upload looks exactly like a missing one.
        raise InvalidRequest("unknown attachment", code=ErrorCode.ATTACHMENT_NOT_FOUND)
    if upload.message_id:
        raise Conflict("this attachment is already part of a message", code=ErrorCode.ATTACHMENT_ALREADY_USED)
    if upload.status == REJECTED:
        raise InvalidRequest(
            f"the file was rejected: {upload.reason or 'unreadable'}", code=ErrorCode.ATTACHMENT_REJECTED
        )
    return upload


def attachment_snapshot(upload: UploadState, size: int) -> dict[str, Any]:
    """What a message keeps of its attachment (the keys too: deleting a conversation finds its objects)."""
    return {
        "id": upload.id,
        "kind": upload.kind,
        "name": upload.file_name,
        "contentType": upload.content_type,
        "size": size,
        "key": upload.key,
        "status": upload.status,
        "width": upload.width,
        "height": upload.height,
        "displayKey": upload.display_key,
        "thumbnailKey": upload.thumbnail_key,
    }
