"""The index writes a batch of message changes makes (services/search.py ``index_writes``): the difference between
each change's old and new image, folded per item in stream order, for both participants and the conversation."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.messages import MessageRecord
from chalicelib.domain.search import index_buckets
from chalicelib.services.message_stream import MessageChange
from chalicelib.services.search import index_items, index_writes

MESSAGE = MessageRecord(
    conversation_id="conv_x", seq=3, id="msg_conv_x_3", sender_id="bob", recipient_id="alice",
    recipient_receipt=2, content="granny square", sent_at="2026-12-01T10:00:00.000Z",
)  # fmt: skip


def change(sequence: str, old: MessageRecord | None, new: MessageRecord | None) -> MessageChange:
    return MessageChange(sequence, "MODIFY" if old and new else "INSERT" if new else "REMOVE", old, new)


def test_a_new_message_is_indexed_for_both_participants_and_its_conversation() -> None:
    writes, sources = index_writes([change("1", None, MESSAGE)])
    buckets = index_buckets("granny square", None)
    assert len(writes) == 3 * len(buckets) and {action for action, _, _, _ in writes} == {"put"}
    assert {scope for _, scope, _, _ in writes} == {"u#bob", "u#alice", "c#conv_x"}
    assert all(key.endswith("#2026-12-01T10:00:00.000Z#conv_x#000000000003") for _, _, key, _ in writes)
    assert all(origin == {"1"} for origin in sources.values())
    # Each put names the two participants: a search reads the blocks between the caller and them with the messages.
    assert {pair for _, _, _, pair in writes} == {"alice\x1fbob"}


def test_an_edit_swaps_only_the_changed_buckets_and_a_reaction_writes_nothing() -> None:
    edited = replace(MESSAGE, content="granny border", version=2)
    writes, _ = index_writes([change("2", MESSAGE, edited)])
    assert {(action, key.split("#")[0]) for action, _, key, _ in writes} == {
        *(("delete", b) for b in ("sq", "squ", "squar")),
        *(("put", b) for b in ("bo", "bor", "borde")),
    }
    assert index_writes([change("3", MESSAGE, replace(MESSAGE, version=2))]) == ([], {})


def test_a_deletion_removes_everything_and_the_last_change_of_an_item_wins() -> None:
    tombstone = replace(MESSAGE, content="", deleted_at="2026-12-01T11:00:00.000Z")
    assert index_items(tombstone) == set()
    writes, sources = index_writes([change("1", None, MESSAGE), change("2", MESSAGE, tombstone)])
    assert {action for action, _, _, _ in writes} == {"delete"}
    assert len(writes) == len(index_items(MESSAGE))  # one write per item: BatchWriteItem refuses duplicates
    assert all(origin == {"1", "2"} for origin in sources.values())
    removed, _ = index_writes([change("4", MESSAGE, None)])
    assert {action for action, _, _, _ in removed} == {"delete"}
    assert {pair for _, _, _, pair in removed} == {None}


def test_attachment_file_names_are_indexed() -> None:
    with_file = replace(MESSAGE, content="", attachment={"kind": "file", "name": "Fox-chart.pdf"})
    keys = {key.split("#")[0] for _, key in index_items(with_file)}
    assert {"fo", "fox", "ch", "cha", "chart", "pd", "pdf"} <= keys
