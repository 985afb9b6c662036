"""The room cap under concurrent joins, closing a connection in many rooms, and what a gone one may not break.

API Gateway runs one ``$default`` Lambda per frame, concurrently for frames of one connection: these tests send the
frames from real threads. (Red-team finding 2: 60 concurrent joins made 60 rooms; the connection could then not
be closed, and every delivery that met it failed.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.connections import ConnectionsClient
from chalicelib.adapters.dynamodb import Connection, Conversation, Message, UserProfile
from chalicelib.bootstrap import Services
from chalicelib.domain.ids import conversation_id_for
from chalicelib.services import sessions
from chalicelib.settings import get_settings
from tests.integration.conftest import Api, DynamoCalls, token_for
from tests.integration.factories import seed_inbox
from tests.integration.sockets import Sockets, ws_event

CAP = 20
ROOMS = 60  # more than one TransactWriteItems can hold when closing (1 + rooms + watched profiles > 100)
GONE = ClientError({"Error": {"Code": "GoneException"}, "ResponseMetadata": {"HTTPStatusCode": 410}}, "Post")


def named(entries: set[str] | None) -> set[str]:
    """The connection ids a room or a presence set holds (each entry starts with one)."""
    return {entry.split(" ")[0] for entry in entries or ()}


def partner(index: int) -> str:
    return f"mallory-partner-{index}"


def conversations_of_mallory(count: int) -> list[str]:
    """``count`` direct conversations of mallory's, each with a different partner (who has a profile)."""
    seed_inbox("mallory", count)
    return [conversation_id_for(partner(index), "mallory", None) for index in range(count)]


@pytest.fixture
def rooms_cap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    def set_cap(cap: int) -> None:
        monkeypatch.setenv("MAX_ROOMS_PER_CONNECTION", str(cap))
        get_settings.cache_clear()

    yield set_cap
    get_settings.cache_clear()


def join_all_at_once(sockets: Sockets, connection_id: str, conversation_ids: list[str]) -> None:
    threads = [
        threading.Thread(target=sockets.send, args=(connection_id, "join_conversation"), kwargs={"conversationId": c})
        for c in conversation_ids
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def joined(connection_id: str) -> set[str]:
    return named(Connection.get(connection_id, consistent_read=True).rooms)


def rooms_holding(connection_id: str, conversation_ids: list[str]) -> list[str]:
    return [c for c in conversation_ids if connection_id in named(Conversation.get(c, consistent_read=True).room)]


def test_joins_that_all_read_the_connection_first_cannot_pass_the_cap(
    api: Api, sockets: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation_ids = conversations_of_mallory(ROOMS)
    mallory = sockets.connect("mallory")
    # Every frame reads the connection (its rooms) before any of them writes: the interleaving of 60 Lambdas
    # started at once, pinned down by a barrier on the first read of each frame.
    barrier = threading.Barrier(ROOMS, timeout=60)
    first_reads = iter(range(ROOMS))
    lock = threading.Lock()
    real_get = sessions.get_connection

    def get_connection(connection_id: str) -> sessions.Session:
        session = real_get(connection_id)
        with lock:
            pinned = next(first_reads, None) is not None
        if pinned:
            barrier.wait()
        return session

    monkeypatch.setattr(sessions, "get_connection", get_connection)

    join_all_at_once(sockets, mallory, conversation_ids)

    monkeypatch.setattr(sessions, "get_connection", real_get)
    acks = sockets.events(mallory, "conversation_joined")
    refusals = [e["code"] for e in sockets.events(mallory, "error")]
    assert len(joined(mallory)) == CAP
    assert len(acks) == CAP and refusals == ["too_many_rooms"] * (ROOMS - CAP)
    assert sorted(rooms_holding(mallory, conversation_ids)) == sorted(a["conversationId"] for a in acks)
    watched = [p for p in range(ROOMS) if mallory in named(UserProfile.get(partner(p)).watcher_ids)]
    assert len(watched) == CAP


def test_joins_sent_at_once_cannot_pass_the_cap(api: Api, sockets: Sockets) -> None:
    conversation_ids = conversations_of_mallory(ROOMS)
    mallory = sockets.connect("mallory")

    join_all_at_once(sockets, mallory, conversation_ids)

    assert len(joined(mallory)) == CAP
    assert len(sockets.events(mallory, "conversation_joined")) == CAP
    assert len(rooms_holding(mallory, conversation_ids)) == CAP


def test_joining_a_room_again_at_the_cap_is_answered_and_leaving_makes_room(api: Api, sockets: Sockets) -> None:
    conversation_ids = conversations_of_mallory(CAP + 1)
    mallory = sockets.connect("mallory")
    for conversation_id in conversation_ids[:CAP]:
        sockets.send(mallory, "join_conversation", conversationId=conversation_id)
    sockets.clear()

    sockets.send(mallory, "join_conversation", conversationId=conversation_ids[0])
    sockets.send(mallory, "join_conversation", conversationId=conversation_ids[CAP])
    sockets.send(mallory, "leave_conversation", conversationId=conversation_ids[1])
    sockets.send(mallory, "join_conversation", conversationId=conversation_ids[CAP])

    assert [f["event"] if f["event"] != "error" else f["data"]["code"] for f in sockets.frames(mallory)] == [
        "conversation_joined",
        "too_many_rooms",
        "conversation_left",
        "conversation_joined",
    ]
    assert len(joined(mallory)) == CAP


def test_a_connection_in_more_rooms_than_one_transaction_holds_is_closed_completely(
    api: Api, sockets: Sockets, dynamo_calls: DynamoCalls, rooms_cap: Callable[[int], None]
) -> None:
    conversation_ids = conversations_of_mallory(ROOMS)
    rooms_cap(ROOMS)  # a stage configured with a high cap, or a connection from before the cap held
    mallory = sockets.connect("mallory")
    for conversation_id in conversation_ids:
        sockets.send(mallory, "join_conversation", conversationId=conversation_id)
    rooms_cap(CAP)
    assert len(joined(mallory)) == ROOMS
    dynamo_calls.reset()

    sockets.disconnect(mallory)

    assert Connection.count(mallory) == 0
    assert rooms_holding(mallory, conversation_ids) == []
    assert [p for p in range(ROOMS) if UserProfile.get(partner(p)).watcher_ids] == []
    assert not UserProfile.get("mallory").connection_ids
    # 1 + 60 rooms + 60 watched profiles = 121 items: two transactions of at most 100.
    assert dynamo_calls.operations["TransactWriteItems"] == 2


@dataclass
class ManagementApi:
    """moto's ``@connections``, except that closed connections answer 410 as API Gateway does."""

    real: Any
    closed: set[str] = field(default_factory=set)

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        if ConnectionId in self.closed:
            raise GONE
        return self.real.post_to_connection(ConnectionId=ConnectionId, Data=Data)

    def delete_connection(self, *, ConnectionId: str) -> dict[str, Any]:
        return self.real.delete_connection(ConnectionId=ConnectionId)

    def get_connection(self, *, ConnectionId: str) -> dict[str, Any]:
        if ConnectionId in self.closed:
            raise GONE
        return self.real.get_connection(ConnectionId=ConnectionId)


@pytest.fixture
def management_api(aws: None, install_services: Callable[..., Services]) -> ManagementApi:
    client = ConnectionsClient(get_settings()).client
    management = ManagementApi(client)
    install_services(connections=ConnectionsClient(get_settings(), client=management))
    return management


def test_a_gone_connection_in_many_rooms_never_fails_its_victims(
    api: Api, sockets: Sockets, management_api: ManagementApi, rooms_cap: Callable[[int], None]
) -> None:
    conversation_ids = conversations_of_mallory(ROOMS)
    rooms_cap(ROOMS)
    mallory = sockets.connect("mallory")
    for conversation_id in conversation_ids:
        sockets.send(mallory, "join_conversation", conversationId=conversation_id)
    rooms_cap(CAP)
    management_api.closed.add(mallory)  # gone, and its $disconnect lost

    # A victim comes online: presence goes to its watchers, mallory among them (410).
    connected = sockets.invoke("connect", ws_event("$connect", "victim=", token=token_for(partner(0))))
    # Another victim writes to mallory: the room holds mallory (410 again, if the first prune had failed).
    before = Message.count(conversation_ids[1])
    sent = api.send(partner(1), conversationId=conversation_ids[1], content="are you there?")

    assert connected == {"statusCode": 200}
    assert sent.status == 201, sent.body
    assert Message.count(conversation_ids[1]) == before + 1
    # The first 410 forgot mallory's connection everywhere, in two transactions.
    assert Connection.count(mallory) == 0
    assert rooms_holding(mallory, conversation_ids) == []
    assert [p for p in range(ROOMS) if UserProfile.get(partner(p)).watcher_ids] == []
