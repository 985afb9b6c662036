"""Issue 16 end to end on the running local stack: archive, mute, message requests and blocks through real HTTP and
real WebSocket clients (``python -m dev.stack``)."""

from __future__ import annotations

import pytest

from dev.seed import ALICE, BOB, CAROL
from tests.e2e.api_client import json_of
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

QUIET_SECONDS = 1.5  # how long a socket is watched for an event that must not come


@pytest.fixture(scope="module")
def blanket(stack: RunningStack) -> str:
    """The seed's conversation: bob's first message to alice (bob bought the blanket)."""
    listing = json_of(stack.caller(ALICE).list_conversations(), 200)
    [conversation] = [c for c in listing["conversations"] if c["otherParticipant"]["id"] == BOB]
    return str(conversation["id"])


def folder(stack: RunningStack, user: str, name: str) -> list[str]:
    body = json_of(stack.caller(user).request("GET", f"/api/messages/conversations?folder={name}"), 200)
    return [c["id"] for c in body["conversations"]]


def settings(stack: RunningStack, user: str, conversation_id: str, **body: object) -> dict[str, object]:
    path = f"/api/messages/conversations/{conversation_id}/settings"
    return json_of(stack.caller(user).request("PUT", path, body), 200)


def test_archive_then_the_other_participant_brings_it_back(stack: RunningStack, blanket: str) -> None:
    with stack.socket(ALICE) as other_device:
        answer = settings(stack, ALICE, blanket, archived=True)

        assert answer == {"settings": {"archived": True, "mutedUntil": None, "isMuted": False}}
        assert other_device.next("conversation_updated", conversationId=blanket)["settings"]["archived"] is True
    assert blanket not in folder(stack, ALICE, "inbox") and blanket in folder(stack, ALICE, "archived")

    json_of(stack.caller(BOB).send(blanket, "still there?"), 201)

    assert blanket in folder(stack, ALICE, "inbox") and blanket not in folder(stack, ALICE, "archived")


def test_a_muted_conversation_counts_unread_and_notifies_nobody(stack: RunningStack, blanket: str) -> None:
    settings(stack, ALICE, blanket, mutedUntil="2999-01-01T00:00:00Z")
    before = json_of(stack.caller(ALICE).list_conversations(), 200)["totalUnread"]
    with stack.socket(ALICE) as alice:
        json_of(stack.caller(BOB).send(blanket, "muted?"), 201)
        with pytest.raises(AssertionError, match="no new_message_notification"):
            alice.next("new_message_notification", timeout=QUIET_SECONDS)
    assert json_of(stack.caller(ALICE).list_conversations(), 200)["totalUnread"] == before + 1

    settings(stack, ALICE, blanket, mutedUntil=None)
    with stack.socket(ALICE) as alice:
        json_of(stack.caller(BOB).send(blanket, "and now?"), 201)
        assert alice.next("new_message_notification", conversationId=blanket)["preview"] == "and now?"


def test_a_strangers_message_to_a_creator_waits_in_requests(stack: RunningStack) -> None:
    sent = json_of(stack.caller(CAROL).send_to(ALICE, "Do you sell the fox as a kit?"), 201)
    request = sent["conversation"]["id"]

    listing = json_of(stack.caller(ALICE).list_conversations(), 200)
    assert request not in [c["id"] for c in listing["conversations"]]
    assert request in folder(stack, ALICE, "requests") and listing["requestsCount"] >= 1

    settings(stack, ALICE, request, accepted=True)
    assert request in folder(stack, ALICE, "inbox") and request not in folder(stack, ALICE, "requests")


def test_a_block_refuses_sends_either_way_over_rest_and_socket(stack: RunningStack, blanket: str) -> None:
    blocked = json_of(stack.caller(ALICE).request("PUT", f"/api/me/blocks/{BOB}"), 201)
    assert blocked["block"]["userId"] == BOB
    assert [b["userId"] for b in json_of(stack.caller(ALICE).request("GET", "/api/me/blocks"), 200)["blocks"]] == [BOB]
    try:
        for sender in (BOB, ALICE):
            refused = stack.caller(sender).send(blanket, "hello?")
            assert (refused.status_code, refused.json()["error"]["code"]) == (403, "recipient_unavailable")
        with stack.socket(BOB) as bob:
            bob.send("new_message", conversationId=blanket, content="over the socket")
            assert bob.next("error", action="new_message")["code"] == "recipient_unavailable"
            bob.send("join_conversation", conversationId=blanket)
            assert bob.next("error", action="join_conversation")["code"] == "recipient_unavailable"
    finally:
        json_of(stack.caller(ALICE).request("DELETE", f"/api/me/blocks/{BOB}"), 200)

    json_of(stack.caller(BOB).send(blanket, "unblocked"), 201)
