"""The dev stack end to end: real HTTP against ``python -m dev.stack`` (Chalice local server on moto)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from dev.seed import ALICE, BOB, CAROL, GRANNY_SQUARE, USERS
from tests.e2e.api_client import conversation_in, json_of
from tests.e2e.conftest import PORT_VARIABLES, ROOT, RunningStack, free_port

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
