"""The dev stack end to end: real HTTP against ``python -m dev.stack`` (Chalice local server on moto)."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from dev.seed import ALICE, BOB, CAROL, GRANNY_SQUARE, USERS
from dev.stack import PORT_VARIABLES
from tests.e2e.api_client import Caller, conversation_in, json_of
from tests.e2e.conftest import ROOT, RunningStack, free_port
from tests.e2e.images import decoded, png_bytes

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def blanket_conversation(stack: RunningStack) -> dict[str, Any]:
    """Bob, who bought the granny square blanket, opens the conversation about it with alice (its creator)."""
    body = json_of(stack.caller(BOB).open_pattern_conversation(GRANNY_SQUARE), 201)  # the seed leaves it unopened
    return body["conversation"]


def test_the_banner_and_ready_file_give_urls_tokens_and_a_curl_example(stack: RunningStack) -> None:
    output = stack.output()
    assert stack.api_url in output
    assert stack.ready["awsEndpoint"] in output
    assert stack.ws_url == f"ws://127.0.0.1:{stack.env['DEV_WS_PORT']}"
    assert f'"{stack.ws_url}/?token=$ALICE_TOKEN"' in output  # the ready-to-paste WebSocket example
    assert stack.ws_management_url == f"http://127.0.0.1:{stack.env['DEV_WS_MANAGEMENT_PORT']}"
    assert stack.ws_management_url in output
    assert f"export ALICE_TOKEN={stack.ready['tokens'][ALICE]}" in output
    assert f"export BOB_TOKEN={stack.ready['tokens'][BOB]}" in output
    assert f'curl -s -H "Authorization: Bearer $ALICE_TOKEN" {stack.api_url}/api/' in output


def test_pattern_purchase_flow(stack: RunningStack, blanket_conversation: dict[str, Any]) -> None:
    alice, bob = stack.caller(ALICE), stack.caller(BOB)
    conversation_id = blanket_conversation["id"]
    assert blanket_conversation["otherParticipant"] == {"id": ALICE, "name": USERS[ALICE], "online": False}
    assert blanket_conversation["pattern"]["id"] == GRANNY_SQUARE
    reopened = json_of(bob.open_pattern_conversation(GRANNY_SQUARE), 200)
    assert reopened["conversation"]["id"] == conversation_id
    unread_before = json_of(alice.list_conversations(), 200)["totalUnread"]  # the seed's opening message

    question = json_of(bob.send(conversation_id, "Which hook size for the border?"), 201)["message"]

    inbox = json_of(alice.list_conversations(), 200)
    listed = conversation_in(inbox, conversation_id)
    assert listed["unreadCount"] == 1
    assert listed["lastMessage"]["content"] == "Which hook size for the border?"
    assert listed["otherParticipant"]["name"] == USERS[BOB]
    assert inbox["totalUnread"] == unread_before + 1 >= 1

    history = json_of(alice.open_conversation(conversation_id), 200)
    assert [(m["id"], m["isRead"]) for m in history["messages"]] == [(question["id"], False)]

    answer = json_of(alice.send(conversation_id, "A 4 mm hook, same as the squares."), 201)["message"]
    receipt = json_of(alice.mark_read(question["id"]), 200)
    assert receipt["unreadCount"] == 0
    assert receipt["totalUnread"] == unread_before

    seen_by_bob = json_of(bob.open_conversation(conversation_id), 200)["messages"]
    assert [(m["senderId"], m["content"], m["isRead"]) for m in seen_by_bob] == [
        (BOB, "Which hook size for the border?", True),
        (ALICE, "A 4 mm hook, same as the squares.", False),
    ]
    assert seen_by_bob[1]["id"] == answer["id"]
    assert conversation_in(json_of(bob.list_conversations(), 200), conversation_id)["unreadCount"] == 1


def test_a_stranger_cannot_see_the_conversation(stack: RunningStack, blanket_conversation: dict[str, Any]) -> None:
    response = stack.caller(CAROL).open_conversation(blanket_conversation["id"])
    assert json_of(response, 404)["error"]["code"] == "not_found"


def test_a_request_without_a_token_is_unauthorized(stack: RunningStack) -> None:
    response = stack.caller(None).list_conversations()
    error = json_of(response, 401)["error"]
    assert error["code"] == "unauthorized"
    assert error["message"]


def test_concurrent_sends_each_get_their_own_message(stack: RunningStack) -> None:
    """The API server is threaded: parallel sends to one conversation are all served and all stored."""
    senders = [(stack.caller(BOB), ALICE), (stack.caller(ALICE), BOB)] * 3
    with ThreadPoolExecutor(len(senders)) as pool:
        responses = list(pool.map(lambda pair: pair[0].send_to(pair[1], "at the same time"), senders))
    sent = [json_of(response, 201) for response in responses]
    assert len({body["message"]["id"] for body in sent}) == len(senders)
    assert len({body["conversation"]["id"] for body in sent}) == 1


@pytest.mark.parametrize("taken", PORT_VARIABLES)
def test_a_second_stack_on_a_taken_port_names_the_variable(stack: RunningStack, taken: str) -> None:
    env = {**stack.env, **{name: str(free_port()) for name in PORT_VARIABLES}}
    env[taken] = stack.env[taken]
    result = subprocess.run(
        [sys.executable, "-m", "dev.stack"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0
    assert f"{stack.env[taken]} (" in result.stderr
    assert f"set {taken}=" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    # ... and the first stack is unaffected.
    assert requests.get(stack.api_url + "/api/messages", timeout=10).status_code == 401


def test_the_web_client_is_served_with_its_config(stack: RunningStack) -> None:
    assert stack.web_url == f"http://127.0.0.1:{stack.env['DEV_WEB_PORT']}"
    assert stack.web_url in stack.output()
    page = requests.get(stack.web_url + "/", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert '<script type="module" src="boot.js">' in page.text
    script = requests.get(stack.web_url + "/app.js", timeout=10)
    assert script.headers["Content-Type"].startswith("text/javascript")  # browsers refuse modules of other types
    assert 'from "/sdk/index.js"' in script.text  # the package, not a copy of the protocol
    for gone in ("/api.js", "/socket.js"):
        assert requests.get(stack.web_url + gone, timeout=10).status_code == 404, gone
    sdk_dist = ROOT / "clients" / "js" / "dist" / "index.js"
    if sdk_dist.exists():  # built by make client-js / make dev
        sdk = requests.get(stack.web_url + "/sdk/index.js", timeout=10)
        assert sdk.status_code == 200
        assert sdk.headers["Content-Type"].startswith("text/javascript")
        assert sdk.text == sdk_dist.read_text()
    config = requests.get(stack.web_url + "/config.json", timeout=10).json()
    assert (config["apiUrl"], config["wsUrl"]) == (stack.api_url, stack.ws_url)
    assert [user["id"] for user in config["users"]] == list(USERS)
    tokens = {user["id"]: user["token"] for user in config["users"]}
    for user_id, token in tokens.items():  # each demo token is accepted by the API
        response = requests.get(
            stack.api_url + "/api/messages/conversations", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert response.status_code == 200, (user_id, response.text)
    # Nothing but dev/web/: no directory listings, no way out of it.
    for path in (
        "/../stack.py",
        "/%2e%2e/stack.py",
        "/..%2fstack.py",
        "/no-such-dir/",
        "/missing.js",
        "/sdk/../package.json",
        "/sdk/%2e%2e/package.json",
        "/sdk/..%2fpackage.json",
        "/sdk/",
    ):
        assert requests.get(stack.web_url + path, timeout=10).status_code == 404, path


def wait_until_processed(caller: Caller, attachment_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """``GET /api/attachments/{id}`` until its processing (the emulated S3 upload event) is over."""
    deadline = time.monotonic() + timeout
    while True:
        attachment = json_of(caller.request("GET", f"/api/attachments/{attachment_id}"), 200)
        if attachment["attachmentStatus"] != "processing":
            return attachment
        assert time.monotonic() < deadline, f"{attachment_id} still processing after {timeout} s"
        time.sleep(0.1)


def test_a_photo_goes_through_presigned_post_s3_event_and_signed_urls(
    stack: RunningStack, blanket_conversation: dict[str, Any]
) -> None:
    bob, alice = stack.caller(BOB), stack.caller(ALICE)
    photo = png_bytes(800, 600)
    ticket = json_of(
        bob.request(
            "POST",
            "/api/attachments",
            {
                "conversationId": blanket_conversation["id"],
                "fileName": "swatch.png",
                "contentType": "image/png",
                "size": len(photo),
            },
        ),
        201,
    )
    upload = ticket["upload"]
    assert upload["url"].startswith(stack.aws_url + "/")

    # What the browser does: a multipart POST straight to the bucket, signed fields first, the file last,
    # cross-origin from the web client's page (the bucket's CORS rule must list its origin, as on AWS).
    stored = requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("swatch.png", photo, "image/png")},
        headers={"Origin": stack.web_url},
        timeout=10,
    )
    assert stored.status_code == 204, stored.text
    assert stored.headers.get("Access-Control-Allow-Origin") == stack.web_url
    preflight = requests.options(
        upload["url"], headers={"Origin": "http://elsewhere.test", "Access-Control-Request-Method": "POST"}, timeout=10
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers  # moto's allow-everything CORS is off

    # No client call processes the upload: the stack invokes the app's on_upload after the write, as S3 does.
    processed = wait_until_processed(bob, ticket["attachmentId"])
    assert processed["attachmentStatus"] == "ready"
    assert (processed["width"], processed["height"]) == (800, 600)
    assert "S3 upload events emulated for on_upload" in stack.output()

    sent = json_of(
        bob.request(
            "POST",
            "/api/messages",
            {
                "conversationId": blanket_conversation["id"],
                "content": "",
                "attachment": {"attachmentId": ticket["attachmentId"]},
            },
        ),
        201,
    )["message"]
    assert (sent["attachmentType"], sent["attachmentStatus"]) == ("image", "ready")

    history = json_of(alice.open_conversation(blanket_conversation["id"]), 200)["messages"]
    seen = next(message for message in history if message["id"] == sent["id"])
    full = requests.get(seen["attachmentUrl"], timeout=10)
    assert full.status_code == 200
    assert full.headers["Content-Type"] == "image/png"
    assert decoded(full.content) == ("PNG", (800, 600))
    thumbnail = requests.get(seen["thumbnailUrl"], timeout=10)
    assert thumbnail.status_code == 200
    assert thumbnail.headers["Content-Type"] == "image/jpeg"
    image_format, size = decoded(thumbnail.content)
    assert image_format == "JPEG"
    assert max(size) <= 320
    assert size == (320, 240)  # the aspect ratio is kept
