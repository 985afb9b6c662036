"""An upload on its way into a message: who may attach it where, and what the message keeps of it.

The original (``.../original``) stays writable by its uploader for as long as the presigned POST is valid, so it is
never what a message serves: an image is served as the copies processing made from it, a file as the copy the send
made of the version it verified (``verified_key``). What processing reads is pinned to the ETag the server saw
first (``verified_etag``). Those server-written objects are what a message uses; the original is left to expire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.files import FILE, IMAGE
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
    verified_key: str | None = None  # a file: the server's copy of the verified original, the one served
    verified_etag: str | None = None  # the original's ETag when the server first checked it
    deleted_at: str | None = None  # its message was deleted

    @property
    def used_keys(self) -> list[str]:
        """The objects a message with this upload serves (nothing of a rejected one; never the original)."""
        if self.status == REJECTED:
            return []
        if self.kind == FILE:
            return [self.verified_key] if self.verified_key else []
        return [key for key in (self.display_key, self.thumbnail_key) if key]


@dataclass(frozen=True)
class Verified:
    """What a send checked of an upload before its message uses it."""

    size: int  # the stored object's real size, equal to the declared one
    etag: str | None = None  # the original's ETag as checked (what processing must read, if it has not yet)
    copy_key: str | None = None  # a file: the server's copy of exactly that object


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


def snapshot_keys(snapshot: Mapping[str, Any]) -> list[str]:
    """Every stored object of an attachment as a message keeps it (``attachment_snapshot``): what deleting the
    message releases to the lifecycle rule."""
    fields = ("key", "verifiedKey", "displayKey", "thumbnailKey")
    return [snapshot[field] for field in fields if snapshot.get(field)]


def attachment_snapshot(upload: UploadState, verified: Verified | None = None) -> dict[str, Any]:
    """What a message keeps of its attachment (the keys too: deleting a conversation finds its objects)."""
    return {
        "id": upload.id,
        "kind": upload.kind,
        "name": upload.file_name,
        "contentType": upload.content_type,
        "size": verified.size if verified is not None else int(upload.size or upload.declared_size),
        "key": upload.key,
        "verifiedKey": (verified.copy_key if verified is not None else None) or upload.verified_key,
        "status": upload.status,
        "width": upload.width,
        "height": upload.height,
        "displayKey": upload.display_key,
        "thumbnailKey": upload.thumbnail_key,
    }


def served_keys(snapshot: Mapping[str, Any] | None) -> list[str]:
    """The objects a message's attachment (its snapshot) serves: what must stay tagged attached."""
    if not snapshot or snapshot.get("status") == REJECTED:
        return []
    if snapshot.get("kind") == IMAGE:
        return [key for key in (snapshot.get("displayKey"), snapshot.get("thumbnailKey")) if key]
    return [snapshot["verifiedKey"]] if snapshot.get("verifiedKey") else []
