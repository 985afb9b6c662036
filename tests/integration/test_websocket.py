"""The socket protocol end to end at the handler level: connect, rooms, messages, receipts, typing, presence."""

from __future__ import annotations

import time

import jwt
import pytest

from chalicelib.adapters.dynamodb import Connection, Conversation, UserProfile
from chalicelib.domain.connections import parse_connections, parse_room
from chalicelib.domain.ids import conversation_id_for
from chalicelib.settings import get_settings
from tests.integration.conftest import Api, DynamoCalls, token_for
from tests.integration.factories import seed_conversation, seed_inbox
from tests.integration.sockets import Sockets

BLANKET = conversation_id_for("alice", "bob", "p1")


def open_blanket_chat(api: Api) -> str:
    return api.send("bob", recipientId="alice", patternId="p1", content="hello").body["conversation"]["id"]


# --- $connect / $disconnect -------------------------------------------------------------------------


def test_connect_stores_the_connection_with_a_ttl(marketplace: Api, sockets: Sockets) -> None:
    connection_id = sockets.connect("alice")

    stored = Connection.get(connection_id)
    assert stored.user_id == "alice"
    remaining = stored.expires_at.timestamp() - time.time()
    assert 2 * 3600 < remaining <= get_settings().connection_ttl_seconds
    assert connection_id in parse_connections(UserProfile.get("alice").connection_ids)


@pytest.mark.parametrize(
    ("token", "status"),
    [
        (None, 401),
        ("", 401),
        ("garbage", 401),
        ("expired", 401),
        ("wrong key", 401),
        ("service", 403),
    ],
)
def test_connect_refuses_bad_tokens(marketplace: Api, sockets: Sockets, token: str | None, status: int) -> None:
    now = int(time.time())
    tokens = {
        "expired": jwt.encode({"sub": "bob", "exp": now - 60}, get_settings().jwt_secret, algorithm="HS256"),
        "wrong key": jwt.encode({"sub": "bob", "exp": now + 60}, "other-key-0123456789-0123456789-xx", "HS256"),
        "service": token_for("platform", role="service"),
    }

    assert sockets.connect_status(tokens.get(token, token)) == status
    assert Connection.count() == 0


def test_disconnect_forgets_the_connection_and_its_rooms(marketplace: Api, sockets: Sockets) -> None:
    open_blanket_chat(marketplace)
    connection_id = sockets.connect("alice")
    sockets.send(connection_id, "join_conversation", conversationId=BLANKET)
    [(joined, member)] = parse_room(Conversation.get(BLANKET).room).items()
    assert (joined, member.user_id) == (connection_id, "alice")

    sockets.disconnect(connection_id)

    assert Connection.count() == 0
    assert not Conversation.get(BLANKET).room
    profile = UserProfile.get("alice")
    assert not profile.connection_ids and profile.last_seen_at
    assert not UserProfile.get("bob").watcher_ids


def test_disconnect_of_an_unknown_connection_is_harmless(marketplace: Api, sockets: Sockets) -> None:
    sockets.disconnect("never-seen=")

    assert Connection.count() == 0


# --- frames that are not valid ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_frame"),
        ('"just a string"', "invalid_frame"),
        ('{"action": "dance"}', "unknown_action"),
        ('{"content": "no action"}', "unknown_action"),
        ('{"action": "join_conversation"}', "invalid_request"),
        ('{"action": "join_conversation", "conversationId": "x", "extra": 1}', "invalid_request"),
        ('{"action": "ping", "requestId": "has spaces"}', "invalid_frame"),
        ("[" * 5000 + "]" * 5000, "invalid_json"),
    ],
)
def test_bad_frames_get_an_error_event(marketplace: Api, sockets: Sockets, body: str, code: str) -> None:
    connection_id = sockets.connect("alice")

    sockets.send_raw(connection_id, body)

    errors = sockets.events(connection_id, "error")
    assert len(errors) == 1
    assert errors[0]["code"] == code and errors[0]["message"]


def test_oversized_frames_are_refused(marketplace: Api, sockets: Sockets) -> None:
    connection_id = sockets.connect("alice")

    sockets.send(connection_id, "new_message", conversationId=BLANKET, content="x" * (130 * 1024))

    [error] = sockets.events(connection_id, "error")
    assert error["code"] == "payload_too_large"


def test_ping_gets_pong_with_the_request_id(marketplace: Api, sockets: Sockets) -> None:
    connection_id = sockets.connect("alice")

    sockets.send(connection_id, "ping", requestId="r-1")

    assert sockets.frames(connection_id) == [{"event": "pong", "data": {"requestId": "r-1"}}]


def test_frames_on_an_unknown_connection_are_refused(marketplace: Api, sockets: Sockets) -> None:
    sockets.send("ghost=", "join_conversation", conversationId=BLANKET)

    [error] = sockets.events("ghost=", "error")
    assert error["code"] == "not_found" and error["action"] == "join_conversation"


def test_frames_after_the_token_expired_are_refused(marketplace: Api, sockets: Sockets) -> None:
    short = jwt.encode({"sub": "alice", "exp": int(time.time()) + 2}, get_settings().jwt_secret, algorithm="HS256")
    connection_id = sockets.connect("alice", token=short)
    Connection(connection_id).update(actions=[Connection.token_expires_at.set("2000-01-01T00:00:00.000Z")])

    sockets.send(connection_id, "typing_start", conversationId=BLANKET)

    [error] = sockets.events(connection_id, "error")
    assert error["code"] == "token_expired"


# --- authorization on every action ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("join_conversation", {"conversationId": BLANKET}),
        ("leave_conversation", {"conversationId": BLANKET}),
        ("typing_start", {"conversationId": BLANKET}),
        ("typing_stop", {"conversationId": BLANKET}),
        ("new_message", {"conversationId": BLANKET, "content": "intrusion"}),
        ("message_read", {"messageId": BLANKET.replace("conv_", "msg_") + "_1"}),
        ("message_read", {"messageId": BLANKET.replace("conv_", "msg_") + "_1", "markConversation": True}),
    ],
)
def test_a_stranger_gets_not_found_for_every_action(
    marketplace: Api, sockets: Sockets, action: str, fields: dict
) -> None:
    open_blanket_chat(marketplace)
    alice = sockets.connect("alice")
    sockets.send(alice, "join_conversation", conversationId=BLANKET)
    carol = sockets.connect("carol")
    sockets.clear()

    sockets.send(carol, action, **fields)

    [error] = sockets.events(carol, "error")
    assert (error["code"], error["action"]) == ("not_found", action)
    assert sockets.frames(alice) == []
    assert Conversation.get(BLANKET).message_count == 1


def test_forged_sender_id_is_ignored(marketplace: Api, sockets: Sockets) -> None:
    open_blanket_chat(marketplace)
    bob = sockets.connect("bob")

    sockets.send(bob, "new_message", conversationId=BLANKET, content="it's me", senderId="alice")

    [ack] = sockets.events(bob, "message_sent")
    assert ack["message"]["senderId"] == "bob" and ack["message"]["recipientId"] == "alice"


# --- messages -----------------------------------------------------------------------------------------


def test_socket_send_is_stored_acknowledged_and_delivered(marketplace: Api, sockets: Sockets) -> None:
    open_blanket_chat(marketplace)
    alice_viewing, alice_phone = sockets.connect("alice"), sockets.connect("alice")
    bob_tab, bob_other_tab = sockets.connect("bob"), sockets.connect("bob")
    for connection in (alice_viewing, bob_tab, bob_other_tab):
        sockets.send(connection, "join_conversation", conversationId=BLANKET)
    sockets.clear()

    sockets.send(bob_tab, "new_message", conversationId=BLANKET, content="Row 3?", clientMessageId="k1")

    [ack] = sockets.events(bob_tab, "message_sent")
    assert ack["clientMessageId"] == "k1" and ack["duplicate"] is False
    stored = marketplace.conversation("alice", BLANKET).body["messages"][-1]
    assert ack["message"] == stored
    assert sockets.events(alice_viewing, "message_received") == [stored]
    assert sockets.events(bob_other_tab, "message_received") == [stored]  # the sender's other tab
    assert sockets.events(bob_tab, "message_received") == []  # the ack answers the origin
    assert sockets.events(alice_phone, "message_received") == []  # not joined to the room
    for device in (alice_viewing, alice_phone):
        [notice] = sockets.events(device, "new_message_notification")
        assert notice["conversationId"] == BLANKET and notice["messageId"] == stored["id"]
        assert notice["preview"] == "Row 3?" and notice["sender"]["id"] == "bob"
        assert notice["unreadCount"] == 2 and notice["totalUnread"] == 2
    assert sockets.events(bob_other_tab, "new_message_notification") == []


def test_rest_sends_are_delivered_exactly_like_socket_sends(marketplace: Api, sockets: Sockets) -> None:
    open_blanket_chat(marketplace)
    alice = sockets.connect("alice")
    sockets.send(alice, "join_conversation", conversationId=BLANKET)
    sockets.clear()

    sent = marketplace.send("bob", conversationId=BLANKET, content="over REST").body["message"]

    assert sockets.events(alice, "message_received") == [sent]
    assert sockets.events(alice, "new_message_notification")[0]["messageId"] == sent["id"]


def test_socket_retry_with_same_client_message_id_is_one_message(marketplace: Api, sockets: Sockets) -> None:
    open_blanket_chat(marketplace)
    alice = sockets.connect("alice")
    sockets.send(alice, "join_conversation", conversationId=BLANKET)
    bob = sockets.connect("bob")
    sockets.clear()

    for _ in range(2):
        sockets.send(bob, "new_message", conversationId=BLANKET, content="once", clientMessageId="dup")
    marketplace.send("bob", conversationId=BLANKET, content="once", clientMessageId="dup")

    acks = sockets.events(bob, "message_sent")
    assert [a["duplicate"] for a in acks] == [False, True]
    assert acks[0]["message"]["id"] == acks[1]["message"]["id"]
    assert Conversation.get(BLANKET).message_count == 2
    assert len(sockets.events(alice, "message_received")) == 1


def test_first_message_notifies_the_recipient_of_a_new_conversation(marketplace: Api, sockets: Sockets) -> None:
    alice = sockets.connect("alice")
    bob = sockets.connect("bob")

    sockets.send(bob, "new_message", recipientId="alice", patternId="p1", content="Hi Alice")

    [notice] = sockets.events(alice, "notification")
    assert notice["type"] == "conversation_opened"
    assert notice["conversationId"] == BLANKET and notice["patternId"] == "p1"
    assert notice["by"]["id"] == "bob"
    [ack] = sockets.events(bob, "message_sent")
    assert ack["conversation"]["id"] == BLANKET


def test_socket_send_refusals_match_rest(marketplace: Api, sockets: Sockets) -> None:
    carol = sockets.connect("carol")

    sockets.send(carol, "new_message", recipientId="alice", patternId="p1", content="can I?")
    sockets.send(carol, "new_message", recipientId="alice", content="")

    codes = [e["code"] for e in sockets.events(carol, "error")]
    assert codes == ["purchase_required", "invalid_request"]


# --- read receipts --------------------------------------------------------------------------------------


def test_message_read_updates_the_room_and_the_sender(marketplace: Api, sockets: Sockets) -> None:
    first = marketplace.send("bob", recipientId="alice", patternId="p1", content="one").body["message"]
    marketplace.send("bob", conversationId=BLANKET, content="two")
    alice = sockets.connect("alice")
    alice_phone = sockets.connect("alice")
    bob_elsewhere = sockets.connect("bob")
    sockets.send(alice, "join_conversation", conversationId=BLANKET)
    sockets.clear()

    sockets.send(alice, "message_read", messageId=first["id"], requestId="read-1")

    [ack] = sockets.events(alice, "read_updated")
    assert ack["unreadCount"] == 1 and ack["totalUnread"] == 1 and ack["requestId"] == "read-1"
    [update] = sockets.events(bob_elsewhere, "message_read_update")
    assert update == {
        "conversationId": BLANKET,
        "readerId": "alice",
        "lastReadMessageId": first["id"],
        "readAt": ack["readAt"],
    }
    assert sockets.events(alice, "message_read_update") == [update]  # the room
    assert sockets.events(alice_phone, "message_read_update") == []

    sockets.clear()
    sockets.send(alice, "message_read", messageId=first["id"])  # nothing new: nothing announced
    assert sockets.events(bob_elsewhere, "message_read_update") == []
    sockets.send(alice, "message_read", messageId=first["id"], markConversation=True)
    assert sockets.events(alice, "read_updated")[-1]["unreadCount"] == 0


def test_only_the_recipient_marks_a_message_over_the_socket(marketplace: Api, sockets: Sockets) -> None:
    first = marketplace.send("bob", recipientId="alice", patternId="p1", content="one").body["message"]
    bob = sockets.connect("bob")

    sockets.send(bob, "message_read", messageId=first["id"])

    [error] = sockets.events(bob, "error")
    assert error["code"] == "not_recipient"


# --- typing ---------------------------------------------------------------------------------------------


def test_typing_reaches_the_room_but_not_the_typist(marketplace: Api, sockets: Sockets) -> None:
    open_blanket_chat(marketplace)
    alice, bob, bob_phone = sockets.connect("alice"), sockets.connect("bob"), sockets.connect("bob")
    for connection in (alice, bob, bob_phone):
        sockets.send(connection, "join_conversation", conversationId=BLANKET)
    sockets.clear()

    sockets.send(bob, "typing_start", conversationId=BLANKET)
    sockets.send(bob, "typing_stop", conversationId=BLANKET)

    assert sockets.frames(alice) == [
        {"event": "user_typing", "data": {"conversationId": BLANKET, "userId": "bob", "timeoutMs": 2000}},
        {"event": "user_stopped_typing", "data": {"conversationId": BLANKET, "userId": "bob"}},
    ]
    assert sockets.frames(bob) == [] and sockets.frames(bob_phone) == []
    assert Conversation.get(BLANKET).message_count == 1  # nothing stored


# --- rooms ------------------------------------------------------------------------------------------------


def test_leaving_stops_room_events(marketplace: Api, sockets: Sockets) -> None:
    open_blanket_chat(marketplace)
    alice = sockets.connect("alice")
    sockets.send(alice, "join_conversation", conversationId=BLANKET)
    sockets.send(alice, "join_conversation", conversationId=BLANKET)  # idempotent
    sockets.send(alice, "leave_conversation", conversationId=BLANKET)
    sockets.clear()

    marketplace.send("bob", conversationId=BLANKET, content="anyone?")
    sockets.send(alice, "leave_conversation", conversationId=BLANKET)

    assert sockets.events(alice, "message_received") == []
    assert len(sockets.events(alice, "new_message_notification")) == 1
    assert sockets.events(alice, "error")[0]["code"] == "not_found"
    assert not Conversation.get(BLANKET).room


def test_a_connection_joins_a_bounded_number_of_rooms(
    marketplace: Api, sockets: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_ROOMS_PER_CONNECTION", "2")
    get_settings.cache_clear()
    try:
        conversation_ids = []
        for index in range(3):
            marketplace.user(f"fan{index}")
            conversation_ids.append(marketplace.send(f"fan{index}", recipientId="alice").body["conversation"]["id"])
        alice = sockets.connect("alice")
        for conversation_id in conversation_ids:
            sockets.send(alice, "join_conversation", conversationId=conversation_id)
    finally:
        get_settings.cache_clear()

    assert len(sockets.events(alice, "conversation_joined")) == 2
    assert sockets.events(alice, "error")[0]["code"] == "too_many_rooms"


# --- presence -----------------------------------------------------------------------------------------


def test_presence_goes_to_those_watching_and_shows_in_rest(marketplace: Api, sockets: Sockets) -> None:
    open_blanket_chat(marketplace)
    alice = sockets.connect("alice")
    sockets.send(alice, "join_conversation", conversationId=BLANKET)
    sockets.clear()

    bob_laptop = sockets.connect("bob")
    bob_phone = sockets.connect("bob")  # not the first: no second announcement
    online = marketplace.conversations("alice").body["conversations"][0]["otherParticipant"]
    sockets.disconnect(bob_laptop)  # not the last: still online
    sockets.disconnect(bob_phone)
    offline = marketplace.conversations("alice").body["conversations"][0]["otherParticipant"]

    updates = sockets.events(alice, "presence_update")
    assert [(u["userId"], u["online"]) for u in updates] == [("bob", True), ("bob", False)]
    assert online["online"] is True
    assert offline["online"] is False and offline["lastSeenAt"] == updates[-1]["lastSeenAt"]


def test_connections_that_outlived_api_gateway_do_not_keep_a_user_online(marketplace: Api, sockets: Sockets) -> None:
    open_blanket_chat(marketplace)
    sockets.connect("bob")  # its $disconnect will never come
    UserProfile("bob").update(actions=[UserProfile.presence_expires_at.set("2000-01-01T00:00:00.000Z")])
    alice = sockets.connect("alice")
    sockets.send(alice, "join_conversation", conversationId=BLANKET)

    assert marketplace.conversations("alice").body["conversations"][0]["otherParticipant"]["online"] is False
    sockets.clear()
    fresh = sockets.connect("bob")

    assert [u["online"] for u in sockets.events(alice, "presence_update")] == [True]
    assert set(parse_connections(UserProfile.get("bob").connection_ids)) == {fresh}


# --- the seed's scenarios at the handler level -----------------------------------------------------------


def test_pattern_purchase_flow(marketplace: Api, sockets: Sockets) -> None:
    """Buyer opens the pattern conversation, asks; the creator is notified, answers; the buyer sees it live."""
    alice, bob = sockets.connect("alice"), sockets.connect("bob")
    opened = marketplace.call("GET", "/api/messages/pattern/p1", "bob").body["conversation"]
    sockets.send(bob, "join_conversation", conversationId=opened["id"])
    sockets.send(bob, "new_message", conversationId=opened["id"], content="Which yarn weight?")

    [notice] = sockets.events(alice, "new_message_notification")
    assert notice["preview"] == "Which yarn weight?" and notice["totalUnread"] == 1
    sockets.send(alice, "join_conversation", conversationId=opened["id"])
    sockets.send(alice, "message_read", messageId=notice["messageId"])
    sockets.send(alice, "new_message", conversationId=opened["id"], content="DK weight!")

    [answer] = sockets.events(bob, "message_received")
    assert answer["content"] == "DK weight!" and answer["senderId"] == "alice"
    [receipt] = sockets.events(bob, "message_read_update")
    assert receipt["lastReadMessageId"] == notice["messageId"]
    assert marketplace.conversations("bob").body["totalUnread"] == 1


def test_multi_conversation(marketplace: Api, sockets: Sockets) -> None:
    """Switching rooms, per-conversation unread counts and previews."""
    marketplace.send("bob", recipientId="alice", patternId="p1", content="blanket?")
    direct = marketplace.send("carol", recipientId="alice", content="hi!").body["conversation"]["id"]
    alice = sockets.connect("alice")
    sockets.send(alice, "join_conversation", conversationId=BLANKET)
    sockets.send(alice, "leave_conversation", conversationId=BLANKET)
    sockets.send(alice, "join_conversation", conversationId=direct)
    sockets.clear()

    marketplace.send("bob", conversationId=BLANKET, content="still there?")
    marketplace.send("carol", conversationId=direct, content="new pattern soon?")

    assert [m["content"] for m in sockets.events(alice, "message_received")] == ["new pattern soon?"]
    notices = {n["conversationId"]: n["unreadCount"] for n in sockets.events(alice, "new_message_notification")}
    assert notices == {BLANKET: 2, direct: 2}
    listed = {c["id"]: c for c in marketplace.conversations("alice").body["conversations"]}
    assert listed[BLANKET]["lastMessage"]["content"] == "still there?"
    assert listed[direct]["lastMessage"]["content"] == "new pattern soon?"
    assert [c["id"] for c in marketplace.conversations("alice").body["conversations"]] == [direct, BLANKET]


# --- cost -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["join_conversation", "typing_start", "new_message", "message_read"])
def test_socket_actions_cost_the_same_at_any_size(
    marketplace: Api, sockets: Sockets, dynamo_calls: DynamoCalls, action: str
) -> None:
    open_blanket_chat(marketplace)
    bob = sockets.connect("bob")
    alice = sockets.connect("alice")
    sockets.send(alice, "join_conversation", conversationId=BLANKET)

    def measure() -> int:
        latest = marketplace.send("bob", conversationId=BLANKET, content="unread").body["message"]
        fields = {
            "join_conversation": {"conversationId": BLANKET},
            "typing_start": {"conversationId": BLANKET},
            "new_message": {"conversationId": BLANKET, "content": "measured"},
            "message_read": {"messageId": latest["id"]},
        }[action]
        connection = (
            alice if action == "message_read" else sockets.connect("bob") if action == "join_conversation" else bob
        )
        sockets.clear()
        dynamo_calls.reset()
        sockets.send(connection, action, **fields)
        assert not sockets.events(connection, "error"), sockets.events(connection, "error")
        return dynamo_calls.total

    small = measure()
    seed_conversation("bob", "alice", 1000, "p1")
    seed_inbox("alice", 300)
    large = measure()

    assert small == large
    assert large <= {"join_conversation": 3, "typing_start": 2, "new_message": 4, "message_read": 4}[action]


def test_opening_a_pattern_conversation_tells_the_creator(marketplace: Api, sockets: Sockets) -> None:
    alice = sockets.connect("alice")

    first = marketplace.call("GET", "/api/messages/pattern/p1", "bob")
    again = marketplace.call("GET", "/api/messages/pattern/p1", "bob")

    assert (first.status, again.status) == (201, 200)
    [notice] = sockets.events(alice, "notification")  # once: only when it was created
    assert notice["type"] == "conversation_opened" and notice["conversationId"] == BLANKET
    assert notice["by"]["id"] == "bob" and notice["title"] == "Granny Square Blanket"


def test_a_frame_with_a_lone_surrogate_is_refused(marketplace: Api, sockets: Sockets) -> None:
    open_blanket_chat(marketplace)
    bob = sockets.connect("bob")

    frame = '{"action": "new_message", "conversationId": "CID", "content": "a\\ud800b"}'.replace("CID", BLANKET)
    sockets.send_raw(bob, frame)

    [error] = sockets.events(bob, "error")
    assert error["code"] == "invalid_json"
    assert Conversation.get(BLANKET).message_count == 1
