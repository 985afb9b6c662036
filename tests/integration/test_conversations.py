"""GET /api/messages, /api/messages/conversations and /api/messages/pattern/{id}."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Api, token_for


def test_list_is_enriched_and_most_recent_first(marketplace: Api) -> None:
    pattern_chat = marketplace.send("bob", recipientId="alice", patternId="p1", content="about the blanket")
    marketplace.send("carol", recipientId="alice", content="hello there")

    listed = marketplace.call("GET", "/api/messages", "alice")

    assert listed.status == 200
    conversations = listed.body["conversations"]
    assert [c["otherParticipant"]["id"] for c in conversations] == ["carol", "bob"]
    assert listed.body["nextCursor"] is None
    blanket = conversations[1]
    assert blanket["id"] == pattern_chat.body["conversation"]["id"]
    assert blanket["unreadCount"] == 1
    assert blanket["lastMessage"]["content"] == "about the blanket"
    assert blanket["lastMessage"]["senderId"] == "bob"
    assert blanket["pattern"] == {"id": "p1", "title": "Granny Square Blanket", "creatorId": "alice"}
    assert {p["id"]: p["name"] for p in blanket["participants"]} == {"alice": "Alice", "bob": "Bob"}
    assert blanket["otherParticipant"] == {"id": "bob", "name": "Bob", "online": False}
    assert "pattern" not in conversations[0]
    assert "totalUnread" not in listed.body


def test_conversations_endpoint_adds_total_unread(marketplace: Api) -> None:
    marketplace.send("bob", recipientId="alice", patternId="p1")
    marketplace.send("carol", recipientId="alice")
    marketplace.send("carol", recipientId="alice")

    assert marketplace.conversations("alice").body["totalUnread"] == 3
    assert marketplace.conversations("carol").body["totalUnread"] == 0


def test_pagination_walks_every_conversation_once(marketplace: Api) -> None:
    for index in range(7):
        marketplace.user(f"fan{index}")
        marketplace.send(f"fan{index}", recipientId="alice", content=f"hi {index}")

    seen, cursor, pages = [], None, 0
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = marketplace.conversations("alice", query).body
        seen += [c["otherParticipant"]["id"] for c in page["conversations"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break

    assert pages == 3
    assert seen == [f"fan{index}" for index in reversed(range(7))]


def test_forged_or_foreign_cursors_are_refused(marketplace: Api) -> None:
    for index in range(3):
        marketplace.user(f"fan{index}")
        marketplace.send(f"fan{index}", recipientId="alice")
        marketplace.send(f"fan{index}", recipientId="bob")
    cursor = marketplace.conversations("alice", "?limit=1").body["nextCursor"]
    body, mac = cursor.split(".")

    for bad in (cursor[:-2] + "AA", body + "x." + mac, "garbage", "a.b.c"):
        response = marketplace.conversations("alice", f"?limit=1&cursor={bad}")
        assert response.status == 400 and response.body["error"]["code"] == "invalid_cursor", bad
    replayed = marketplace.conversations("bob", f"?limit=1&cursor={cursor}")
    assert replayed.status == 400 and replayed.body["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("query", ["?limit=0", "?limit=31", "?limit=100000", "?limit=abc", "?unknown=1"])
def test_bad_list_queries_are_400(marketplace: Api, query: str) -> None:
    response = marketplace.conversations("alice", query)

    assert response.status == 400
    assert response.body["error"]["code"] == "invalid_request"


def test_detail_pages_through_history_both_ways(marketplace: Api) -> None:
    ids = [marketplace.send("bob", recipientId="alice", content=f"m{i}").body["message"]["id"] for i in range(7)]
    conversation_id = ids[0].replace("msg_", "conv_").rsplit("_", 1)[0]

    newest = marketplace.conversation("alice", conversation_id, "&limit=3").body
    older = marketplace.conversation("alice", conversation_id, f"&limit=3&before={ids[4]}").body
    oldest = marketplace.conversation("alice", conversation_id, f"&limit=3&before={ids[1]}").body
    newer = marketplace.conversation("alice", conversation_id, f"&limit=4&after={ids[2]}").body

    assert [m["content"] for m in newest["messages"]] == ["m4", "m5", "m6"]
    assert (newest["hasMoreBefore"], newest["hasMoreAfter"]) == (True, False)
    assert [m["content"] for m in older["messages"]] == ["m1", "m2", "m3"]
    assert (older["hasMoreBefore"], older["hasMoreAfter"]) == (True, True)
    assert [m["content"] for m in oldest["messages"]] == ["m0"]
    assert oldest["hasMoreBefore"] is False
    assert [m["content"] for m in newer["messages"]] == ["m3", "m4", "m5", "m6"]
    assert newer["hasMoreAfter"] is False
    assert newest["conversation"]["id"] == conversation_id
    assert newest["conversation"]["unreadCount"] == 7


def test_detail_refuses_cursors_of_other_conversations(marketplace: Api) -> None:
    mine = marketplace.send("bob", recipientId="alice").body["message"]
    other = marketplace.send("carol", recipientId="alice").body["message"]

    response = marketplace.conversation("alice", mine["conversationId"], f"&before={other['id']}")

    assert response.status == 400
    assert response.body["error"]["code"] == "invalid_cursor"


def test_strangers_and_missing_conversations_look_the_same(marketplace: Api) -> None:
    conversation_id = marketplace.send("bob", recipientId="alice").body["conversation"]["id"]

    stranger = marketplace.conversation("carol", conversation_id)
    missing = marketplace.conversation("carol", "conv_aaaaaaaaaaaaaaaaaaaaaaaaaa")
    malformed = marketplace.conversation("carol", "whatever")

    for response in (stranger, missing, malformed):
        assert response.status == 404
        assert response.body == {"error": {"code": "not_found", "message": "conversation not found"}}


def test_pattern_conversation_is_created_once_then_found(marketplace: Api) -> None:
    opened = marketplace.call("GET", "/api/messages/pattern/p1", "bob")
    again = marketplace.call("GET", "/api/messages/pattern/p1?creatorId=alice", "bob")

    assert opened.status == 201 and again.status == 200
    conversation = opened.body["conversation"]
    assert conversation == again.body["conversation"]
    assert conversation["title"] == "Granny Square Blanket"
    assert conversation["otherParticipant"]["id"] == "alice"
    assert conversation["unreadCount"] == 0
    assert "lastMessage" not in conversation
    creator_inbox = marketplace.conversations("alice").body["conversations"]
    assert [c["id"] for c in creator_inbox] == [conversation["id"]]
    sent = marketplace.send("bob", recipientId="alice", patternId="p1")
    assert sent.body["conversation"]["id"] == conversation["id"]


@pytest.mark.parametrize(
    ("user", "path", "status", "code"),
    [
        ("carol", "/api/messages/pattern/p1", 403, "purchase_required"),
        ("bob", "/api/messages/pattern/p1?creatorId=dave", 400, "creator_mismatch"),
        ("bob", "/api/messages/pattern/unknown", 404, "not_found"),
        ("bob", "/api/messages/pattern/unknown?creatorId=alice", 404, "not_found"),
        ("alice", "/api/messages/pattern/p1", 400, "self_conversation"),
        ("bob", "/api/messages/pattern/p1?creatorId=not%20valid", 400, "invalid_request"),
    ],
)
def test_pattern_conversation_refusals(marketplace: Api, user: str, path: str, status: int, code: str) -> None:
    response = marketplace.call("GET", path, user)

    assert response.status == status, response.body
    assert response.body["error"]["code"] == code


def test_profiles_fall_back_to_jwt_claims(api: Api) -> None:
    api.user("alice")
    headers = {"Authorization": f"Bearer {token_for('newbie', name='Nina Newbie')}"}
    sent = api.call("POST", "/api/messages", body={"recipientId": "alice", "content": "hi"}, headers=headers)
    assert sent.status == 201, sent.body

    seen_by_alice = api.conversations("alice").body["conversations"][0]["otherParticipant"]

    assert seen_by_alice == {"id": "newbie", "name": "Nina Newbie", "online": False}
