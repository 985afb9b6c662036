"""When PostToConnection or DynamoDB fails: a stored message is never lost to a delivery failure, gone
connections are forgotten, other failures are only logged, and a failed write stores nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber
from pynamodb.exceptions import DoesNotExist

from chalicelib.adapters.connections import ConnectionsClient, management_url
from chalicelib.adapters.dynamodb import (
    Connection,
    Conversation,
    IdempotencyRecord,
    Membership,
    Message,
    TimelineEntry,
    UserProfile,
)
from chalicelib.bootstrap import Services
from chalicelib.domain.connections import parse_connections, parse_room
from chalicelib.domain.delivery import Outcome
from chalicelib.domain.ids import conversation_id_for
from chalicelib.schemas.events import Pong, frame
from chalicelib.settings import get_settings
from tests.integration.conftest import Api
from tests.integration.sockets import Sockets

PATTERN_CHAT = conversation_id_for("alice", "bob", "p1")
FRAME = frame("pong", Pong())


def post_error(code: str, status: int) -> ClientError:
    """What botocore raises for a PostToConnection answered with ``status`` / ``code``."""
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PostToConnection"
    )


GONE = post_error("GoneException", 410)
BROKEN = post_error("InternalServerError", 500)
THROTTLED = post_error("LimitExceededException", 429)


@dataclass
class FaultyManagementApi:
    """The real (moto) ``@connections`` client, except for the connections told to fail."""

    real: Any
    faults: dict[str, Exception] = field(default_factory=dict)
    every_post: Exception | None = None
    attempts: list[str] = field(default_factory=list)

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        self.attempts.append(ConnectionId)
        fault = self.every_post or self.faults.get(ConnectionId)
        if fault is not None:
            raise fault
        return self.real.post_to_connection(ConnectionId=ConnectionId, Data=Data)

    def delete_connection(self, *, ConnectionId: str) -> dict[str, Any]:
        return self.real.delete_connection(ConnectionId=ConnectionId)

    def get_connection(self, *, ConnectionId: str) -> dict[str, Any]:
        if ConnectionId in self.faults:
            raise self.faults[ConnectionId]
        return self.real.get_connection(ConnectionId=ConnectionId)


def real_client() -> Any:
    """The app's own ``@connections`` client, as bootstrap builds it (moto's backend under mock_aws)."""
    client = ConnectionsClient(get_settings()).client
    assert client is not None
    return client


@pytest.fixture
def management_api(aws: None, install_services: Callable[..., Services]) -> FaultyManagementApi:
    """The app runs on a ``@connections`` adapter whose client fails the posts a test tells it to."""
    faulty = FaultyManagementApi(real_client())
    install_services(connections=ConnectionsClient(get_settings(), client=faulty))
    return faulty


# --- one post --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "outcome"),
    [
        (None, 200, Outcome.DELIVERED),
        ("GoneException", 410, Outcome.GONE),
        ("LimitExceededException", 429, Outcome.FAILED),
        ("InternalServerError", 500, Outcome.FAILED),
        ("ForbiddenException", 403, Outcome.FAILED),
    ],
)
def test_a_single_post_maps_the_service_answer_to_an_outcome(
    aws: None, code: str | None, status: int, outcome: Outcome
) -> None:
    client = real_client()
    expected = {"ConnectionId": "conn-1=", "Data": FRAME}
    with Stubber(client) as stubber:
        if code is None:
            stubber.add_response("post_to_connection", {}, expected)
        else:
            stubber.add_client_error(
                "post_to_connection", service_error_code=code, http_status_code=status, expected_params=expected
            )

        result = ConnectionsClient(get_settings(), client=client).post("conn-1=", FRAME)

        stubber.assert_no_pending_responses()
    assert result is outcome


POST_FAULTS: dict[str, tuple[Exception, Outcome]] = {
    "gone": (GONE, Outcome.GONE),
    "internal error": (BROKEN, Outcome.FAILED),
    "throttled": (THROTTLED, Outcome.FAILED),
    "connection lost": (EndpointConnectionError(endpoint_url="https://testws0001.invalid"), Outcome.FAILED),
}


@pytest.mark.parametrize("fault", sorted(POST_FAULTS))
def test_a_post_never_raises_and_fails_only_its_own_connection(management_api: FaultyManagementApi, fault: str) -> None:
    error, outcome = POST_FAULTS[fault]
    management_api.faults["conn-1="] = error

    connections = ConnectionsClient(get_settings(), client=management_api)

    outcomes = connections.post_many(["conn-1=", "conn-2=", "conn-1="], FRAME)

    assert outcomes == {"conn-1=": outcome, "conn-2=": Outcome.DELIVERED}
    assert sorted(management_api.attempts) == ["conn-1=", "conn-2="]


def test_without_an_endpoint_nothing_is_posted(management_api: FaultyManagementApi) -> None:
    unconfigured = replace(get_settings(), websocket_management_url=None, websocket_api_id=None)
    connections = ConnectionsClient(unconfigured)

    assert management_url(unconfigured) is None
    assert connections.post("conn-1=", FRAME) is Outcome.FAILED
    assert management_api.attempts == []


def test_a_socket_event_supplies_the_endpoint_configuration_left_out() -> None:
    unconfigured = replace(get_settings(), websocket_management_url=None, websocket_api_id=None, websocket_stage=None)
    connections = ConnectionsClient(unconfigured)

    connections.learn_endpoint("abc123", "v1")
    connections.learn_endpoint("other", "v2")  # the first one stays: one container serves one API

    assert connections.url == "https://abc123.execute-api.us-east-1.amazonaws.com/v1"


# --- fan-out with mixed outcomes -------------------------------------------------------------------------------


@dataclass
class Room:
    """Alice's three devices, all joined to the p1 conversation (one healthy, one gone, one broken), and
    Bob's socket, opened beforehand so that his coming online is not what finds the gone connection."""

    conversation_id: str
    healthy: str
    gone: str
    broken: str
    bobs_socket: str

    @property
    def all(self) -> list[str]:
        return [self.healthy, self.gone, self.broken]


@pytest.fixture
def room(marketplace: Api, sockets: Sockets, management_api: FaultyManagementApi) -> Room:
    """The room, set up through the real flow; posts made while setting it up are not counted."""
    opened = marketplace.send("bob", recipientId="alice", patternId="p1", content="opening the conversation")
    assert opened.status == 201, opened.body
    connections = [sockets.connect("alice") for _ in range(3)]
    for connection_id in connections:
        sockets.send(connection_id, "join_conversation", conversationId=PATTERN_CHAT)
        assert sockets.events(connection_id, "conversation_joined") == [{"conversationId": PATTERN_CHAT}]
    bobs_socket = sockets.connect("bob")
    sockets.clear()
    management_api.attempts.clear()
    return Room(PATTERN_CHAT, *connections, bobs_socket=bobs_socket)


def connection_exists(connection_id: str) -> bool:
    try:
        Connection.get(connection_id, consistent_read=True)
    except DoesNotExist:
        return False
    return True


def known_to_the_store(connection_id: str, conversation_id: str) -> dict[str, bool]:
    """Every place a connection of alice's joined to her chat with bob is remembered."""
    conversation = Conversation.get(conversation_id, consistent_read=True)
    alice = UserProfile.get("alice", consistent_read=True)
    bob = UserProfile.get("bob", consistent_read=True)
    return {
        "connection": connection_exists(connection_id),
        "room": parse_room(conversation.room).get(connection_id) is not None,
        "alice's connections": connection_id in parse_connections(alice.connection_ids),
        "bob's watchers": connection_id in parse_connections(bob.watcher_ids),
    }


def stored_contents(conversation_id: str) -> list[str]:
    return [message.content for message in Message.query(conversation_id, consistent_read=True)]


def send_through(door: str, api: Api, sockets: Sockets, room: Room, content: str) -> dict[str, Any]:
    """Bob sends into the p1 conversation over REST or over his socket; the message as he was answered."""
    if door == "rest":
        response = api.send("bob", conversationId=room.conversation_id, content=content)
        assert response.status == 201, response.body
        return response.body["message"]
    sockets.send(room.bobs_socket, "new_message", conversationId=room.conversation_id, content=content, requestId="r1")
    acks = sockets.events(room.bobs_socket, "message_sent")
    assert [(ack["requestId"], ack["duplicate"]) for ack in acks] == [("r1", False)], sockets.frames(room.bobs_socket)
    return acks[-1]["message"]


@pytest.mark.parametrize("door", ["rest", "socket"])
def test_a_send_survives_gone_and_broken_connections(
    marketplace: Api, sockets: Sockets, management_api: FaultyManagementApi, room: Room, door: str
) -> None:
    management_api.faults.update({room.gone: GONE, room.broken: BROKEN})

    message = send_through(door, marketplace, sockets, room, "does the pattern come in US terms?")

    assert stored_contents(PATTERN_CHAT)[-1] == "does the pattern come in US terms?"
    assert message["content"] == "does the pattern come in US terms?"
    assert [m["id"] for m in sockets.events(room.healthy, "message_received")] == [message["id"]]
    notices = sockets.events(room.healthy, "new_message_notification")
    assert [(n["messageId"], n["unreadCount"]) for n in notices] == [(message["id"], 2)]
    assert sockets.frames(room.gone) == [] and sockets.frames(room.broken) == []
    # Each live device was tried for message_received and new_message_notification, none retried; the gone
    # one only once (forgotten after the first 410); a socket sender also got its ack.
    acks = [room.bobs_socket] if door == "socket" else []
    expected = [cid for cid in room.all if cid != room.gone] * 2 + [room.gone] + acks
    assert sorted(management_api.attempts) == sorted(expected)
    # Gone: forgotten everywhere. Broken (a 500): kept, the next post may well succeed.
    assert known_to_the_store(room.gone, PATTERN_CHAT) == dict.fromkeys(
        ["connection", "room", "alice's connections", "bob's watchers"], False
    )
    for kept in (room.healthy, room.broken):
        assert all(known_to_the_store(kept, PATTERN_CHAT).values()), kept


def test_a_connection_still_connecting_is_not_forgotten_when_a_post_to_it_is_gone(
    marketplace: Api,
    sockets: Sockets,
    management_api: FaultyManagementApi,
    room: Room,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """API Gateway answers 410 to a post until the connection's $connect has returned: a fan-out racing a
    reconnect must not forget the new socket (it would be left without its rooms: a 404 on its next frame)."""
    monkeypatch.setenv("CONNECT_GRACE_SECONDS", "30")
    get_settings.cache_clear()
    management_api.faults[room.gone] = GONE

    send_through("rest", marketplace, sockets, room, "sent while alice's third tab connects")

    assert all(known_to_the_store(room.gone, PATTERN_CHAT).values())
    # Once it is older than the grace, the same 410 forgets it everywhere.
    monkeypatch.setenv("CONNECT_GRACE_SECONDS", "0")
    get_settings.cache_clear()
    send_through("rest", marketplace, sockets, room, "and again")
    assert not any(known_to_the_store(room.gone, PATTERN_CHAT).values())


def test_after_a_gone_connection_is_forgotten_the_next_send_skips_it(
    marketplace: Api, sockets: Sockets, management_api: FaultyManagementApi, room: Room
) -> None:
    management_api.faults[room.gone] = GONE
    send_through("rest", marketplace, sockets, room, "first")
    management_api.attempts.clear()

    second = send_through("rest", marketplace, sockets, room, "second")

    alive = [room.healthy, room.broken]  # nothing fails the third connection in this test
    assert sorted(management_api.attempts) == sorted(alive * 2)  # message_received + new_message_notification
    for connection_id in alive:
        assert sockets.events(connection_id, "message_received")[-1]["id"] == second["id"]


def test_pruning_a_users_last_connection_tells_their_watchers(
    marketplace: Api, sockets: Sockets, management_api: FaultyManagementApi
) -> None:
    assert marketplace.send("bob", recipientId="alice", patternId="p1", content="hello").status == 201
    alices_only, bobs = sockets.connect("alice"), sockets.connect("bob")
    for connection_id in (alices_only, bobs):
        sockets.send(connection_id, "join_conversation", conversationId=PATTERN_CHAT)
    sockets.clear()
    management_api.faults[alices_only] = GONE  # alice's $disconnect was lost

    assert marketplace.send("bob", conversationId=PATTERN_CHAT, content="are you there?").status == 201

    assert not known_to_the_store(alices_only, PATTERN_CHAT)["alice's connections"]
    seen_by_bob = marketplace.conversations("bob").body["conversations"][0]["otherParticipant"]
    assert (seen_by_bob["id"], seen_by_bob["online"]) == ("alice", False)
    assert [(p["userId"], p["online"]) for p in sockets.events(bobs, "presence_update")] == [("alice", False)]


def test_a_dead_watcher_is_forgotten_at_the_first_presence_change(
    marketplace: Api, sockets: Sockets, management_api: FaultyManagementApi
) -> None:
    """A watcher gone without a $disconnect whose item then expired is known only to the watched profile's set: the
    first 410 of a presence fan-out removes it there (red-team finding 11: it was posted to for ever)."""
    assert marketplace.send("bob", recipientId="alice", patternId="p1", content="hello").status == 201
    bobs = sockets.connect("bob")
    sockets.send(bobs, "join_conversation", conversationId=PATTERN_CHAT)  # bob now watches alice
    management_api.faults[bobs] = GONE  # gone without a $disconnect ...
    Connection.get(bobs).delete()  # ... and DynamoDB's TTL has swept its item
    management_api.attempts.clear()

    for _ in range(3):  # alice comes and goes
        alices = sockets.connect("alice")
        sockets.disconnect(alices)

    assert management_api.attempts.count(bobs) == 1
    assert bobs not in parse_connections(UserProfile.get("alice", consistent_read=True).watcher_ids)


def test_throttled_posts_never_fail_a_send(
    marketplace: Api, sockets: Sockets, management_api: FaultyManagementApi, room: Room
) -> None:
    management_api.every_post = THROTTLED

    response = marketplace.send("bob", conversationId=PATTERN_CHAT, content="sent while throttled")

    assert response.status == 201, response.body
    assert stored_contents(PATTERN_CHAT)[-1] == "sent while throttled"
    assert sorted(management_api.attempts) == sorted(room.all * 2)
    assert all(sockets.frames(connection_id) == [] for connection_id in room.all)
    for connection_id in room.all:  # throttling is not a reason to forget anyone
        assert all(known_to_the_store(connection_id, PATTERN_CHAT).values()), connection_id
    assert marketplace.conversations("alice").body["totalUnread"] == 2


# --- DynamoDB failing inside a send ------------------------------------------------------------------------------


def dynamo_error(code: str, *, reasons: list[str] | None = None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": reason} for reason in reasons]
    return ClientError(response, "TransactWriteItems")


@contextmanager
def failing_transactions(error: Exception) -> Iterator[list[str]]:
    """Every DynamoDB TransactWriteItems raises ``error`` from botocore (PynamoDB translates it as in production)."""
    original = botocore.client.BaseClient._make_api_call
    failed: list[str] = []

    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb" and operation_name == "TransactWriteItems":
            failed.append(operation_name)
            raise error
        return original(self, operation_name, api_params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
        yield failed


def snapshot(conversation_id: str) -> dict[str, Any]:
    """Everything a send writes, as stored."""

    def item(model: type, *key: str) -> dict[str, Any] | None:
        try:
            return model.get(*key, consistent_read=True).attribute_values
        except DoesNotExist:
            return None

    return {
        "conversation": item(Conversation, conversation_id),
        "messages": [m.attribute_values for m in Message.query(conversation_id, consistent_read=True)],
        "feeds": {
            user: [e.position for e in TimelineEntry.query(user, consistent_read=True)] for user in ("alice", "bob")
        },
        "memberships": {user: item(Membership, user, conversation_id) for user in ("alice", "bob")},
        "profiles": {user: item(UserProfile, user) for user in ("alice", "bob")},
        "idempotency": item(IdempotencyRecord, "send#bob#retry-me"),
    }


STORAGE_FAULTS = {
    "throughput exceeded": dynamo_error("ProvisionedThroughputExceededException"),
    "transaction throttled": dynamo_error("TransactionCanceledException", reasons=["None", "ThrottlingError"]),
    "internal error": dynamo_error("InternalServerError"),
    "connection lost": EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
}


@pytest.mark.parametrize("fault", sorted(STORAGE_FAULTS))
@pytest.mark.parametrize("opening", [False, True], ids=["existing conversation", "new conversation"])
def test_a_failed_send_transaction_answers_503_and_stores_nothing(
    marketplace: Api, sockets: Sockets, fault: str, opening: bool
) -> None:
    if not opening:
        assert marketplace.send("bob", recipientId="alice", patternId="p1", content="earlier").status == 201
    alices_socket = sockets.connect("alice")
    sockets.clear()
    target = {"recipientId": "alice", "patternId": "p1"} if opening else {"conversationId": PATTERN_CHAT}
    before = snapshot(PATTERN_CHAT)

    with failing_transactions(STORAGE_FAULTS[fault]) as failed:
        response = marketplace.send("bob", content="lost?", clientMessageId="retry-me", **target)

    assert response.status == 503, response.body
    assert response.body["error"]["code"] == "temporarily_unavailable"
    assert failed == ["TransactWriteItems"]  # not retried as if it were contention
    assert snapshot(PATTERN_CHAT) == before
    assert sockets.frames(alices_socket) == []  # nothing announced for what was not stored
    retried = marketplace.send("bob", content="lost?", clientMessageId="retry-me", **target)
    assert retried.status == 201, retried.body
    assert stored_contents(PATTERN_CHAT) == (["lost?"] if opening else ["earlier", "lost?"])
