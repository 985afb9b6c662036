"""``/api/attachments``: sign an upload (presigned POST) and refresh download URLs."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.bootstrap import preload, services
from chalicelib.domain.ids import is_attachment_id
from chalicelib.domain.principal import Principal
from chalicelib.entrypoints.http.routing import Answer, path_id, read_json_body, route
from chalicelib.entrypoints.parsing import parse
from chalicelib.schemas.requests import UploadRequest
from chalicelib.schemas.responses import AttachmentOut, UploadTicketOut

# This function's init loads the use cases its handlers call (built on first use: bootstrap.preload).
preload("attachments")

blueprint = Blueprint(__name__)
TAG = "attachments"


@route(
    blueprint,
    "/attachments",
    "POST",
    operation_id="createUpload",
    tag=TAG,
    body=UploadRequest,
    responses={201: UploadTicketOut},
    errors={429},
)
def create_upload(request: Any, principal: Principal) -> Answer:
    """A presigned POST for one file into a conversation the caller takes part in."""
    body = parse(UploadRequest, read_json_body(request))
    return services().attachments.request_upload(principal, body), 201


@route(
    blueprint,
    "/attachments/{attachmentId}",
    "GET",
    operation_id="getAttachment",
    tag=TAG,
    responses={200: AttachmentOut},
)
def get_attachment(request: Any, principal: Principal, attachmentId: str) -> Answer:
    """Freshly signed URLs of an attachment (participants of its conversation; its uploader before sending)."""
    return services().attachments.get_for(principal, path_id(attachmentId, is_attachment_id, "attachment"))
