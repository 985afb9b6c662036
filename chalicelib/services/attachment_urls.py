"""A message's attachment as the wire shows it, with download URLs signed for the viewer."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.files import DISPLAY_FORMATS, FILE, IMAGE
from chalicelib.errors import ServiceUnavailable
from chalicelib.models.attachments import PENDING, READY, REJECTED
from chalicelib.storage import s3


def _status(kind: str | None, status: str | None) -> str | None:
    if status == REJECTED:
        return "rejected"
    if kind == IMAGE and status == PENDING:
        return "processing"  # served once the metadata-free copy exists
    return "ready"


def wire_fields(attachment: dict[str, Any] | None) -> dict[str, Any]:
    """A message's attachment fields, with freshly signed URLs (callers only show participants messages)."""
    try:
        return _wire_fields(attachment)
    except (BotoCoreError, ClientError) as exc:
        # Signing needs credentials and a configured endpoint; without them the client should retry.
        raise ServiceUnavailable(
            "file storage is unavailable, retry the request",
            code="storage_unavailable",
            details={"cause": type(exc).__name__},
        ) from exc


def _wire_fields(attachment: dict[str, Any] | None) -> dict[str, Any]:
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
    if status != "ready":
        return fields
    if kind == FILE:
        # Anything that is not an image downloads; it is never rendered by the browser.
        fields["attachment_url"] = s3.presign_download(
            attachment["key"], attachment["contentType"], file_name=attachment.get("name"), inline=False
        )
    elif kind == IMAGE and attachment.get("status") == READY:
        served_type = DISPLAY_FORMATS[attachment["contentType"]][1]
        fields["attachment_url"] = s3.presign_download(
            attachment["displayKey"], served_type, file_name=None, inline=True
        )
        fields["thumbnail_url"] = s3.presign_download(
            attachment["thumbnailKey"], "image/jpeg", file_name=None, inline=True
        )
        fields["width"], fields["height"] = attachment.get("width"), attachment.get("height")
    return fields
