"""``GET /api/messages/search`` on moto, with the index written as on AWS: by the messages stream's consumer
(dev/streams.py's poller runs the app's ``on_message_stream`` on real stream records, ``message_stream.drain()``).

The search rules of issue 17: only the caller's conversations, a stranger's conversationId is the 404 of a missing
one, every word (accent- and case-insensitive), the last also a prefix, newest first, signed cursors, ``q`` rules
(400 ``invalid_query``), edits found by their new words only, deletions never, attachments by their file name, the
index consumer idempotent under redelivery, the per-user rate limit.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from chalicelib.adapters.dynamodb import SearchTerm
from chalicelib.domain.search import index_buckets
from chalicelib.settings import get_settings
from tests.integration.conftest import Api, StreamDrain
from tests.integration.uploads import upload_pdf


def search(api: Api, user: str, q: str, **params: Any) -> Any:
    query = "&".join([f"q={quote(q)}", *(f"{name}={quote(str(value))}" for name, value in params.items())])
    return api.call("GET", f"/api/messages/search?{query}", user)


def found(api: Api, user: str, q: str, **params: Any) -> list[str]:
    response = search(api, user, q, **params)
    assert response.status == 200, response.body
    return [result["message"]["content"] for result in response.body["results"]]


def index_items(user: str) -> list[str]:
    return sorted(item.key for item in SearchTerm.query(f"u#{user}"))


@pytest.fixture
def chats(marketplace: Api, message_stream: StreamDrain) -> dict[str, str]:
    """bob and alice talk about the blanket, carol and dave about the fox; everything is indexed."""
    blanket = marketplace.send(
        "bob", recipientId="alice", patternId="p1", content="Which hook size for the Café border?"
    )
    marketplace.send("alice", conversationId=blanket.body["conversation"]["id"], content="A 4mm hook, like the squares")
    marketplace.purchase("p2", "carol")
    fox = marketplace.send("carol", recipientId="dave", patternId="p2", content="The amigurumi fox ears: which hook?")
    message_stream.drain()
    return {"blanket": blanket.body["conversation"]["id"], "fox": fox.body["conversation"]["id"]}


def test_words_match_case_and_accent_insensitively_newest_first(marketplace: Api, chats: dict[str, str]) -> None:
    assert found(marketplace, "bob", "hook") == ["A 4mm hook, like the squares", "Which hook size for the Café border?"]
    assert found(marketplace, "alice", "CAFE") == ["Which hook size for the Café border?"]
    assert found(marketplace, "alice", "café border") == ["Which hook size for the Café border?"]


def test_every_word_must_match_and_the_last_is_also_a_prefix(marketplace: Api, chats: dict[str, str]) -> None:
    assert found(marketplace, "carol", "amigur") == ["The amigurumi fox ears: which hook?"]
    assert found(marketplace, "carol", "fox amig") == ["The amigurumi fox ears: which hook?"]
    assert found(marketplace, "carol", "amigurumi fox") == ["The amigurumi fox ears: which hook?"]
    assert found(marketplace, "carol", "amig fox") == []  # only the last word is a prefix
    assert found(marketplace, "carol", "amig cat") == []
    assert found(marketplace, "bob", "hoo squares") == []  # complete words match exactly: "hoo" is not "hook"
    assert found(marketplace, "bob", "squ") == ["A 4mm hook, like the squares"]


def test_only_the_callers_conversations_are_searched(marketplace: Api, chats: dict[str, str]) -> None:
    assert found(marketplace, "carol", "hook") == ["The amigurumi fox ears: which hook?"]
    assert found(marketplace, "alice", "amigurumi") == []
    assert found(marketplace, "bob", "fox") == []


def test_a_conversation_either_side_blocked_in_is_not_searched(marketplace: Api, chats: dict[str, str]) -> None:
    blocked = marketplace.call("PUT", "/api/me/blocks/bob", "alice")
    assert blocked.status in (200, 201), blocked.body
    assert found(marketplace, "alice", "hook") == []
    assert found(marketplace, "bob", "hook") == []  # the blocked side too: the same answer whichever side blocked
    assert found(marketplace, "bob", "hook", conversationId=chats["blanket"]) == []
    assert found(marketplace, "carol", "hook") == ["The amigurumi fox ears: which hook?"]  # others are untouched
    assert marketplace.call("DELETE", "/api/me/blocks/bob", "alice").status == 200
    assert found(marketplace, "bob", "hook") == ["A 4mm hook, like the squares", "Which hook size for the Café border?"]


def test_index_items_written_before_pairs_still_leave_blocked_conversations_out(
    marketplace: Api, chats: dict[str, str]
) -> None:
    """Items without ``pair`` (indexed before it was written) are checked by one more BatchGetItem of the blocks."""
    for item in list(SearchTerm.query("u#alice")):
        item.pair = None
        item.save()
    both = ["A 4mm hook, like the squares", "Which hook size for the Café border?"]
    assert found(marketplace, "alice", "hook") == both
    marketplace.call("PUT", "/api/me/blocks/alice", "bob")
    assert found(marketplace, "alice", "hook") == []


def test_one_conversation_and_a_strangers_is_the_404_of_a_missing_one(marketplace: Api, chats: dict[str, str]) -> None:
    assert found(marketplace, "bob", "hook", conversationId=chats["blanket"]) == [
        "A 4mm hook, like the squares",
        "Which hook size for the Café border?",
    ]
    stranger = search(marketplace, "bob", "hook", conversationId=chats["fox"])
    missing = search(marketplace, "bob", "hook", conversationId="conv_" + "a" * 26)
    malformed = search(marketplace, "bob", "hook", conversationId="nope")
    assert stranger.status == missing.status == malformed.status == 404
    assert stranger.body == missing.body == malformed.body
    assert stranger.body["error"]["code"] == "not_found"


def test_results_carry_the_message_its_conversation_and_highlights(marketplace: Api, chats: dict[str, str]) -> None:
    response = search(marketplace, "alice", "cafe bord")
    (result,) = response.body["results"]
    assert result["message"]["senderId"] == "bob" and result["message"]["isDeleted"] is False
    assert result["conversation"]["id"] == chats["blanket"]
    assert result["conversation"]["participantIds"] == ["alice", "bob"] or set(
        result["conversation"]["participantIds"]
    ) == {"alice", "bob"}
    content = result["message"]["content"]
    assert [content[h["start"] : h["end"]] for h in result["highlights"]] == ["Café", "border"]
    assert response.body["nextCursor"] is None


@pytest.mark.parametrize("q", ["", "a", "! ? .", "x" * 201, "🧶"])
def test_a_query_without_a_word_of_two_characters_is_invalid_query(marketplace: Api, q: str) -> None:
    response = search(marketplace, "bob", q)
    assert response.status == 400
    assert response.body["error"]["code"] == "invalid_query"


def test_q_is_required(marketplace: Api) -> None:
    response = marketplace.call("GET", "/api/messages/search", "bob")
    assert (response.status, response.body["error"]["code"]) == (400, "invalid_query")


def test_edited_messages_are_found_by_their_new_words_only(
    marketplace: Api, chats: dict[str, str], message_stream: StreamDrain
) -> None:
    (first,) = search(marketplace, "bob", "border").body["results"]
    message_id = first["message"]["id"]
    edited = marketplace.call(
        "PATCH", f"/api/messages/{message_id}", "bob", {"content": "Which crochet hook for the picot edge?"}
    )
    assert edited.status == 200, edited.body
    message_stream.drain()
    assert found(marketplace, "bob", "border") == []
    assert found(marketplace, "alice", "cafe") == []
    assert found(marketplace, "alice", "picot") == ["Which crochet hook for the picot edge?"]
    # and the index holds nothing of the old words (not only hidden at query time)
    assert not [key for key in index_items("alice") if key.startswith(("bo#", "bor#", "borde#", "caf#", "cafe#"))]


def test_deleted_messages_are_never_found_and_leave_no_index_item(
    marketplace: Api, chats: dict[str, str], message_stream: StreamDrain
) -> None:
    (hit,) = search(marketplace, "carol", "amigurumi").body["results"]
    assert marketplace.call("DELETE", f"/api/messages/{hit['message']['id']}", "carol").status == 200
    message_stream.drain()
    assert found(marketplace, "carol", "amigurumi") == []
    assert found(marketplace, "dave", "fox") == []
    assert index_items("carol") == [] and index_items("dave") == []


def test_a_stale_index_entry_is_never_shown(
    marketplace: Api, chats: dict[str, str], message_stream: StreamDrain
) -> None:
    """Entries an edit should have removed but that a late, redelivered older record put back are filtered out
    against the message as it is now."""
    (hit,) = search(marketplace, "carol", "amigurumi").body["results"]
    marketplace.call("PATCH", f"/api/messages/{hit['message']['id']}", "carol", {"content": "Fox ears done"})
    message_stream.drain()
    _, seq = hit["message"]["id"].rsplit("_", 1)
    for bucket in index_buckets("The amigurumi fox ears: which hook?", None):
        key = f"{bucket}#{hit['message']['sentAt']}#{chats['fox']}#{int(seq):012d}"
        SearchTerm("u#carol", key).save()
        SearchTerm(f"c#{chats['fox']}", key).save()
    assert found(marketplace, "carol", "amigurumi") == []
    assert found(marketplace, "carol", "fox ears") == ["Fox ears done"]
    assert found(marketplace, "carol", "amigurumi", conversationId=chats["fox"]) == []


def test_attachments_are_found_by_their_file_name(
    marketplace: Api, chats: dict[str, str], message_stream: StreamDrain
) -> None:
    attachment = upload_pdf(marketplace, "alice", chats["blanket"])
    sent = marketplace.send(
        "alice", conversationId=chats["blanket"], content="", attachment={"attachmentId": attachment}
    )
    assert sent.status == 201, sent.body
    message_stream.drain()
    response = search(marketplace, "bob", "chart")  # the PDF is chart.pdf
    (result,) = response.body["results"]
    assert result["message"]["attachmentName"] == "chart.pdf" and result["highlights"] == []


def test_redelivered_batches_leave_the_same_index(
    marketplace: Api, chats: dict[str, str], message_stream: StreamDrain
) -> None:
    from chalice.test import Client

    from app import app

    before = index_items("bob")
    records = _all_records(message_stream)
    with Client(app) as client:
        for _ in range(2):
            response = client.lambda_.invoke("on_message_stream", {"Records": records})
            assert response.payload == {"batchItemFailures": []}
    assert index_items("bob") == before
    assert found(marketplace, "bob", "hook") == ["A 4mm hook, like the squares", "Which hook size for the Café border?"]


def _all_records(stream: StreamDrain) -> list[dict[str, Any]]:
    from dev.streams import stream_event

    client = stream.poller.streams
    shard = client.describe_stream(StreamArn=stream.source.stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = client.get_shard_iterator(
        StreamArn=stream.source.stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )
    records = client.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return list(stream_event(records, stream.source.stream_arn, get_settings().region)["Records"])


def test_pages_follow_signed_cursors_newest_first(
    marketplace: Api, chats: dict[str, str], message_stream: StreamDrain
) -> None:
    for number in range(5):
        marketplace.send("bob", conversationId=chats["blanket"], content=f"yarn question {number}")
    message_stream.drain()
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = search(marketplace, "alice", "yarn", **params)
        assert response.status == 200, response.body
        pages.append([r["message"]["content"] for r in response.body["results"]])
        cursor = response.body["nextCursor"]
        if cursor is None:
            break
    assert [content for page in pages for content in page] == [f"yarn question {n}" for n in range(4, -1, -1)]
    assert all(len(page) <= 2 for page in pages)
    first = search(marketplace, "alice", "yarn", limit=2).body["nextCursor"]
    for wrong in (
        search(marketplace, "bob", "yarn", cursor=first),  # another user's
        search(marketplace, "alice", "yarns", cursor=first),  # another query's
        search(marketplace, "alice", "yarn", cursor=first[:-2] + "xx"),  # altered
    ):
        assert (wrong.status, wrong.body["error"]["code"]) == (400, "invalid_cursor")


def test_search_is_rate_limited_per_user(
    marketplace: Api, chats: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(get_settings().rate_limits, "search", (2, 3600))  # an hour: three calls never straddle a window
    assert search(marketplace, "bob", "hook").status == 200
    assert search(marketplace, "bob", "hook").status == 200
    limited = search(marketplace, "bob", "hook")
    assert limited.status == 429 and limited.body["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert search(marketplace, "alice", "hook").status == 200  # per user


def test_index_writes_dynamodb_keeps_refusing_fail_their_record_only(
    marketplace: Api, message_stream: StreamDrain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unprocessed items (throttling) after the retries: the records they come from are reported in the partial batch
    response and redelivered; the others are done."""
    from chalicelib.services import search as search_service

    real = search_service.write_index
    refused: list[int] = [1]

    def throttled(writes: Any) -> set[tuple[str, str]]:
        writes = list(writes)
        failed = real(writes)
        if refused:
            refused.pop()
            first = next(w for w in writes if w[2].startswith("hoo#"))
            return failed | {(first[1], first[2])}
        return failed

    monkeypatch.setattr(search_service, "write_index", throttled)
    marketplace.send("bob", recipientId="alice", patternId="p1", content="yarn first")
    marketplace.send("bob", recipientId="alice", patternId="p1", content="hook second")
    first = message_stream.poller.poll_once(message_stream.source)
    assert (first.received, first.handled) == (2, 1)  # the yarn message is done, the hook one comes again
    message_stream.drain()
    assert found(marketplace, "alice", "hook") == ["hook second"]
    assert found(marketplace, "alice", "yarn") == ["yarn first"]
