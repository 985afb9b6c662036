"""The consumer of ``on_upload``'s dead-letter queue (``on_upload_failure``): an upload whose processing failed for
good (after Lambda's retries, or past the function's timeout) ends ``rejected``, never "processing" for ever, and the
room is told with ``attachment_ready``; a redelivered failure changes nothing twice.

The messages are the ones Lambda puts on the queue: the S3 event itself (``DeadLetterConfig``), or an ``OnFailure``
destination record wrapping it; the handler is invoked the way Lambda's SQS event source invokes it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from chalicelib.adapters.dynamodb import Attachment, Message
from chalicelib.entrypoints.upload_failures import UnknownFailure
from chalicelib.settings import get_settings
from tests.integration.test_attachments import BLANKET, Uploads, jpeg_with_gps, png
from tests.integration.uploads import PDF

pytestmark = pytest.mark.usefixtures("settings_of_the_tests")


def s3_event(key: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Post",
                "s3": {"bucket": {"name": get_settings().attachments_bucket}, "object": {"key": key, "size": 1}},
            }
        ]
    }


def dead_letter(uploads: Uploads, body: dict[str, Any], error: str = "Task timed out after 30.03 seconds") -> None:
    """What Lambda's SQS event source hands ``on_upload_failure`` for one message of the queue."""
    event = uploads.sockets.client.events.generate_sqs_event(
        [json.dumps(body)], queue_name=get_settings().upload_failures_queue
    )
    event["Records"][0]["messageAttributes"] = {
        "ErrorMessage": {"stringValue": error, "dataType": "String"},
        "ErrorCode": {"stringValue": "200", "dataType": "Number"},
    }
    uploads.sockets.client.lambda_.invoke("on_upload_failure", event)


def sent_before_processing(uploads: Uploads, alice: str) -> tuple[str, str, dict[str, Any]]:
    """bob sends a photo whose processing has not run: (attachment id, original key, the sent message)."""
    photo = jpeg_with_gps()
    ticket = uploads.ticket("bob", BLANKET, "wip.jpg", "image/jpeg", len(photo)).body
    form = ticket["upload"]
    requests.post(form["url"], data=form["fields"], files={"file": ("wip.jpg", photo, "image/jpeg")})
    uploads.sockets.send(alice, "join_conversation", conversationId=BLANKET)
    sent = uploads.send("bob", ticket["attachmentId"], "look")
    assert sent.status == 201 and sent.body["message"]["attachmentStatus"] == "processing", sent.body
    return ticket["attachmentId"], form["fields"]["key"], sent.body["message"]


def test_a_failed_processing_ends_rejected_and_the_room_is_told(uploads: Uploads) -> None:
    alice = uploads.sockets.connect("alice")
    attachment_id, key, message = sent_before_processing(uploads, alice)

    dead_letter(uploads, s3_event(key))

    record = Attachment.get(attachment_id)
    assert record.status == "rejected" and "did not finish" in (record.reason or "")
    [told] = uploads.sockets.events(alice, "attachment_ready")
    assert told["message"]["id"] == message["id"]
    assert told["message"]["attachmentStatus"] == "rejected" and "attachmentUrl" not in told["message"]
    shown = uploads.api.conversation("alice", BLANKET).body["messages"][-1]
    assert shown["attachmentStatus"] == "rejected" and "attachmentUrl" not in shown
    assert Message.get(BLANKET, 2).attachment["status"] == "rejected"


def test_a_redelivered_failure_changes_nothing_twice(uploads: Uploads) -> None:
    alice = uploads.sockets.connect("alice")
    attachment_id, key, _ = sent_before_processing(uploads, alice)
    dead_letter(uploads, s3_event(key))
    first = (Attachment.get(attachment_id).serialize(), Message.get(BLANKET, 2).serialize())

    dead_letter(uploads, s3_event(key))  # SQS delivers at least once
    dead_letter(uploads, {"requestPayload": s3_event(key), "requestContext": {"condition": "RetriesExhausted"}})

    assert (Attachment.get(attachment_id).serialize(), Message.get(BLANKET, 2).serialize()) == first
    assert len(uploads.sockets.events(alice, "attachment_ready")) == 1


def test_an_upload_that_was_processed_meanwhile_is_not_rejected(uploads: Uploads) -> None:
    # A late success (an earlier attempt that finished after all) wins: the failure changes nothing.
    alice = uploads.sockets.connect("alice")
    attachment_id, key, _ = sent_before_processing(uploads, alice)
    uploads.uploaded(key)
    uploads.sockets.clear()

    dead_letter(uploads, s3_event(key))

    assert Attachment.get(attachment_id).status == "ready"
    assert Message.get(BLANKET, 2).attachment["status"] == "ready"
    assert uploads.sockets.events(alice, "attachment_ready") == []


def test_an_unused_upload_whose_processing_failed_is_rejected_for_the_send(uploads: Uploads) -> None:
    ticket = uploads.ticket("bob", BLANKET, "swatch.png", "image/png", len(png())).body
    form = ticket["upload"]
    requests.post(form["url"], data=form["fields"], files={"file": ("swatch.png", png(), "image/png")})

    dead_letter(uploads, {"requestPayload": s3_event(form["fields"]["key"])})  # an OnFailure destination record
    sent = uploads.send("bob", ticket["attachmentId"])

    assert (sent.status, sent.body["error"]["code"]) == (400, "attachment_rejected")
    assert "did not finish" in sent.body["error"]["message"]


def test_a_file_in_the_queue_is_left_alone(uploads: Uploads) -> None:
    attachment_id = uploads.upload("bob", PDF, "application/pdf", "chart.pdf")
    key = Attachment.get(attachment_id).key

    dead_letter(uploads, s3_event(key))

    assert Attachment.get(attachment_id).status == "pending"  # files are not processed: nothing failed
    assert uploads.send("bob", attachment_id).status == 201


@pytest.mark.parametrize("body", ["not json", "[1, 2]", json.dumps({"Records": []}), json.dumps({"settle": 3})])
def test_a_message_that_cannot_be_handled_fails_so_sqs_redrives_it(uploads: Uploads, body: str) -> None:
    # Raising leaves the message on the queue: after maxReceiveCount, SQS moves it to the queue's dead letters.
    event = uploads.sockets.client.events.generate_sqs_event([body])

    with pytest.raises(UnknownFailure):
        uploads.sockets.client.lambda_.invoke("on_upload_failure", event)
