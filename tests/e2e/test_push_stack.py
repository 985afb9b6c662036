"""Web Push through ``make dev``: a subscription on the stack's local push service, a message from alice to bob
(not connected), and the push arriving decrypted and VAPID-signed, by way of the messages stream, the push queue
and ``on_push``, as on AWS."""

from __future__ import annotations

import time

import pytest
import requests

from dev.seed import ALICE, BOB, GRANNY_SQUARE
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def test_a_message_to_an_offline_user_is_pushed_through_the_stack(stack: RunningStack) -> None:
    push_url = stack.ready["pushUrl"]
    key = requests.get(
        f"{stack.api_url}/api/push/vapid-public-key",
        headers={"Authorization": f"Bearer {stack.token(BOB)}"},
        timeout=10,
    ).json()["publicKey"]
    subscription = requests.post(f"{push_url}/subscriptions", json={"name": "bobs-laptop"}, timeout=10).json()
    registered = requests.put(
        f"{stack.api_url}/api/push/subscriptions",
        json=subscription,
        headers={"Authorization": f"Bearer {stack.token(BOB)}"},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    sent = requests.post(
        f"{stack.api_url}/api/messages",
        json={"recipientId": BOB, "patternId": GRANNY_SQUARE, "content": "Use a 4 mm hook for the border"},
        headers={"Authorization": f"Bearer {stack.token(ALICE)}"},
        timeout=10,
    )
    assert sent.status_code == 201, sent.text
    message_id = sent.json()["message"]["id"]

    deadline, received = time.monotonic() + 30, []
    while time.monotonic() < deadline:
        received = [r for r in requests.get(f"{push_url}/push", timeout=10).json()["received"] if "payload" in r]
        if received:
            break
        time.sleep(0.5)

    assert [r["payload"]["messageId"] for r in received] == [message_id], stack.output()[-3000:]
    (push,) = received
    assert push["payload"] == {
        "type": "new_message",
        "conversationId": sent.json()["message"]["conversationId"],
        "messageId": message_id,
        "title": "Alice Loops",
        "body": "Use a 4 mm hook for the border",
    }
    assert push["headers"]["topic"] == push["payload"]["conversationId"] and push["headers"]["urgency"] == "high"
    assert push["vapid"]["aud"] == push_url and "error" not in push
    # The receiver checked the JWT against the key the API publishes.
    assert requests.get(f"{push_url}/push", timeout=10).json()["publicKey"] == key
