"""A history or sync page never outgrows Lambda's 6 MB response payload: past ``PAGE_MAX_BYTES`` of JSON it ends
early and says there is more, and following it returns every message exactly once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.dynamodb import Conversation
from chalicelib.adapters.dynamodb.records import conversation_state
from chalicelib.domain.clock import now_iso
from chalicelib.domain.conversations import new_conversation
from chalicelib.domain.ids import conversation_id_for
from chalicelib.settings import get_settings
from dev.bulk import plan_messages, write_plans
from tests.integration.conftest import Api, auth

CHAT = conversation_id_for("alice", "bob", "p1")
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
YARN = "🧶"  # outside the BMP: 12 bytes of ASCII-escaped JSON per character, the worst case


def long_messages(count: int, chars: int) -> None:
    """``count`` messages from bob to alice of ``chars`` yarn emoji each, written as sends write them."""
    try:
        chat = conversation_state(Conversation.get(CHAT, consistent_read=True))
    except Conversation.DoesNotExist:
        chat = new_conversation("bob", "alice", "p1", None, now_iso())
    plans = plan_messages(chat, [("bob", YARN * chars, now_iso()) for _ in range(count)])
    write_plans(plans, before={chat.id: chat})


@pytest.fixture
def page_max_bytes(request: pytest.FixtureRequest) -> Iterator[int]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PAGE_MAX_BYTES", str(request.param))
        get_settings.cache_clear()
        yield request.param
    get_settings.cache_clear()


def test_a_full_history_page_of_the_longest_messages_stays_under_lambdas_limit(marketplace: Api) -> None:
    long_messages(100, get_settings().message_max_chars)

    response = marketplace.client.http.get(f"/api/messages/conversations/{CHAT}?limit=100", headers=auth("alice"))

    assert response.status_code == 200
    assert len(response.body) < LAMBDA_RESPONSE_LIMIT * 0.8  # room for the Lambda envelope's own escaping
    page = json.loads(response.body)
    assert 0 < len(page["messages"]) < 100 and page["hasMoreBefore"] is True


def walk_history(api: Api, limit: int) -> list[dict[str, Any]]:
    pages, before = [], None
    while True:
        query = f"&limit={limit}" + (f"&before={before}" if before else "")
        page = api.conversation("alice", CHAT, query).body
        pages.append(page)
        if not page["hasMoreBefore"] or not page["messages"]:
            return pages
        before = page["messages"][0]["id"]


@pytest.mark.parametrize("page_max_bytes", [30_000], indirect=True)
def test_history_pages_shrink_to_the_budget_and_page_on_without_gaps(marketplace: Api, page_max_bytes: int) -> None:
    long_messages(12, 1000)  # about 12 KB each

    pages = walk_history(marketplace, limit=10)

    assert all(len(page["messages"]) <= 3 for page in pages)  # 30 KB holds two or three of them
    ids = [m["id"] for page in reversed(pages) for m in page["messages"]]
    assert ids == [f"msg_{CHAT[5:]}_{seq}" for seq in range(1, 13)]


@pytest.mark.parametrize("page_max_bytes", [30_000], indirect=True)
def test_sync_pages_shrink_to_the_budget_and_deliver_everything_once(marketplace: Api, page_max_bytes: int) -> None:
    cursor = marketplace.call("GET", "/api/messages/sync", "alice").body["nextCursor"]
    long_messages(12, 1000)

    seen: list[str] = []
    for _ in range(20):
        page = marketplace.call("GET", f"/api/messages/sync?since={cursor}&limit=10", "alice").body
        assert len(page["messages"]) <= 3
        assert {c["id"] for c in page["conversations"]} <= {CHAT}
        seen += [m["id"] for m in page["messages"]]
        cursor = page["nextCursor"]
        if not page["hasMore"]:
            break

    assert seen == [f"msg_{CHAT[5:]}_{seq}" for seq in range(1, 13)]
