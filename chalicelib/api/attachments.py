"""``/api/attachments``: sign an upload (presigned POST) and refresh download URLs."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.http import json_response, parse, read_json_body, route
from chalicelib.auth import Principal
from chalicelib.schemas.requests import UploadRequest
from chalicelib.schemas.responses import AttachmentOut, UploadTicketOut
from chalicelib.services import attachments

blueprint = Blueprint(__name__)


@route(blueprint, "/attachments", "POST", body=UploadRequest, responses={201: UploadTicketOut})
def request_upload(request: Any, principal: Principal) -> Response:
    """A presigned POST for one file into a conversation the caller takes part in."""
    body = parse(UploadRequest, read_json_body(request))
    ticket = attachments.request_upload(principal, body)
    return json_response(
        {
            "attachmentId": ticket.attachment_id,
            "upload": {"url": ticket.url, "fields": ticket.fields},
            "expiresAt": ticket.expires_at,
            "maxBytes": ticket.max_bytes,
        },
        201,
    )


@route(blueprint, "/attachments/{attachment_id}", "GET", responses={200: AttachmentOut})
def get_attachment(request: Any, principal: Principal, attachment_id: str) -> Response:
    """Freshly signed URLs of an attachment (participants of its conversation; its uploader before sending)."""
    return json_response(AttachmentOut(**attachments.get_attachment_for(principal, attachment_id)).wire())
