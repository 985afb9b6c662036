"""S3 failing while an upload is signed or verified: a retryable 503 ``storage_unavailable``, nothing half-stored.

The app runs on an S3 adapter whose boto3 client is wrapped so that chosen operations raise what botocore raises
when S3 is unreachable, throttles or fails; every other call reaches moto. After each fault the very same request
succeeds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from chalicelib.adapters.dynamodb import Attachment, Conversation, Message, UserProfile
from chalicelib.adapters.files import S3Files
from chalicelib.bootstrap import Services
from chalicelib.domain.ids import conversation_id_for
from chalicelib.settings import get_settings
from tests.integration.conftest import Api, Response
from tests.integration.sockets import Sockets
from tests.integration.uploads import pdf_upload_request, upload_pdf

DIRECT = conversation_id_for("alice", "bob", None)  # bob's direct conversation with alice
UPLOAD = pdf_upload_request(DIRECT)
STORAGE_UNAVAILABLE = (503, "storage_unavailable")


def client_error(operation: str, code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


FAULTS: dict[str, Callable[[str], BotoCoreError | ClientError]] = {
    "endpoint unreachable": lambda operation: EndpointConnectionError(
        endpoint_url="https://s3.us-east-1.amazonaws.com"
    ),
    "500 InternalError": lambda operation: client_error(operation, "InternalError", 500),
    "503 SlowDown": lambda operation: client_error(operation, "SlowDown", 503),
    "no credentials": lambda operation: NoCredentialsError(),
}


class FlakyS3:
    """The real S3 client, except that the operations in ``failing`` raise their error."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.failing: dict[str, BotoCoreError | ClientError] = {}

    def __getattr__(self, name: str) -> Any:
        if name in self.failing:
            error = self.failing[name]

            def fail(*args: Any, **kwargs: Any) -> Any:
                raise error

            return fail
        return getattr(self.real, name)


@pytest.fixture
def flaky_s3(api: Api, install_services: Callable[..., Services]) -> FlakyS3:
    """S3 behind a switch (the bucket exists; bob's direct conversation with alice is open)."""
    api.user("alice")
    opened = api.send("bob", recipientId="alice", content="my progress so far")
    assert opened.status == 201, opened.body
    flaky = FlakyS3(S3Files(get_settings()).client)
    install_services(files=S3Files(get_settings(), client=flaky))
    return flaky


def outcome(response: Response) -> tuple[int, str | None]:
    return response.status, (response.body.get("error") or {}).get("code") if response.status >= 400 else None


def assert_storage_unavailable(response: Response) -> None:
    assert outcome(response) == STORAGE_UNAVAILABLE, response.body
    text = json.dumps(response.body)
    assert "amazonaws.com" not in text and "InternalError" not in text  # S3's own words stay inside


# --- signing an upload -------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", list(FAULTS))
def test_presign_with_s3_down_is_503_and_stores_no_attachment(api: Api, flaky_s3: FlakyS3, fault: str) -> None:
    flaky_s3.failing["generate_presigned_post"] = FAULTS[fault]("GeneratePresignedPost")

    refused = api.call("POST", "/api/attachments", "bob", UPLOAD)
    stored_while_down = Attachment.count()
    flaky_s3.failing.clear()
    retried = api.call("POST", "/api/attachments", "bob", UPLOAD)

    assert_storage_unavailable(refused)
    assert stored_while_down == 0
    assert outcome(retried) == (201, None)
    assert [a.id for a in Attachment.scan()] == [retried.body["attachmentId"]]


# Reads that sign download URLs for an attachment that is part of a message.
SIGNED_READS = {
    "the attachment": lambda attachment_id: f"/api/attachments/{attachment_id}",
    "the conversation's history": lambda attachment_id: f"/api/messages?conversationId={DIRECT}",
}


@pytest.mark.parametrize("read", list(SIGNED_READS))
def test_signing_a_download_with_s3_credentials_gone_is_503(api: Api, flaky_s3: FlakyS3, read: str) -> None:
    attachment_id = upload_pdf(api, "bob", DIRECT)
    sent = api.send("bob", conversationId=DIRECT, content="", attachment={"attachmentId": attachment_id})
    assert sent.status == 201, sent.body
    path = SIGNED_READS[read](attachment_id)
    flaky_s3.failing["generate_presigned_url"] = FAULTS["no credentials"]("GeneratePresignedUrl")

    refused = api.call("GET", path, "alice")
    flaky_s3.failing.clear()
    retried = api.call("GET", path, "alice")

    assert_storage_unavailable(refused)
    assert outcome(retried) == (200, None)
    assert "X-Amz-Signature=" in json.dumps(retried.body)


# --- verifying an upload before a message uses it ----------------------------------------------------


def stored_state(attachment_id: str) -> tuple[int, int, int, str | None]:
    """What a send would change: messages, the conversation's count, alice's unread, the upload's message."""
    conversation = Conversation.get(DIRECT, consistent_read=True)
    return (
        Message.count(),
        int(conversation.message_count),
        int(UserProfile.get("alice").total_unread or 0),
        Attachment.get(attachment_id).message_id,
    )


# Every S3 call a send makes for its attachment before it commits: the object's metadata, the server's copy of
# it, the copy's first bytes. (Tagging comes after the commit and never fails a send: test_attachment_tags.py.)
SEND_OPERATIONS = {"head_object": "HeadObject", "copy_object": "CopyObject", "get_object": "GetObject"}


@pytest.mark.parametrize("fault", ["endpoint unreachable", "500 InternalError"])
@pytest.mark.parametrize("operation", list(SEND_OPERATIONS))
def test_send_with_attachment_while_s3_fails_is_503_and_stores_nothing(
    api: Api, flaky_s3: FlakyS3, operation: str, fault: str
) -> None:
    attachment_id = upload_pdf(api, "bob", DIRECT)
    before = stored_state(attachment_id)
    body = {"conversationId": DIRECT, "content": "", "attachment": {"attachmentId": attachment_id}}
    flaky_s3.failing[operation] = FAULTS[fault](SEND_OPERATIONS[operation])

    refused = api.send("bob", clientMessageId="c-1", **body)
    after_refusal = stored_state(attachment_id)
    flaky_s3.failing.clear()
    retried = api.send("bob", clientMessageId="c-1", **body)

    assert_storage_unavailable(refused)
    assert after_refusal == before
    assert outcome(retried) == (201, None)  # the retry is a first send: nothing of the failed one was kept
    assert retried.body["message"]["attachmentId"] == attachment_id
    assert stored_state(attachment_id) == (before[0] + 1, before[1] + 1, before[2] + 1, retried.body["message"]["id"])


def test_socket_send_with_attachment_while_head_object_fails_is_an_error_frame(
    api: Api, flaky_s3: FlakyS3, sockets: Sockets
) -> None:
    attachment_id = upload_pdf(api, "bob", DIRECT)
    before = stored_state(attachment_id)
    alice, bob = sockets.connect("alice"), sockets.connect("bob")
    sockets.send(alice, "join_conversation", conversationId=DIRECT)
    sockets.clear()
    flaky_s3.failing["head_object"] = FAULTS["endpoint unreachable"]("HeadObject")

    sockets.send(bob, "new_message", conversationId=DIRECT, content="", attachment={"attachmentId": attachment_id})

    [error] = sockets.events(bob, "error")
    assert (error["code"], error["action"]) == ("storage_unavailable", "new_message")
    assert sockets.names(bob) == ["error"]
    assert sockets.frames(alice) == []
    assert stored_state(attachment_id) == before
