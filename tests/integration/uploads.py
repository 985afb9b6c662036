"""A client's upload: ask for a presigned POST, then POST the bytes to S3 (moto) as a browser would."""

from __future__ import annotations

import requests

from tests.integration.conftest import Api

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf_upload_request(conversation_id: str, size: int = len(PDF)) -> dict[str, object]:
    """The body of ``POST /api/attachments`` for a small PDF."""
    return {"conversationId": conversation_id, "fileName": "chart.pdf", "contentType": "application/pdf", "size": size}


def upload_pdf(api: Api, user: str, conversation_id: str) -> str:
    """Sign an upload of ``PDF`` into a conversation and store the bytes; the attachment id."""
    ticket = api.call("POST", "/api/attachments", user, pdf_upload_request(conversation_id))
    assert ticket.status == 201, ticket.body
    form = ticket.body["upload"]
    stored = requests.post(form["url"], data=form["fields"], files={"file": ("chart.pdf", PDF, "application/pdf")})
    assert stored.status_code in (200, 204), stored.text
    return ticket.body["attachmentId"]
