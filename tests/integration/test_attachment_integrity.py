"""What is downloaded is exactly what was verified (red-team finding 3).

A presigned POST stays valid for its five minutes however often it is used, so the sender can write the original's
key again after sending. Nothing served is ever that key: a file is served from the copy the send made (server-side,
of the version it checked), an image from the copies processing made, and processing reads only the version a send
checked. The real size must be the declared one.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from PIL import Image

from chalicelib.adapters.dynamodb import Attachment, Message
from chalicelib.adapters.files import S3Files
from chalicelib.bootstrap import Services, services
from chalicelib.domain.principal import Principal
from chalicelib.errors import AppError
from chalicelib.schemas.requests import SendMessageRequest
from chalicelib.settings import get_settings
from tests.integration.test_attachment_tags import attached_objects, served_by_messages, tags
from tests.integration.test_attachments import BLANKET, Uploads, jpeg_with_gps, png
from tests.integration.uploads import PDF

SWAPPED = b"MZ\x90\x00 not a PDF <html><script>alert(1)</script></html>"


pytestmark = pytest.mark.usefixtures("settings_of_the_tests")


def signed(uploads: Uploads, name: str, content_type: str, size: int) -> tuple[str, dict[str, Any]]:
    ticket = uploads.ticket("bob", BLANKET, name, content_type, size).body
    return ticket["attachmentId"], ticket["upload"]


def post(form: dict[str, Any], name: str, data: bytes, content_type: str) -> None:
    """The browser's upload: the presigned form's fields, then the file (again and again: S3 allows it)."""
    assert requests.post(form["url"], data=form["fields"], files={"file": (name, data, content_type)}).ok


def downloaded(user: str, uploads: Uploads) -> bytes:
    url = uploads.api.conversation(user, BLANKET).body["messages"][-1]["attachmentUrl"]
    return requests.get(url).content


# --- files ------------------------------------------------------------------------------------------------


def test_reposting_the_form_after_sending_changes_nothing_that_is_downloaded(uploads: Uploads) -> None:
    attachment_id, form = signed(uploads, "chart.pdf", "application/pdf", len(PDF))
    post(form, "chart.pdf", PDF, "application/pdf")
    assert uploads.send("bob", attachment_id, "the chart").status == 201

    post(form, "chart.pdf", SWAPPED + b"x" * (len(PDF) - len(SWAPPED)), "application/pdf")  # same form, same size

    assert downloaded("alice", uploads) == PDF
    refreshed = uploads.api.call("GET", f"/api/attachments/{attachment_id}", "alice").body
    assert requests.get(refreshed["attachmentUrl"]).content == PDF
    served = Attachment.get(attachment_id).verified_key
    assert served != form["fields"]["key"] and served.startswith(form["fields"]["key"].rsplit("/", 1)[0] + "/verified-")
    assert tags(served) == {"state": "attached"}


def test_a_file_changed_between_its_check_and_its_copy_is_not_sent(
    uploads: Uploads, install_services: Callable[..., Services]
) -> None:
    attachment_id, form = signed(uploads, "chart.pdf", "application/pdf", len(PDF))
    post(form, "chart.pdf", PDF, "application/pdf")

    class SwapAfterHead(S3Files):
        def head(self, key: str) -> dict[str, Any] | None:
            meta = super().head(key)
            post(form, "chart.pdf", SWAPPED + b"x" * (len(PDF) - len(SWAPPED)), "application/pdf")
            return meta

    install_services(files=SwapAfterHead(get_settings()))
    refused = uploads.send("bob", attachment_id, "the chart")

    assert (refused.status, refused.body["error"]["code"]) == (503, "contention")
    assert Attachment.get(attachment_id).message_id is None and attached_objects() == set()


def test_the_real_size_must_be_the_declared_one(uploads: Uploads) -> None:
    attachment_id, form = signed(uploads, "chart.pdf", "application/pdf", len(PDF) + 7)
    post(form, "chart.pdf", PDF, "application/pdf")  # S3's policy allows 1..25 MB: it lets this in

    refused = uploads.send("bob", attachment_id, "the chart")

    assert (refused.status, refused.body["error"]["code"]) == (400, "attachment_size_mismatch")
    message = refused.body["error"]["message"]
    assert message == f"the uploaded file has {len(PDF)} bytes, not the {len(PDF) + 7} declared"
    assert Attachment.get(attachment_id).message_id is None and Message.count() == 1


def test_a_processed_image_of_another_size_than_declared_is_refused(uploads: Uploads) -> None:
    photo = jpeg_with_gps()
    attachment_id, form = signed(uploads, "wip.jpg", "image/jpeg", len(photo) - 1)
    post(form, "wip.jpg", photo, "image/jpeg")
    uploads.uploaded(form["fields"]["key"])

    refused = uploads.send("bob", attachment_id)

    assert (refused.status, refused.body["error"]["code"]) == (400, "attachment_size_mismatch")


def test_the_same_file_sent_twice_at_once_is_one_message_serving_one_attached_copy(uploads: Uploads) -> None:
    attachment_id, form = signed(uploads, "chart.pdf", "application/pdf", len(PDF))
    post(form, "chart.pdf", PDF, "application/pdf")
    request = SendMessageRequest.model_validate(
        {"conversationId": BLANKET, "content": "x", "attachment": {"attachmentId": attachment_id}}
    )

    def send(_: int) -> str:
        # The use case, as test_concurrency.py calls it (Chalice's test client is not for threads).
        try:
            services().messaging.send(Principal("bob"), request)
        except AppError as refused:
            return str(refused.code)
        return "sent"

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(send, range(4)))

    assert sorted(answers) == ["attachment_already_used"] * 3 + ["sent"]
    assert attached_objects() == served_by_messages() == {Attachment.get(attachment_id).verified_key}
    assert downloaded("alice", uploads) == PDF


# --- images -----------------------------------------------------------------------------------------------


def test_an_image_changed_after_it_was_sent_is_rejected_not_processed(uploads: Uploads) -> None:
    photo = jpeg_with_gps()
    attachment_id, form = signed(uploads, "wip.jpg", "image/jpeg", len(photo))
    post(form, "wip.jpg", photo, "image/jpeg")
    alice = uploads.sockets.connect("alice")
    uploads.sockets.send(alice, "join_conversation", conversationId=BLANKET)
    assert uploads.send("bob", attachment_id, "look").body["message"]["attachmentStatus"] == "processing"

    post(form, "wip.jpg", jpeg_with_gps(640, 480), "image/jpeg")  # another picture, before processing ran
    uploads.uploaded(form["fields"]["key"])

    record = Attachment.get(attachment_id)
    assert (record.status, record.reason) == ("rejected", "the file changed after it was sent")
    [told] = uploads.sockets.events(alice, "attachment_ready")
    assert told["message"]["attachmentStatus"] == "rejected"
    assert attached_objects() == set()


def test_an_image_sent_before_processing_is_processed_from_the_version_the_send_checked(uploads: Uploads) -> None:
    photo = jpeg_with_gps()
    attachment_id, form = signed(uploads, "wip.jpg", "image/jpeg", len(photo))
    post(form, "wip.jpg", photo, "image/jpeg")
    uploads.send("bob", attachment_id, "look")

    uploads.uploaded(form["fields"]["key"])

    assert Attachment.get(attachment_id).status == "ready"
    assert Image.open(io.BytesIO(downloaded("alice", uploads))).size == (800, 600)


def test_reposting_a_processed_image_changes_nothing_served(uploads: Uploads) -> None:
    first = png(64, 64)
    attachment_id, form = signed(uploads, "swatch.png", "image/png", len(first))
    post(form, "swatch.png", first, "image/png")
    uploads.uploaded(form["fields"]["key"])
    processed = Attachment.get(attachment_id)

    post(form, "swatch.png", png(300, 20), "image/png")  # before the send: the processed copy stays the upload
    uploads.uploaded(form["fields"]["key"])
    assert uploads.send("bob", attachment_id).status == 201
    post(form, "swatch.png", png(20, 300), "image/png")  # and after it
    uploads.uploaded(form["fields"]["key"])

    record = Attachment.get(attachment_id)
    assert (record.display_key, record.width, record.height) == (processed.display_key, 64, 64)
    assert Image.open(io.BytesIO(downloaded("alice", uploads))).size == (64, 64)
