"""The real-time half end to end: real WebSocket clients and real HTTP against ``python -m dev.stack``.

The stack's gateway (dev/ws_gateway.py) runs the app's own Chalice handlers; the app delivers through boto3's
``apigatewaymanagementapi`` client to the gateway's ``@connections`` API, exactly as on AWS.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from urllib.parse import quote

import boto3
import pytest
from websockets.exceptions import InvalidStatus

from dev.seed import ALICE, BOB, CAROL
from tests.e2e.api_client import conversation_in, json_of
from tests.e2e.conftest import RunningStack, start_stack, stop
from tests.e2e.ws_client import LiveSocket, open_socket

pytestmark = pytest.mark.e2e

MAX_MESSAGE_BYTES = 128 * 1024


@pytest.fixture(scope="module")
def conversation_id(stack: RunningStack) -> str:
    """The seed's conversation: bob's first message to alice."""
    listing = json_of(stack.caller(ALICE).list_conversations(), 200)
    [conversation] = [c for c in listing["conversations"] if c["otherParticipant"]["id"] == BOB]
    return conversation["id"]


def join(socket: LiveSocket, conversation_id: str) -> None:
    socket.send("join_conversation", conversationId=conversation_id)
    socket.next("conversation_joined", conversationId=conversation_id)


def bob_online_for_alice(stack: RunningStack, conversation_id: str) -> bool:
    listing = json_of(stack.caller(ALICE).list_conversations(), 200)
    return conversation_in(listing, conversation_id)["otherParticipant"]["online"]


@pytest.mark.parametrize(("token", "status"), [("not-a-jwt", 401), (None, 401), ("service", 403)])
def test_connect_refuses_the_upgrade_with_the_handlers_status(
    stack: RunningStack, token: str | None, status: int
) -> None:
    if token == "service":
        token = stack.token("platform", role="service")
    with pytest.raises(InvalidStatus) as refused:
        open_socket(stack.ws_url, token)
    assert refused.value.response.status_code == status


def test_two_users_talk_over_sockets(stack: RunningStack, conversation_id: str) -> None:
    with stack.socket(ALICE) as alice, stack.socket(BOB) as bob:
        join(alice, conversation_id)
        join(bob, conversation_id)

        bob.send("new_message", conversationId=conversation_id, content="Border done?", clientMessageId="e2e-ws-1")
        sent = bob.next("message_sent", clientMessageId="e2e-ws-1")
        message_id = sent["message"]["id"]
        assert sent["duplicate"] is False
        assert alice.next("message_received", id=message_id)["content"] == "Border done?"
        notice = alice.next("new_message_notification", messageId=message_id)
        assert notice["sender"]["id"] == BOB and notice["preview"] == "Border done?"

        alice.send("typing_start", conversationId=conversation_id)
        assert bob.next("user_typing", userId=ALICE)["conversationId"] == conversation_id
        alice.send("typing_stop", conversationId=conversation_id)
        bob.next("user_stopped_typing", userId=ALICE)

        bob.send("ping", requestId="p1")
        assert bob.next("pong") == {"requestId": "p1"}


def test_closing_a_socket_runs_disconnect(stack: RunningStack, conversation_id: str) -> None:
    with stack.socket(ALICE) as alice:
        join(alice, conversation_id)
        bob = stack.socket(BOB)
        alice.next("presence_update", userId=BOB, online=True)
        assert bob_online_for_alice(stack, conversation_id) is True

        bob.close()

        offline = alice.next("presence_update", userId=BOB, online=False)
        assert offline["lastSeenAt"]
        assert bob_online_for_alice(stack, conversation_id) is False


def test_an_oversized_frame_closes_the_socket_with_1009(stack: RunningStack) -> None:
    with stack.socket(ALICE) as alice:
        alice.send_raw(json.dumps({"action": "ping", "padding": "x" * MAX_MESSAGE_BYTES}))
        closed = alice.closed()
    assert closed.rcvd is not None and closed.rcvd.code == 1009


def test_a_rest_send_is_delivered_live(stack: RunningStack, conversation_id: str) -> None:
    """The REST handler reaches the gateway's @connections API through boto3, as it reaches API Gateway."""
    with stack.socket(ALICE) as alice:
        join(alice, conversation_id)
        sent = json_of(stack.caller(BOB).send(conversation_id, "sent over REST"), 201)["message"]
        assert alice.next("message_received", id=sent["id"])["content"] == "sent over REST"
        alice.next("new_message_notification", messageId=sent["id"])


def test_offline_then_online_catches_up_with_sync(stack: RunningStack, conversation_id: str) -> None:
    alice_rest, bob_rest = stack.caller(ALICE), stack.caller(BOB)
    with stack.socket(ALICE) as alice:
        join(alice, conversation_id)
        cursor = json_of(alice_rest.request("GET", "/api/messages/sync"), 200)["nextCursor"]

    missed = [
        json_of(bob_rest.send(conversation_id, text), 201)["message"]["id"]
        for text in ("first while you were away", "second while you were away")
    ]

    with stack.socket(ALICE) as alice:
        sync = json_of(alice_rest.request("GET", f"/api/messages/sync?since={quote(cursor, safe='')}"), 200)
        # At least once: the cursor looks back a few seconds, so earlier messages may come along.
        assert [m["id"] for m in sync["messages"] if m["id"] in missed] == missed
        assert conversation_id in {c["id"] for c in sync["conversations"]}
        assert sync["hasMore"] is False

        join(alice, conversation_id)
        after = json_of(bob_rest.send(conversation_id, "welcome back"), 201)["message"]
        assert alice.next("new_message_notification", messageId=after["id"])["preview"] == "welcome back"
        alice.next("message_received", id=after["id"])


def test_boto3_drives_the_management_api(stack: RunningStack) -> None:
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=stack.ws_management_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    with stack.socket(CAROL) as carol:
        connection_id = carol.connection_id
        frame = {"event": "from_boto3", "data": {"hello": "carol"}}
        client.post_to_connection(ConnectionId=connection_id, Data=json.dumps(frame).encode())
        assert carol.next("from_boto3") == {"hello": "carol"}

        described = client.get_connection(ConnectionId=connection_id)
        assert isinstance(described["ConnectedAt"], datetime.datetime)
        assert described["Identity"]["SourceIp"] == "127.0.0.1"
        assert "websockets" in described["Identity"]["UserAgent"]

        client.delete_connection(ConnectionId=connection_id)
        carol.closed()
        with pytest.raises(client.exceptions.GoneException):
            client.post_to_connection(ConnectionId=connection_id, Data=b"{}")

    with pytest.raises(client.exceptions.GoneException) as gone:
        client.post_to_connection(ConnectionId="NoSuchConnecti=", Data=b"{}")
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    assert gone.value.response["Error"]["Code"] == "GoneException"


def test_a_stack_with_a_short_idle_timeout_and_a_sigterm_with_sockets_open(tmp_path: Path) -> None:
    """DEV_WS_IDLE_TIMEOUT_SECONDS reaches the gateway; SIGTERM closes open sockets (1001), each gets its
    $disconnect, and the stack still exits 0 (start_stack checks)."""
    with start_stack(tmp_path, DEV_WS_IDLE_TIMEOUT_SECONDS="1") as short:
        with short.socket(ALICE) as idle:
            closed = idle.closed()
        assert closed.rcvd is not None and (closed.rcvd.code, closed.rcvd.reason) == (1001, "idle timeout")

        with short.socket(BOB) as open_at_shutdown:
            assert stop(short.process) == 0
            closed = open_at_shutdown.closed(timeout=1)
        assert closed.rcvd is not None and closed.rcvd.code == 1001
        for connection_id in (idle.connection_id, open_at_shutdown.connection_id):
            assert f"$disconnect {connection_id} (1001" in short.output()


def test_a_message_lives_on_over_real_sockets(stack: RunningStack, conversation_id: str) -> None:
    """Quoted reply, edit, reaction and deletion between two users, through the gateway and @connections."""
    with stack.socket(ALICE) as alice, stack.socket(BOB) as bob, stack.socket(BOB) as bob_phone:
        join(alice, conversation_id)
        join(bob, conversation_id)
        bob.send("new_message", conversationId=conversation_id, content="Border: 4 rounds?", clientMessageId="e2e-l1")
        question = bob.next("message_sent", clientMessageId="e2e-l1")["message"]
        alice.next("message_received", id=question["id"])
        alice.send(
            "new_message",
            conversationId=conversation_id,
            content="Yes, four.",
            clientMessageId="e2e-l2",
            replyTo={"messageId": question["id"]},
        )
        reply = alice.next("message_sent", clientMessageId="e2e-l2")["message"]
        assert reply["replyTo"] == {
            "id": question["id"],
            "senderId": BOB,
            "content": "Border: 4 rounds?",
            "isDeleted": False,
        }

        bob.send("edit_message", messageId=question["id"], content="Border: 5 rounds?", requestId="e1")
        assert bob.next("message_edited", requestId="e1")["message"]["version"] == 2
        updates = [alice.next("message_updated")["message"] for _ in range(2)]
        assert {(m["id"], m["version"]) for m in updates} == {(question["id"], 2), (reply["id"], 2)}
        assert next(m for m in updates if m["id"] == reply["id"])["replyTo"]["content"] == "Border: 5 rounds?"

        alice.send("add_reaction", messageId=question["id"], emoji="🧶", requestId="r1")
        assert alice.next("reaction_added", requestId="r1")["message"]["reactions"][0]["userIds"] == [ALICE]
        for device in (bob, bob_phone):  # the other participant's every connection, joined or not
            reacted = device.next("reaction_updated", messageId=question["id"])
            assert (reacted["emoji"], reacted["action"], reacted["version"]) == ("🧶", "added", 3)

        bob.send("delete_message", messageId=question["id"], requestId="d1")
        tombstone = bob.next("message_removed", requestId="d1")["message"]
        assert (tombstone["isDeleted"], tombstone["content"], tombstone["version"]) == (True, "", 4)
        deleted = alice.next("message_deleted", messageId=question["id"])
        assert (deleted["deletedAt"], deleted["version"]) == (tombstone["deletedAt"], 4)
        assert alice.next("message_updated")["message"]["replyTo"]["isDeleted"] is True

    history = json_of(stack.caller(ALICE).open_conversation(conversation_id), 200)["messages"]
    shown = {m["id"]: m for m in history}
    assert shown[question["id"]]["isDeleted"] is True and shown[reply["id"]]["version"] == 3


def test_watch_presence_over_real_sockets(stack: RunningStack) -> None:
    with stack.socket(ALICE) as alice:
        alice.send("watch_presence", userIds=[BOB, CAROL], requestId="w1")
        watched = alice.next("presence_watched", requestId="w1")
        assert watched["userIds"] == [BOB]  # carol shares no conversation with alice: ignored

        with stack.socket(BOB):
            assert alice.next("presence_update", userId=BOB)["online"] is True
        assert alice.next("presence_update", userId=BOB)["online"] is False


def test_edits_and_reactions_over_real_http(stack: RunningStack, conversation_id: str) -> None:
    """Chalice's local server hands the emoji to the view still percent-encoded (requests encodes a raw one)."""
    bob_rest, alice_rest = stack.caller(BOB), stack.caller(ALICE)
    message = json_of(bob_rest.send(conversation_id, "Which yarn weight?"), 201)["message"]

    edited = json_of(bob_rest.edit(message["id"], "Which yarn weight, DK?"), 200)["message"]
    reacted = json_of(alice_rest.react(message["id"], quote("🧶", safe="")), 200)["message"]
    again = json_of(bob_rest.react(message["id"], "🧶"), 200)["message"]  # requests encodes it on the wire
    refused = alice_rest.react(message["id"], quote("💩", safe=""))
    removed = json_of(alice_rest.react(message["id"], quote("🧶", safe=""), add=False), 200)["message"]
    not_hers = alice_rest.edit(message["id"], "mine")
    deleted = json_of(bob_rest.delete(message["id"]), 200)["message"]

    assert (edited["content"], edited["version"]) == ("Which yarn weight, DK?", 2)
    assert reacted["reactions"] == [{"emoji": "🧶", "count": 1, "userIds": [ALICE]}]
    assert again["reactions"] == [{"emoji": "🧶", "count": 2, "userIds": [ALICE, BOB]}]
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid_reaction")
    assert removed["reactions"] == [{"emoji": "🧶", "count": 1, "userIds": [BOB]}]
    assert (not_hers.status_code, not_hers.json()["error"]["code"]) == (403, "not_sender")
    assert (deleted["isDeleted"], deleted["version"]) == (True, 6)


def test_joins_racing_on_one_socket_cannot_pass_the_room_cap(stack: RunningStack) -> None:
    """The gateway runs one socket's frames concurrently, as API Gateway does: 30 joins sent at once meet the room
    cap (MAX_ROOMS_PER_CONNECTION, 20) in the join's own transaction."""
    platform = stack.caller("platform")
    platform.token = stack.token("platform", role="service")
    racer = stack.caller("racer")
    partners = [f"racer-partner-{index}" for index in range(30)]
    for partner in partners:
        json_of(platform.request("PUT", f"/api/internal/users/{partner}", {"name": partner}), 200)
    conversation_ids = [json_of(racer.send_to(partner, "hi"), 201)["conversation"]["id"] for partner in partners]

    with open_socket(stack.ws_url, stack.token("racer")) as socket:
        for index, conversation_id in enumerate(conversation_ids):
            socket.send("join_conversation", conversationId=conversation_id, requestId=f"j{index}")
        answers = {}
        while len(answers) < len(conversation_ids):
            frame = json.loads(socket.connection.recv(timeout=10))
            answers[frame["data"]["requestId"]] = frame["event"] if frame["event"] != "error" else frame["data"]["code"]

    assert sorted(answers.values()) == ["conversation_joined"] * 20 + ["too_many_rooms"] * 10
