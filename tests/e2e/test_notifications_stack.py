"""Issue 18 through the running dev stack: the messages stream's consumers, the delayed digest queue, SES on moto and
the outbox at ``<web>/outbox``, the one-click unsubscribe from the mail, and signed webhooks to the local receiver."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from dev.seed import ALICE, BOB, GRANNY_SQUARE
from tests.e2e import conftest as e2e_conftest
from tests.e2e.api_client import json_of
from tests.e2e.conftest import RunningStack, start_stack

pytestmark = pytest.mark.e2e
WAIT_SECONDS = 45


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    # A second stack beside the module-wide one, on a machine the other suites load too: more time to be ready.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(e2e_conftest, "READY_TIMEOUT_SECONDS", max(e2e_conftest.READY_TIMEOUT_SECONDS, 240))
        with start_stack(tmp_path_factory.mktemp("notifications-stack"), NOTIFY_EMAIL_DELAY_SECONDS="2") as running:
            yield running


def eventually(probe: Any, what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"no {what} after {WAIT_SECONDS} s")


def test_an_unread_message_is_mailed_once_and_the_mail_unsubscribes(stack: RunningStack) -> None:
    outbox = f"{stack.ready['webUrl']}/outbox"
    bob = stack.caller(BOB)
    conversation = json_of(bob.open_pattern_conversation(GRANNY_SQUARE), 201)["conversation"]["id"]
    json_of(bob.send(conversation, "Is the border worked in rounds?"), 201)

    def alices_mail() -> list[dict[str, Any]]:
        mail = requests.get(f"{outbox}.json", timeout=5).json()
        return [m for m in mail if m["to"] == f"{ALICE}@example.com" and "rounds" in (m["text"] or "")]

    [mail] = eventually(alices_mail, "digest for alice in the outbox")
    assert mail["listUnsubscribePost"] == "List-Unsubscribe=One-Click"
    assert f"/messages/{conversation}" in mail["text"]
    page = requests.get(outbox, timeout=5)
    assert page.status_code == 200 and "Is the border worked in rounds?" in page.text
    html = requests.get(f"{outbox}/{mail['number']}.html", timeout=5)
    assert html.status_code == 200 and "sandbox" in html.headers["Content-Security-Policy"]

    link = urlsplit(mail["listUnsubscribe"].strip("<>"))
    assert f"{link.scheme}://{link.netloc}" == stack.api_url
    response = requests.post(
        f"{stack.api_url}{link.path}?{link.query}",
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert response.status_code == 200
    preferences = stack.caller(ALICE).request("GET", "/api/me/notification-preferences").json()
    assert preferences["email"]["enabled"] is False


def test_webhooks_reach_the_local_receiver_signed(stack: RunningStack) -> None:
    receiver = stack.ready["webhookReceiverUrl"]
    assert receiver and receiver in stack.output()
    bob = stack.caller(BOB)
    sent = json_of(bob.send_to(ALICE, "a direct question"), 201)["message"]

    def delivered() -> list[dict[str, Any]]:
        return [d for d in requests.get(receiver, timeout=5).json() if sent["id"] in d["body"]]

    [delivery] = eventually(delivered, "webhook for the message")
    assert delivery["verified"] is True and delivery["answered"] == 204
    assert delivery["webhook_id"].startswith("evt_") and delivery["signature"].startswith("v1,")
