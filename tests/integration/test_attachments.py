"""Attachments: presigned POST, verification before a message uses an upload, image processing, downloads."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from PIL import Image

from chalicelib.adapters.dynamodb import Attachment, Message
from chalicelib.adapters.files import S3Files
from chalicelib.bootstrap import services
from chalicelib.domain.ids import conversation_id_for
from chalicelib.settings import get_settings
from tests.integration.conftest import Api
from tests.integration.sockets import Sockets

BLANKET = conversation_id_for("alice", "bob", "p1")
GPS_IFD = 0x8825


def jpeg_with_gps(width: int = 800, height: int = 600) -> bytes:
    """A real JPEG whose EXIF says where it was taken (what must never reach the other participant)."""
    image = Image.new("RGB", (width, height), (200, 80, 120))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def png(width: int = 64, height: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 128, 255, 128)).save(out, format="PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Uploads:
    """The client's side of an upload: ask for a presigned POST, then POST the bytes to S3."""

    def __init__(self, api: Api, sockets: Sockets) -> None:
        self.api, self.sockets = api, sockets

    def ticket(self, user: str, conversation_id: str, name: str, content_type: str, size: int) -> Any:
        body = {"conversationId": conversation_id, "fileName": name, "contentType": content_type, "size": size}
        return self.api.call("POST", "/api/attachments", user, body)

    def upload(
        self,
        user: str,
        data: bytes,
        content_type: str,
        name: str = "photo.jpg",
        conversation_id: str = BLANKET,
        declared: str | None = None,
        process: bool = True,
    ) -> str:
        """Sign, upload with a real HTTP client, and (unless told not to) run the S3 upload event."""
        ticket = self.ticket(user, conversation_id, name, declared or content_type, len(data))
        assert ticket.status == 201, ticket.body
        upload = ticket.body["upload"]
        response = requests.post(upload["url"], data=upload["fields"], files={"file": (name, data, content_type)})
        assert response.status_code in (200, 204), response.text
        if process:
            self.uploaded(upload["fields"]["key"])
        return ticket.body["attachmentId"]

    def uploaded(self, key: str) -> None:
        event = self.sockets.client.events.generate_s3_event(bucket=get_settings().attachments_bucket, key=key)
        self.sockets.client.lambda_.invoke("on_upload", event)

    def send(self, user: str, attachment_id: str, content: str = "", conversation_id: str = BLANKET) -> Any:
        return self.api.send(
            user, conversationId=conversation_id, content=content, attachment={"attachmentId": attachment_id}
        )


# --- the presigned POST ------------------------------------------------------------------------------


def test_presign_pins_key_type_size_and_signs_with_sigv4(uploads: Uploads) -> None:
    ticket = uploads.ticket("bob", BLANKET, "../../etc/My Photo.JPG", "image/jpeg", 12345)

    assert ticket.status == 201
    body = ticket.body
    fields = body["upload"]["fields"]
    key = fields["key"]
    assert key == f"conversations/{BLANKET}/{body['attachmentId']}/original"
    assert len(body["attachmentId"]) == 28 and body["attachmentId"].startswith("att_")
    assert fields["Content-Type"] == "image/jpeg"
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"bucket": get_settings().attachments_bucket} in conditions
    assert {"key": key} in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert ["content-length-range", 1, 10 * 1024 * 1024] in conditions
    assert {"tagging": fields["tagging"]} in conditions and "pending" in fields["tagging"]
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert 0 < (expires - datetime.now(UTC)).total_seconds() <= 300
    assert body["expiresAt"].endswith("Z") and body["maxBytes"] == 10 * 1024 * 1024
    assert Attachment.get(body["attachmentId"]).file_name == "My Photo.JPG"


def test_every_presign_gets_a_fresh_unguessable_key(uploads: Uploads) -> None:
    keys = {uploads.ticket("bob", BLANKET, "a.png", "image/png", 10).body["upload"]["fields"]["key"] for _ in range(5)}

    assert len(keys) == 5


@pytest.mark.parametrize(
    ("user", "body", "status", "code"),
    [
        ("carol", {"contentType": "image/png", "size": 10}, 404, "not_found"),
        (
            "bob",
            {"conversationId": "conv_aaaaaaaaaaaaaaaaaaaaaaaaaa", "contentType": "image/png", "size": 10},
            404,
            "not_found",
        ),
        ("bob", {"contentType": "image/svg+xml", "size": 10}, 400, "unsupported_attachment_type"),
        ("bob", {"contentType": "application/x-msdownload", "size": 10}, 400, "unsupported_attachment_type"),
        ("bob", {"contentType": "image/png", "size": 10 * 1024 * 1024 + 1}, 413, "attachment_too_large"),
        ("bob", {"contentType": "application/pdf", "size": 25 * 1024 * 1024 + 1}, 413, "attachment_too_large"),
        ("bob", {"contentType": "image/png", "size": 0}, 400, "invalid_request"),
        ("bob", {"contentType": "image/png", "size": 10, "key": "mine"}, 400, "invalid_request"),
    ],
)
def test_presign_refusals(uploads: Uploads, user: str, body: dict, status: int, code: str) -> None:
    payload = {"conversationId": BLANKET, "fileName": "f", **body}

    response = uploads.api.call("POST", "/api/attachments", user, payload)

    assert response.status == status, response.body
    assert response.body["error"]["code"] == code


# --- images: processed, stripped, thumbnailed ------------------------------------------------------------


def test_photo_flow_strips_gps_and_makes_a_thumbnail(uploads: Uploads) -> None:
    attachment_id = uploads.upload("bob", jpeg_with_gps(), "image/jpeg", "IMG_0042.jpg")

    sent = uploads.send("bob", attachment_id, "  ")

    assert sent.status == 201, sent.body
    message = sent.body["message"]
    assert message["content"] == ""
    assert (message["attachmentType"], message["attachmentName"], message["attachmentStatus"]) == (
        "image",
        "IMG_0042.jpg",
        "ready",
    )
    assert (message["width"], message["height"]) == (800, 600)
    served = requests.get(message["attachmentUrl"])
    assert served.status_code == 200
    image = Image.open(io.BytesIO(served.content))
    assert image.size == (800, 600)
    assert not image.getexif() and "exif" not in image.info
    thumbnail = Image.open(io.BytesIO(requests.get(message["thumbnailUrl"]).content))
    assert thumbnail.size == (320, 240)
    query = parse_qs(urlparse(message["attachmentUrl"]).query)
    assert query["response-content-type"] == ["image/jpeg"]
    assert query["response-content-disposition"][0].startswith("inline")
    assert "X-Amz-Signature" in query
    history = uploads.api.conversation("alice", BLANKET).body["messages"][-1]
    assert history["attachmentId"] == attachment_id and history["attachmentUrl"]


def test_a_png_keeps_its_format_and_transparency_is_flattened_in_the_thumbnail(uploads: Uploads) -> None:
    attachment_id = uploads.upload("bob", png(640, 160), "image/png", "swatch.png")

    message = uploads.send("bob", attachment_id).body["message"]

    served = Image.open(io.BytesIO(requests.get(message["attachmentUrl"]).content))
    assert served.format == "PNG" and served.size == (640, 160)
    thumbnail = Image.open(io.BytesIO(requests.get(message["thumbnailUrl"]).content))
    assert thumbnail.format == "JPEG" and thumbnail.size == (320, 80)


def test_an_image_sent_before_processing_shows_without_url_then_the_room_is_told(uploads: Uploads) -> None:
    ticket = uploads.ticket("bob", BLANKET, "late.jpg", "image/jpeg", len(jpeg_with_gps()))
    upload = ticket.body["upload"]
    requests.post(upload["url"], data=upload["fields"], files={"file": ("late.jpg", jpeg_with_gps(), "image/jpeg")})
    alice = uploads.sockets.connect("alice")
    uploads.sockets.send(alice, "join_conversation", conversationId=BLANKET)

    sent = uploads.send("bob", ticket.body["attachmentId"]).body["message"]
    assert sent["attachmentStatus"] == "processing" and "attachmentUrl" not in sent
    uploads.uploaded(upload["fields"]["key"])  # the S3 event arrives after the send

    [ready] = uploads.sockets.events(alice, "attachment_ready")
    assert ready["message"]["id"] == sent["id"]
    assert ready["message"]["attachmentStatus"] == "ready" and ready["message"]["thumbnailUrl"]
    stored = uploads.api.conversation("alice", BLANKET).body["messages"][-1]
    assert stored["width"] == 800 and stored["attachmentUrl"]


def test_an_undecodable_image_is_rejected_and_never_served(uploads: Uploads) -> None:
    fake = b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 20
    attachment_id = uploads.upload("bob", fake, "image/jpeg", "broken.jpg")

    sent = uploads.send("bob", attachment_id)

    assert Attachment.get(attachment_id).status == "rejected"
    assert sent.status == 400 and sent.body["error"]["code"] == "attachment_rejected"


# --- files ---------------------------------------------------------------------------------------------


def test_a_pdf_downloads_as_an_attachment(uploads: Uploads) -> None:
    attachment_id = uploads.upload("bob", PDF, "application/pdf", "chart.pdf")

    message = uploads.send("bob", attachment_id, "the chart").body["message"]

    assert message["attachmentType"] == "file" and message["attachmentSize"] == len(PDF)
    query = parse_qs(urlparse(message["attachmentUrl"]).query)
    assert query["response-content-type"] == ["application/pdf"]
    assert query["response-content-disposition"][0].startswith("attachment")
    assert requests.get(message["attachmentUrl"]).content == PDF
    assert "thumbnailUrl" not in message
    stored = Message.get(BLANKET, 2).attachment
    assert stored["key"].startswith(f"conversations/{BLANKET}/")


# --- refusals at send time -----------------------------------------------------------------------------


def test_a_text_file_named_png_is_refused_by_its_first_bytes(uploads: Uploads) -> None:
    attachment_id = uploads.upload("bob", b"hello, I am text", "image/png", "innocent.png", process=False)

    sent = uploads.send("bob", attachment_id)

    assert sent.status == 400 and sent.body["error"]["code"] == "attachment_type_mismatch"
    assert Attachment.get(attachment_id).message_id is None


def test_a_text_file_named_png_is_rejected_by_processing(uploads: Uploads) -> None:
    attachment_id = uploads.upload("bob", b"hello, I am text", "image/png", "innocent.png")

    sent = uploads.send("bob", attachment_id)

    assert Attachment.get(attachment_id).status == "rejected"
    assert sent.status == 400 and sent.body["error"]["code"] == "attachment_rejected"
    assert "0x" not in sent.body["error"]["message"]


def test_an_upload_whose_stored_type_differs_from_the_declared_one_is_refused(uploads: Uploads) -> None:
    # Real S3 enforces the policy's Content-Type; a store that does not (moto) lets this through.
    ticket = uploads.ticket("bob", BLANKET, "chart.pdf", "application/pdf", len(PDF))
    key = ticket.body["upload"]["fields"]["key"]
    files = S3Files(get_settings())
    files.client.put_object(Bucket=files.bucket, Key=key, Body=PDF, ContentType="text/html")
    attachment_id = ticket.body["attachmentId"]

    sent = uploads.send("bob", attachment_id)

    assert sent.status == 400 and sent.body["error"]["code"] == "attachment_type_mismatch"


def test_an_upload_over_the_limit_is_refused_even_if_s3_let_it_in(
    uploads: Uploads, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = uploads.ticket("bob", BLANKET, "big.pdf", "application/pdf", 100)
    upload = ticket.body["upload"]
    requests.post(
        upload["url"], data=upload["fields"], files={"file": ("big.pdf", PDF + b"x" * 5000, "application/pdf")}
    )
    monkeypatch.setenv("ATTACHMENT_FILE_MAX_BYTES", "1000")
    get_settings.cache_clear()
    try:
        sent = uploads.send("bob", ticket.body["attachmentId"])
    finally:
        get_settings.cache_clear()

    assert sent.status == 400 and sent.body["error"]["code"] == "attachment_too_large"


def test_a_signed_but_never_uploaded_file_is_refused(uploads: Uploads) -> None:
    ticket = uploads.ticket("bob", BLANKET, "ghost.pdf", "application/pdf", 10)

    sent = uploads.send("bob", ticket.body["attachmentId"])

    assert sent.status == 400 and sent.body["error"]["code"] == "attachment_not_uploaded"


def test_another_users_or_another_conversations_attachment_looks_missing(uploads: Uploads) -> None:
    alices = uploads.upload("alice", PDF, "application/pdf", "a.pdf")
    other_chat = uploads.api.send("bob", recipientId="alice", content="direct").body["conversation"]["id"]
    bobs_elsewhere = uploads.upload("bob", PDF, "application/pdf", "b.pdf", conversation_id=other_chat)

    for attachment_id in (alices, bobs_elsewhere, "att_doesnotexistdoesnotexist"):
        sent = uploads.send("bob", attachment_id)
        assert sent.status == 400 and sent.body["error"]["code"] == "attachment_not_found", attachment_id


def test_an_attachment_is_used_once(uploads: Uploads) -> None:
    attachment_id = uploads.upload("bob", PDF, "application/pdf", "once.pdf")
    assert uploads.send("bob", attachment_id, "first").status == 201

    again = uploads.send("bob", attachment_id, "second")

    assert again.status == 409 and again.body["error"]["code"] == "attachment_already_used"


def test_a_retried_send_with_an_attachment_returns_the_original(uploads: Uploads) -> None:
    attachment_id = uploads.upload("bob", PDF, "application/pdf", "retry.pdf")
    body = {
        "conversationId": BLANKET,
        "content": "x",
        "attachment": {"attachmentId": attachment_id},
        "clientMessageId": "with-file",
    }

    first = uploads.api.call("POST", "/api/messages", "bob", body)
    retry = uploads.api.call("POST", "/api/messages", "bob", body)

    assert (first.status, retry.status) == (201, 200)
    assert retry.body["message"]["id"] == first.body["message"]["id"]


# --- downloads -----------------------------------------------------------------------------------------


def test_download_urls_only_for_participants(uploads: Uploads) -> None:
    attachment_id = uploads.upload("bob", PDF, "application/pdf", "pattern-notes.pdf")
    before_sending = {
        user: uploads.api.call("GET", f"/api/attachments/{attachment_id}", user).status
        for user in ("bob", "alice", "carol")
    }
    message = uploads.send("bob", attachment_id).body["message"]

    after = {
        user: uploads.api.call("GET", f"/api/attachments/{attachment_id}", user) for user in ("bob", "alice", "carol")
    }

    assert before_sending == {"bob": 200, "alice": 404, "carol": 404}
    assert after["alice"].status == 200 and after["alice"].body["messageId"] == message["id"]
    assert after["alice"].body["attachmentUrl"]
    assert after["carol"].status == 404 and after["carol"].body["error"]["code"] == "not_found"
    assert uploads.api.conversation("carol", BLANKET).status == 404


def test_a_heic_photo_is_served_as_jpeg(uploads: Uploads) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (10, 200, 30)).save(out, format="HEIF")
    attachment_id = uploads.upload("bob", out.getvalue(), "image/heic", "IMG_1234.HEIC")

    message = uploads.send("bob", attachment_id).body["message"]

    served = Image.open(io.BytesIO(requests.get(message["attachmentUrl"]).content))
    assert served.format == "JPEG" and served.size == (400, 300)
    assert parse_qs(urlparse(message["attachmentUrl"]).query)["response-content-type"] == ["image/jpeg"]


def test_a_second_delivery_of_the_upload_event_is_harmless(uploads: Uploads, monkeypatch: pytest.MonkeyPatch) -> None:
    attachment_id = uploads.upload("bob", png(), "image/png", "twice.png")
    processed = Attachment.get(attachment_id)
    stale = Attachment.from_raw_data(processed.serialize())
    stale.status = "pending"  # what a concurrent delivery of the same event read before the first one wrote
    monkeypatch.setattr(Attachment, "get", classmethod(lambda cls, *args, **kwargs: stale))

    again = services().attachments.process_upload(processed.key)
    monkeypatch.undo()
    assert again is not None and again.message is None  # nobody is told anything
    stored = Attachment.get(attachment_id)
    assert (stored.status, stored.display_key) == ("ready", processed.display_key)
