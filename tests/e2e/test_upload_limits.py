"""Image bombs through the running stack (red-team finding 1): a small GIF declaring 30 frames of 2000 x 2000 pixels,
sent before its processing ran, ends ``rejected`` within moments and the room hears it from ``attachment_ready``;
before the limits it took the upload function ~8 s of CPU and was served.

The stack's S3 events come a second late (``DEV_S3_EVENT_DELAY_SECONDS``), as on AWS, so the message is stored while
the image is still ``processing``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from dev.seed import ALICE, BOB, GRANNY_SQUARE
from tests.e2e.api_client import json_of
from tests.e2e.conftest import RunningStack, start_stack
from tests.e2e.images import animated_gif

pytestmark = pytest.mark.e2e

PROMPTLY_SECONDS = 10  # the event delay (1 s) plus processing that refuses on the headers; was ~8 s of CPU, and ready


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with start_stack(tmp_path_factory.mktemp("upload-limits-stack"), DEV_S3_EVENT_DELAY_SECONDS="1") as running:
        yield running


def sign(stack: RunningStack, conversation_id: str, data: bytes) -> dict[str, Any]:
    body = {
        "conversationId": conversation_id,
        "fileName": "stitches.gif",
        "contentType": "image/gif",
        "size": len(data),
    }
    return json_of(stack.caller(BOB).request("POST", "/api/attachments", body), 201)


def test_a_gif_bomb_sent_before_processing_ends_rejected_and_the_room_is_told_promptly(stack: RunningStack) -> None:
    bob = stack.caller(BOB)
    conversation_id = json_of(bob.open_pattern_conversation(GRANNY_SQUARE), 201)["conversation"]["id"]
    bomb = animated_gif((2000, 2000), 30)
    assert len(bomb) < 150_000  # far under the 10 MB upload limit: only its headers give it away
    ticket = sign(stack, conversation_id, bomb)
    form = ticket["upload"]

    with stack.socket(ALICE) as alice:
        alice.send("join_conversation", conversationId=conversation_id)
        alice.next("conversation_joined", conversationId=conversation_id)
        stored = requests.post(
            form["url"], data=form["fields"], files={"file": ("b.gif", bomb, "image/gif")}, timeout=10
        )
        assert stored.status_code == 204, stored.text
        body = {
            "conversationId": conversation_id,
            "content": "",
            "attachment": {"attachmentId": ticket["attachmentId"]},
        }
        sent = json_of(bob.request("POST", "/api/messages", body), 201)["message"]
        assert sent["attachmentStatus"] == "processing"
        started = time.monotonic()

        told = alice.next("attachment_ready", timeout=PROMPTLY_SECONDS)["message"]

    assert time.monotonic() - started < PROMPTLY_SECONDS
    assert (told["id"], told["attachmentStatus"]) == (sent["id"], "rejected")
    assert "attachmentUrl" not in told and "thumbnailUrl" not in told
    attachment = json_of(bob.request("GET", f"/api/attachments/{ticket['attachmentId']}"), 200)
    assert attachment["attachmentStatus"] == "rejected" and "attachmentUrl" not in attachment
    history = json_of(stack.caller(ALICE).open_conversation(conversation_id), 200)["messages"]
    assert next(m for m in history if m["id"] == sent["id"])["attachmentStatus"] == "rejected"


def test_an_animation_within_the_limits_is_served(stack: RunningStack) -> None:
    bob = stack.caller(BOB)
    conversation_id = json_of(bob.open_pattern_conversation(GRANNY_SQUARE), 200)["conversation"]["id"]
    gif = animated_gif((200, 150), 12)
    ticket = sign(stack, conversation_id, gif)
    form = ticket["upload"]
    assert requests.post(form["url"], data=form["fields"], files={"file": ("a.gif", gif, "image/gif")}, timeout=10).ok

    deadline = time.monotonic() + PROMPTLY_SECONDS
    status = json_of(bob.request("GET", f"/api/attachments/{ticket['attachmentId']}"), 200)
    while status["attachmentStatus"] == "processing":
        assert time.monotonic() < deadline, "still processing"
        time.sleep(0.1)  # polling, as the client does without a socket
        status = json_of(bob.request("GET", f"/api/attachments/{ticket['attachmentId']}"), 200)

    assert (status["attachmentStatus"], status["width"], status["height"]) == ("ready", 200, 150)
    assert requests.get(status["attachmentUrl"], timeout=10).content[:6] == b"GIF89a"
