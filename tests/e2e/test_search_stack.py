"""Search through ``make dev``: a message sent over HTTP is indexed by the stack's stream poller (dev/streams.py runs
the app's ``on_message_stream`` on moto's stream, as Lambda's event source mapping does on AWS) and found by
``GET /api/messages/search`` about a second later; an edit is found by its new words only, a deletion never."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from dev.seed import ALICE, BOB, CAROL, GRANNY_SQUARE, OPENING_MESSAGE
from tests.e2e.api_client import Caller, json_of
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

# How long a test waits for the index before failing: a bound for a loaded CI machine, not a measurement (the
# poller polls every 0.2 s; `make bench-load`'s search probe, bench/load.py, measures the lag under load).
DEADLINE_SECONDS = 15


def search(caller: Caller, q: str, **params: str) -> dict[str, Any]:
    query = "&".join([f"q={quote(q)}", *(f"{name}={quote(value)}" for name, value in params.items())])
    return json_of(caller.request("GET", f"/api/messages/search?{query}"), 200)


def contents(caller: Caller, q: str, **params: str) -> list[str]:
    return [result["message"]["content"] for result in search(caller, q, **params)["results"]]


def eventually(check: Callable[[], bool]) -> float:
    """Seconds until ``check()`` held (polled); fails past the deadline."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > DEADLINE_SECONDS:
            pytest.fail(f"not true after {DEADLINE_SECONDS} s")
        time.sleep(0.1)
    return time.monotonic() - start


def test_the_seeded_opening_message_is_searchable(stack: RunningStack) -> None:
    words = OPENING_MESSAGE["content"].split()
    longest = max((w.strip(".,!?") for w in words), key=len)
    eventually(lambda: OPENING_MESSAGE["content"] in contents(stack.caller(ALICE), longest))
    assert contents(stack.caller(CAROL), longest) == []  # not carol's conversation


def test_a_sent_message_is_found_soon_then_its_edit_and_deletion_are_followed(stack: RunningStack) -> None:
    bob, alice = stack.caller(BOB), stack.caller(ALICE)
    conversation = bob.open_pattern_conversation(GRANNY_SQUARE).json()["conversation"]
    sent = json_of(bob.send(conversation["id"], "Does the Café au lait colourway suit the amigurumi fox?"), 201)
    message_id = sent["message"]["id"]
    lag = eventually(lambda: bool(contents(alice, "cafe amigur")))
    print(f"indexed {lag:.2f} s after the send")
    (result,) = search(alice, "cafe amigur", conversationId=conversation["id"])["results"]
    assert result["message"]["id"] == message_id and result["conversation"]["id"] == conversation["id"]
    text = result["message"]["content"]
    assert [text[h["start"] : h["end"]] for h in result["highlights"]] == ["Café", "amigurumi"]

    json_of(bob.edit(message_id, "Does the mocha colourway suit the fox?"), 200)
    eventually(lambda: contents(alice, "mocha") == ["Does the mocha colourway suit the fox?"])
    assert contents(alice, "cafe") == [] and contents(bob, "amigurumi") == []

    json_of(bob.delete(message_id), 200)
    eventually(lambda: contents(alice, "mocha") == [])
    assert contents(bob, "colourway fox") == []


def test_bad_queries_and_strangers(stack: RunningStack) -> None:
    alice, carol = stack.caller(ALICE), stack.caller(CAROL)
    response = alice.request("GET", "/api/messages/search?q=a")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_query")
    conversation = stack.caller(BOB).open_pattern_conversation(GRANNY_SQUARE).json()["conversation"]
    stranger = carol.request("GET", f"/api/messages/search?q=fox&conversationId={conversation['id']}")
    assert (stranger.status_code, stranger.json()["error"]["code"]) == (404, "not_found")
