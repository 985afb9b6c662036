"""Tags follow the committed record (red-team findings 4 and 10): whatever the interleaving of processing and
sending, every object a sent message serves ends tagged ``state=attached`` (the bucket's lifecycle rule deletes
``pending`` ones after a day), and nothing a message does not serve is tagged attached, refused sends included.

Originals are never served (images are served as the copies processing made, files as the copy the send made),
so no original is ever tagged attached: they expire. moto ignores a presigned POST's ``tagging`` field, so an
original shows no tag at all here; on S3 it keeps the ``pending`` the POST policy pins.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
import requests

from chalicelib.adapters.dynamodb import Attachment, Message
from chalicelib.adapters.dynamodb.records import write_send
from chalicelib.adapters.files import S3Files
from chalicelib.bootstrap import Services, services
from chalicelib.domain.principal import Principal
from chalicelib.schemas.requests import SendMessageRequest
from chalicelib.services.messaging import Sent
from chalicelib.settings import get_settings
from tests.integration.conftest import BUCKET, UPLOAD_FAILURES, Api
from tests.integration.test_attachments import BLANKET, Uploads, jpeg_with_gps
from tests.integration.test_delivery_faults import STORAGE_FAULTS, failing_transactions
from tests.integration.test_presign_faults import FAULTS, FlakyS3
from tests.integration.uploads import PDF

ATTACHED = {"state": "attached"}


pytestmark = pytest.mark.usefixtures("settings_of_the_tests")


def tags(key: str) -> dict[str, str]:
    found = BUCKET.client.get_object_tagging(Bucket=BUCKET.bucket, Key=key)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in found}


def attached_objects() -> set[str]:
    """Every object of the bucket tagged attached."""
    listed = BUCKET.client.list_objects_v2(Bucket=BUCKET.bucket).get("Contents", [])
    return {item["Key"] for item in listed if tags(item["Key"]) == ATTACHED}


def served_by_messages() -> set[str]:
    """Every object a stored message serves (its attachment's display copy and thumbnail, or a file's copy)."""
    served: set[str] = set()
    for message in Message.scan():
        attachment = message.attachment or {}
        if attachment.get("status") == "rejected":
            continue
        served |= {attachment.get(k) for k in ("displayKey", "thumbnailKey", "verifiedKey")} - {None}
    return served


def uploaded(uploads: Uploads, data: bytes, content_type: str, name: str) -> tuple[str, str]:
    """Signed and uploaded, no upload event yet: (attachment id, original key)."""
    ticket = uploads.ticket("bob", BLANKET, name, content_type, len(data)).body
    form = ticket["upload"]
    assert requests.post(form["url"], data=form["fields"], files={"file": (name, data, content_type)}).ok
    return ticket["attachmentId"], form["fields"]["key"]


# --- refused sends tag nothing (finding 10) ------------------------------------------------------------------


@contextmanager
def configured(**variables: str) -> Iterator[None]:
    """Settings from these environment variables for the block only (settings are cached per process)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in variables.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        get_settings()
        try:
            yield
        finally:
            get_settings.cache_clear()
    get_settings()  # again from the tests' own environment, outside any request


@contextmanager
def rate_limited(uploads: Uploads) -> Iterator[None]:
    with configured(RATE_LIMIT_SEND="1/3600"):
        assert uploads.api.send("bob", conversationId=BLANKET, content="uses the quota").status == 201
        yield


@contextmanager
def storage_fault(uploads: Uploads) -> Iterator[None]:
    with failing_transactions(STORAGE_FAULTS["internal error"]):
        yield


@contextmanager
def contention(uploads: Uploads) -> Iterator[None]:
    # Every attempt loses the race for the conversation's version: the send gives up with 503 contention.
    def stale(transaction: Any, plan: Any) -> None:
        write_send(transaction, replace(plan, expected_version=plan.expected_version - 1))

    with configured(SEND_MAX_ATTEMPTS="2"), pytest.MonkeyPatch.context() as patch:
        patch.setattr("chalicelib.services.messaging.write_send", stale)
        yield


REFUSALS = {
    "429 rate limited": (rate_limited, 429, "rate_limited"),
    "503 storage fault": (storage_fault, 503, "temporarily_unavailable"),
    "503 contention": (contention, 503, "contention"),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
@pytest.mark.parametrize("kind", ["file", "processed image"])
def test_a_refused_send_tags_nothing_attached(uploads: Uploads, refusal: str, kind: str) -> None:
    if kind == "file":
        attachment_id = uploads.upload("bob", PDF, "application/pdf", "chart.pdf")
    else:
        attachment_id = uploads.upload("bob", jpeg_with_gps(), "image/jpeg", "wip.jpg")
    refuse, status, code = REFUSALS[refusal]

    with refuse(uploads):
        refused = uploads.send("bob", attachment_id, "with the file")

    assert (refused.status, refused.body["error"]["code"]) == (status, code)
    assert Attachment.get(attachment_id).message_id is None
    assert attached_objects() == set()


# --- processing and sending, in either order (finding 4) ---------------------------------------------------


def test_processing_that_finishes_during_the_send_leaves_everything_served_attached(
    uploads: Uploads, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The red team's interleaving: processing commits ``ready`` between the send's read and its commit."""
    attachment_id, key = uploaded(uploads, jpeg_with_gps(), "image/jpeg", "wip.jpg")
    attachments = services().attachments
    real_verify = attachments.verify_upload

    def verify_while_the_upload_event_runs(upload: Any) -> Any:
        checked = real_verify(upload)
        uploads.uploaded(key)
        return checked

    monkeypatch.setattr(attachments, "verify_upload", verify_while_the_upload_event_runs)
    sent = uploads.send("bob", attachment_id, "look!")

    assert sent.status == 201 and sent.body["message"]["attachmentStatus"] == "ready"
    record = Attachment.get(attachment_id)
    assert tags(record.display_key) == tags(record.thumbnail_key) == ATTACHED
    assert tags(key) != ATTACHED
    assert attached_objects() == served_by_messages() == {record.display_key, record.thumbnail_key}


def test_processing_after_the_send_tags_what_it_made(uploads: Uploads) -> None:
    attachment_id, key = uploaded(uploads, jpeg_with_gps(), "image/jpeg", "wip.jpg")
    assert uploads.send("bob", attachment_id, "look!").body["message"]["attachmentStatus"] == "processing"
    assert attached_objects() == set()  # nothing is served yet

    uploads.uploaded(key)

    record = Attachment.get(attachment_id)
    assert attached_objects() == served_by_messages() == {record.display_key, record.thumbnail_key}


def test_a_second_processing_run_never_leaves_an_unused_copy_attached(uploads: Uploads) -> None:
    attachment_id, key = uploaded(uploads, jpeg_with_gps(), "image/jpeg", "wip.jpg")
    uploads.send("bob", attachment_id, "look!")
    uploads.uploaded(key)
    uploads.uploaded(key)  # S3 may deliver an event twice

    assert attached_objects() == served_by_messages()


def test_processing_and_sending_race_on_real_threads(uploads: Uploads) -> None:
    """Many uploads, each sent while its upload event runs, released together: both orders happen, and every
    message ends with what it serves attached and nothing else attached. The threads call the use cases, as
    test_concurrency.py does (Chalice's test client swaps os.environ per request, which threads would garble)."""
    pending = [uploaded(uploads, jpeg_with_gps(64, 48), "image/jpeg", f"wip{i}.jpg") for i in range(8)]
    start = threading.Barrier(2 * len(pending))

    def send(attachment_id: str) -> Sent:
        start.wait()
        request = SendMessageRequest.model_validate(
            {"conversationId": BLANKET, "content": "look", "attachment": {"attachmentId": attachment_id}}
        )
        return services().messaging.send(Principal("bob"), request)

    def process(key: str) -> None:
        start.wait()
        services().attachments.on_uploaded(key)

    with ThreadPoolExecutor(max_workers=2 * len(pending)) as pool:
        sends = [pool.submit(send, attachment_id) for attachment_id, _ in pending]
        processing = [pool.submit(process, key) for _, key in pending]
        statuses = [future.result() for future in sends]
        for future in processing:
            future.result()

    assert all(sent.created for sent in statuses)
    for attachment_id, _ in pending:
        record = Attachment.get(attachment_id, consistent_read=True)
        message = Message.get(BLANKET, int(record.message_id.rsplit("_", 1)[1]), consistent_read=True)
        assert record.status == message.attachment["status"] == "ready"
        assert message.attachment["displayKey"] == record.display_key
    assert attached_objects() == served_by_messages()
    assert len(served_by_messages()) == 2 * len(pending)


# --- a crash of S3 between the commit and the tags -------------------------------------------------------


def test_tagging_that_fails_after_the_commit_is_settled_from_the_queue(
    api: Api, uploads: Uploads, install_services: Callable[..., Services]
) -> None:
    attachment_id = uploads.upload("bob", PDF, "application/pdf", "chart.pdf")
    flaky = FlakyS3(S3Files(get_settings()).client)
    install_services(files=S3Files(get_settings(), client=flaky))
    flaky.failing["put_object_tagging"] = FAULTS["500 InternalError"]("PutObjectTagging")

    sent = uploads.send("bob", attachment_id, "the chart")

    assert sent.status == 201  # stored: what follows a commit never turns it into an error
    assert attached_objects() == set()
    [queued] = UPLOAD_FAILURES.client.receive_message(QueueUrl=UPLOAD_FAILURES.url).get("Messages", [])
    assert json.loads(queued["Body"]) == {"settle": {"attachmentId": attachment_id}}

    flaky.failing.clear()
    event = uploads.sockets.client.events.generate_sqs_event([queued["Body"]])
    uploads.sockets.client.lambda_.invoke("on_upload_failure", event)

    assert attached_objects() == served_by_messages() == {Attachment.get(attachment_id).verified_key}
