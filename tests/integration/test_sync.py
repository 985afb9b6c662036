"""GET /api/messages/sync: catching up after being offline, a bounded page at a time, only one's own messages."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.adapters.dynamodb import TimelineEntry
from chalicelib.bootstrap import Services
from chalicelib.domain.clock import iso, now_iso
from chalicelib.domain.conversations import ConversationState
from chalicelib.domain.ids import conversation_id_for
from chalicelib.settings import get_settings
from tests.integration.conftest import Api, DynamoCalls, Response
from tests.integration.factories import seed_conversation

PATTERN_CHAT = conversation_id_for("alice", "bob", "p1")
DIRECT_CHAT = conversation_id_for("alice", "carol", None)


def sync(api: Api, user: str | None, since: str | None = None, limit: int | str | None = None) -> Response:
    """One sync call; ``user=None`` sends no token."""
    query = {key: value for key, value in (("since", since), ("limit", limit)) if value is not None}
    return api.call("GET", f"/api/messages/sync{'?' + urlencode(query) if query else ''}", user)


def fresh_cursor(api: Api, user: str) -> str:
    """The cursor a client gets on its first sync (no ``since``): "from now on"."""
    response = sync(api, user)
    assert response.status == 200, response.body
    return response.body["nextCursor"]


def walk(api: Api, user: str, since: str, limit: int, max_pages: int = 20) -> list[dict[str, Any]]:
    """Every page from ``since``, following ``nextCursor`` while ``hasMore``."""
    pages: list[dict[str, Any]] = []
    cursor = since
    for _ in range(max_pages):
        response = sync(api, user, since=cursor, limit=limit)
        assert response.status == 200, response.body
        pages.append(response.body)
        if not response.body["hasMore"]:
            return pages
        cursor = response.body["nextCursor"]
    raise AssertionError(f"sync did not end within {max_pages} pages")


def message_ids(messages: list[dict[str, Any]]) -> list[str]:
    return [message["id"] for message in messages]


def sent(response: Response) -> dict[str, Any]:
    assert response.status == 201, response.body
    return response.body["message"]


def bob_writes_about_p1(api: Api, count: int, first: int = 0) -> list[dict[str, Any]]:
    """``count`` messages from bob to alice about p1 (the first one opens the conversation)."""
    return [
        sent(api.send("bob", recipientId="alice", patternId="p1", content=f"p1 question {first + index}"))
        for index in range(count)
    ]


def seed_with_feed(user_a: str, user_b: str, count: int, pattern_id: str | None = None) -> ConversationState:
    """A seeded conversation: the factories write each message's timeline entries, as a send does."""
    return seed_conversation(user_a, user_b, count, pattern_id)


def at(timestamp: str) -> Callable[[], datetime]:
    """A clock stopped at ``timestamp``."""
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return lambda: moment


@pytest.fixture
def exact_cursors() -> Iterator[None]:
    """SYNC_LOOKBACK_MS=0: a cursor resumes exactly after what it returned (no at-least-once window)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNC_LOOKBACK_MS", "0")
        get_settings.cache_clear()
        assert get_settings().sync_lookback_ms == 0
        yield
    get_settings.cache_clear()


# --- the offline scenario -----------------------------------------------------------------------------------


def test_without_since_there_are_no_messages_only_a_cursor(marketplace: Api) -> None:
    bob_writes_about_p1(marketplace, 2)

    first = sync(marketplace, "alice")

    assert first.status == 200, first.body
    assert first.body["messages"] == [] and first.body["conversations"] == []
    assert first.body["hasMore"] is False
    assert isinstance(first.body["nextCursor"], str) and first.body["nextCursor"]
    assert sync(marketplace, "alice", since=first.body["nextCursor"]).status == 200


def test_offline_user_gets_everything_sent_while_away_oldest_first(marketplace: Api) -> None:
    cursor = fresh_cursor(marketplace, "alice")
    bobs = bob_writes_about_p1(marketplace, 3)
    carols = sent(marketplace.send("carol", recipientId="alice", content="hello from a stranger"))

    page = sync(marketplace, "alice", since=cursor)

    assert page.status == 200, page.body
    assert message_ids(page.body["messages"]) == message_ids([*bobs, carols])
    assert [m["content"] for m in page.body["messages"]] == [*(m["content"] for m in bobs), carols["content"]]
    assert all(m["recipientId"] == "alice" and m["isRead"] is False for m in page.body["messages"])
    conversations = {c["id"]: c for c in page.body["conversations"]}
    assert {cid: c["unreadCount"] for cid, c in conversations.items()} == {PATTERN_CHAT: 3, DIRECT_CHAT: 1}
    assert conversations[PATTERN_CHAT]["otherParticipant"]["id"] == "bob"
    assert conversations[PATTERN_CHAT]["pattern"]["id"] == "p1"
    assert conversations[PATTERN_CHAT]["lastMessage"]["id"] == bobs[-1]["id"]
    assert conversations[DIRECT_CHAT]["otherParticipant"]["id"] == "carol"
    assert page.body["hasMore"] is False


def test_a_second_sync_misses_nothing_and_repeats_only_known_messages(marketplace: Api) -> None:
    cursor = fresh_cursor(marketplace, "alice")
    known = bob_writes_about_p1(marketplace, 3)
    first = sync(marketplace, "alice", since=cursor).body
    later = sent(marketplace.send("carol", recipientId="alice", content="after your first sync"))

    second = sync(marketplace, "alice", since=first["nextCursor"])

    assert second.status == 200, second.body
    returned = message_ids(second.body["messages"])
    assert later["id"] in returned  # nothing new is missing
    assert set(returned) <= {*message_ids(known), later["id"]}  # re-delivery is of known messages only
    assert len(returned) == len(set(returned))


def test_a_message_committed_late_with_an_older_timestamp_is_not_skipped(
    marketplace: Api, install_services: Callable[..., Services]
) -> None:
    cursor = fresh_cursor(marketplace, "alice")
    newest = bob_writes_about_p1(marketplace, 2)[-1]
    first = sync(marketplace, "alice", since=cursor).body
    assert message_ids(first["messages"])[-1] == newest["id"]
    # Carol's send read the clock a second before Bob's newest message, but committed after Alice's sync.
    a_second_earlier = iso(datetime.fromisoformat(newest["sentAt"].replace("Z", "+00:00")) - timedelta(seconds=1))
    install_services(clock=at(a_second_earlier))
    late = sent(marketplace.send("carol", recipientId="alice", content="slow transaction"))
    install_services()

    second = sync(marketplace, "alice", since=first["nextCursor"])

    assert late["sentAt"] < newest["sentAt"]
    assert late["id"] in message_ids(second.body["messages"])


def test_with_exact_cursors_a_second_sync_returns_only_what_is_new(marketplace: Api, exact_cursors: None) -> None:
    cursor = fresh_cursor(marketplace, "alice")
    bob_writes_about_p1(marketplace, 3)
    first = sync(marketplace, "alice", since=cursor).body
    assert len(first["messages"]) == 3

    nothing = sync(marketplace, "alice", since=first["nextCursor"])
    later = sent(marketplace.send("carol", recipientId="alice", content="news"))
    news = sync(marketplace, "alice", since=nothing.body["nextCursor"])

    assert nothing.status == 200, nothing.body
    assert nothing.body["messages"] == [] and nothing.body["conversations"] == []
    assert nothing.body["hasMore"] is False
    assert message_ids(news.body["messages"]) == [later["id"]]
    assert [c["id"] for c in news.body["conversations"]] == [DIRECT_CHAT]


# --- paging ---------------------------------------------------------------------------------------------------


def test_walking_small_pages_returns_every_message_once_in_order(marketplace: Api) -> None:
    cursor = fresh_cursor(marketplace, "alice")
    written = bob_writes_about_p1(marketplace, 5)

    pages = walk(marketplace, "alice", cursor, limit=2)

    assert [len(page["messages"]) for page in pages] == [2, 2, 1]
    assert [page["hasMore"] for page in pages] == [True, True, False]
    assert [message_ids(page["messages"]) for page in pages] == [
        message_ids(written[0:2]),
        message_ids(written[2:4]),
        message_ids(written[4:]),
    ]
    assert all([c["id"] for c in page["conversations"]] == [PATTERN_CHAT] for page in pages)


# --- whose messages -------------------------------------------------------------------------------------------


def test_only_the_callers_conversations_and_the_callers_own_sends_too(marketplace: Api) -> None:
    cursors = {user: fresh_cursor(marketplace, user) for user in ("alice", "bob")}
    to_alice = sent(marketplace.send("bob", recipientId="alice", patternId="p1", content="for alice"))
    to_carol = sent(marketplace.send("bob", recipientId="carol", content="not for alice"))
    from_dave = sent(marketplace.send("dave", recipientId="bob", content="also not for alice"))
    reply = sent(marketplace.send("alice", conversationId=PATTERN_CHAT, content="alice replies"))

    alices = sync(marketplace, "alice", since=cursors["alice"]).body
    bobs = sync(marketplace, "bob", since=cursors["bob"]).body

    assert message_ids(alices["messages"]) == [to_alice["id"], reply["id"]]
    assert [c["id"] for c in alices["conversations"]] == [PATTERN_CHAT]
    # Bob's other devices catch up on what he sent, not only on what he received.
    assert message_ids(bobs["messages"]) == message_ids([to_alice, to_carol, from_dave, reply])
    assert {m["senderId"] for m in bobs["messages"]} == {"bob", "dave", "alice"}
    assert {c["id"] for c in bobs["conversations"]} == {
        PATTERN_CHAT,
        conversation_id_for("bob", "carol", None),
        conversation_id_for("bob", "dave", None),
    }
    bob_view = {c["id"]: c["unreadCount"] for c in bobs["conversations"]}
    assert bob_view[PATTERN_CHAT] == 1 and bob_view[conversation_id_for("bob", "carol", None)] == 0


# --- refusals -------------------------------------------------------------------------------------------------


def _altered(cursor: str) -> str:
    """The same cursor with its position moved a year back and the signature kept."""
    body, mac = cursor.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["p"] = "2000-01-01T00:00:00.000Z"
    payload["x"] = True
    forged = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{forged}.{mac}"


CURSORS: dict[str, Callable[[Api], str]] = {
    "garbage": lambda api: "not-a-cursor",
    "forged shape": lambda api: "eyJwIjoiMjAwMCJ9.AAAAAAAAAAAAAAAAAAAAAA",
    "altered position": lambda api: _altered(fresh_cursor(api, "alice")),
    "truncated signature": lambda api: fresh_cursor(api, "alice")[:-3],
    "another user's": lambda api: fresh_cursor(api, "bob"),
    "non-ascii": lambda api: "é.é",
}


@pytest.mark.parametrize("kind", sorted(CURSORS))
def test_cursors_not_issued_to_the_caller_are_refused(marketplace: Api, kind: str) -> None:
    bob_writes_about_p1(marketplace, 1)
    cursor = CURSORS[kind](marketplace)

    response = sync(marketplace, "alice", since=cursor)

    assert response.status == 400, response.body
    assert response.body["error"]["code"] == "invalid_cursor"
    assert "messages" not in response.body


@pytest.mark.parametrize("limit", ["0", "-1", str(50 + 1), "1000", "two"])
def test_limits_outside_one_to_the_page_max_are_refused(marketplace: Api, limit: str) -> None:
    assert get_settings().sync_page_max == 50
    cursor = fresh_cursor(marketplace, "alice")

    response = sync(marketplace, "alice", since=cursor, limit=limit)

    assert response.status == 400, response.body
    assert response.body["error"]["code"] == "invalid_request"
    assert response.body["error"]["details"][0]["field"] == "limit"


def test_the_page_max_itself_is_accepted(marketplace: Api) -> None:
    response = sync(marketplace, "alice", since=fresh_cursor(marketplace, "alice"), limit=50)

    assert response.status == 200, response.body


def test_sync_requires_a_token(marketplace: Api) -> None:
    cursor = fresh_cursor(marketplace, "alice")

    response = sync(marketplace, None, since=cursor)

    assert response.status == 401, response.body
    assert response.body["error"]["code"] == "unauthorized"


# --- cost ----------------------------------------------------------------------------------------------------

NEW_MESSAGES, GROWTH = 10, 100


def _measured_page(api: Api, calls: DynamoCalls) -> tuple[int, dict[str, int], dict[str, Any]]:
    """Round trips of one sync page over ``NEW_MESSAGES`` messages that arrived after the cursor."""
    time.sleep(0.002)  # the history ends strictly before the cursor (exact cursors, millisecond timestamps)
    cursor = fresh_cursor(api, "alice")
    seed_with_feed("bob", "alice", NEW_MESSAGES, "p1")
    calls.reset()
    response = sync(api, "alice", since=cursor)
    assert response.status == 200, response.body
    return calls.total, dict(calls.operations), response.body


def test_a_sync_page_costs_the_same_whatever_the_history(
    marketplace: Api, dynamo_calls: DynamoCalls, exact_cursors: None
) -> None:
    seed_with_feed("bob", "alice", NEW_MESSAGES, "p1")
    small, small_operations, small_page = _measured_page(marketplace, dynamo_calls)

    seed_with_feed("bob", "alice", NEW_MESSAGES * GROWTH, "p1")
    large, large_operations, large_page = _measured_page(marketplace, dynamo_calls)

    assert TimelineEntry.count("alice") == NEW_MESSAGES * (GROWTH + 3)  # the history really is 100x larger
    assert len(small_page["messages"]) == len(large_page["messages"]) == NEW_MESSAGES
    assert small == large <= 3, (small_operations, large_operations)
    assert large_operations == {"Query": 1, "BatchGetItem": 2}


# --- regressions ---------------------------------------------------------------------------------------------


def test_a_full_page_across_fifty_pattern_conversations_is_served(marketplace: Api) -> None:
    """50 messages in 50 pattern conversations need 51 profiles + 50 patterns: more than one BatchGetItem holds."""
    cursor = fresh_cursor(marketplace, "alice")
    seeded = [seed_with_feed(f"buyer{index}", "alice", 1, f"pattern{index}") for index in range(50)]

    response = sync(marketplace, "alice", since=cursor, limit=50)

    assert response.status == 200, response.body
    assert len(set(message_ids(response.body["messages"]))) == 50
    assert {c["id"] for c in response.body["conversations"]} == {c.id for c in seeded}
    assert {c["otherParticipant"]["id"] for c in response.body["conversations"]} == {f"buyer{i}" for i in range(50)}


def test_messages_sent_in_the_same_millisecond_keep_their_order(
    marketplace: Api, install_services: Callable[..., Services]
) -> None:
    """Same-millisecond messages of one conversation sync in sequence order (``_10`` after ``_9``)."""
    cursor = fresh_cursor(marketplace, "alice")
    one_instant = now_iso()
    install_services(clock=at(one_instant))
    written = bob_writes_about_p1(marketplace, 11)

    page = sync(marketplace, "alice", since=cursor)

    assert {m["sentAt"] for m in page.body["messages"]} == {one_instant}
    assert message_ids(page.body["messages"]) == message_ids(written)
