"""A message's life after it was sent: edits, deletion, reactions and quoted replies, over REST and the socket.

Every rule and refusal of the issue, who is told what, and what the stored items look like afterwards (the names a
stream consumer re-indexes from: ``content``, ``is_deleted``, ``edited_at``, ``deleted_at``, ``version``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from chalicelib.adapters.dynamodb import Attachment, Conversation, Membership, Message
from chalicelib.bootstrap import Services
from chalicelib.domain.clock import parse_iso
from chalicelib.domain.ids import conversation_id_for, message_id_for
from chalicelib.settings import get_settings
from tests.integration.conftest import BUCKET, Api, Response
from tests.integration.sockets import Sockets
from tests.integration.uploads import upload_pdf

BLANKET = conversation_id_for("alice", "bob", "p1")
DIRECT = conversation_id_for("carol", "dave", None)
YARN, THUMBS, HEART = "🧶", "👍", "❤️"


def edit(api: Api, user: str, message_id: str, content: str) -> Response:
    return api.call("PATCH", f"/api/messages/{message_id}", user, {"content": content})


def delete(api: Api, user: str, message_id: str) -> Response:
    return api.call("DELETE", f"/api/messages/{message_id}", user)


def react(api: Api, user: str, message_id: str, emoji: str, *, add: bool = True, encode: bool = True) -> Response:
    segment = quote(emoji, safe="") if encode else emoji
    return api.call("PUT" if add else "DELETE", f"/api/messages/{message_id}/reactions/{segment}", user)


def ok(response: Response) -> dict[str, Any]:
    assert response.status == 200, response.body
    return response.body["message"]


def code(response: Response) -> tuple[int, str]:
    return response.status, response.body["error"]["code"]


def send(api: Api, user: str, content: str, **fields: Any) -> dict[str, Any]:
    response = api.send(user, conversationId=BLANKET, content=content, **fields)
    assert response.status == 201, response.body
    return response.body["message"]


def history(api: Api, user: str) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in api.conversation(user, BLANKET).body["messages"]}


def at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """``configure(NAME=value, ...)``: settings from these variables for the rest of the test."""

    def apply(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def question(marketplace: Api) -> dict[str, Any]:
    """Bob's first message to alice about p1 (the conversation's last message)."""
    response = marketplace.send("bob", recipientId="alice", patternId="p1", content="Which hook for the border?")
    assert response.status == 201, response.body
    return response.body["message"]


# --- the message's new fields ------------------------------------------------------------------------


def test_a_new_message_is_version_one_with_nothing_changed(question: dict[str, Any]) -> None:
    assert (question["version"], question["isDeleted"], question["reactions"]) == (1, False, [])
    assert {"editedAt", "deletedAt", "replyTo"}.isdisjoint(question)


def test_a_message_stored_before_versions_existed_reads_as_version_one(
    marketplace: Api, question: dict[str, Any]
) -> None:
    Message(BLANKET, 1).update(actions=[Message.version.remove()])

    assert history(marketplace, "alice")[question["id"]]["version"] == 1
    assert ok(edit(marketplace, "bob", question["id"], "Which hook, 4 mm?"))["version"] == 2


# --- edits ---------------------------------------------------------------------------------------------


def test_the_sender_edits_within_the_window(marketplace: Api, question: dict[str, Any]) -> None:
    edited = ok(edit(marketplace, "bob", question["id"], "  Which hook for the border, 4 mm?  "))

    assert (edited["content"], edited["version"], edited["isDeleted"]) == ("Which hook for the border, 4 mm?", 2, False)
    assert edited["editedAt"] >= question["sentAt"]
    assert history(marketplace, "alice")[question["id"]] == edited
    stored = Message.get(BLANKET, 1)
    assert (stored.content, stored.version, stored.edited_at, stored.is_deleted) == (
        edited["content"],
        2,
        edited["editedAt"],
        None,
    )


def test_an_edit_of_the_last_message_moves_both_previews(marketplace: Api, question: dict[str, Any]) -> None:
    edited = ok(edit(marketplace, "bob", question["id"], "Which hook, 4 mm?"))

    for user in ("alice", "bob"):
        [listed] = marketplace.conversations(user).body["conversations"]
        assert listed["lastMessage"]["content"] == "Which hook, 4 mm?"
        assert listed["lastMessage"]["editedAt"] == edited["editedAt"]
    assert Conversation.get(BLANKET).last_message["content"] == "Which hook, 4 mm?"
    assert {m.user_id: m.last_message["content"] for m in Membership.scan()} == dict.fromkeys(
        ("alice", "bob"), "Which hook, 4 mm?"
    )


def test_an_edit_of_an_older_message_leaves_the_preview(marketplace: Api, question: dict[str, Any]) -> None:
    send(marketplace, "alice", "A 4 mm hook.")

    ok(edit(marketplace, "bob", question["id"], "Which hook, please?"))

    [listed] = marketplace.conversations("bob").body["conversations"]
    assert listed["lastMessage"]["content"] == "A 4 mm hook." and "editedAt" not in listed["lastMessage"]


def test_the_same_text_again_changes_nothing(marketplace: Api, question: dict[str, Any]) -> None:
    again = ok(edit(marketplace, "bob", question["id"], question["content"]))

    assert again == question and Message.get(BLANKET, 1).version == 1


def test_only_the_sender_edits(marketplace: Api, question: dict[str, Any]) -> None:
    assert code(edit(marketplace, "alice", question["id"], "mine now")) == (403, "not_sender")
    assert Message.get(BLANKET, 1).content == question["content"]


@pytest.mark.parametrize(("after_seconds", "status"), [(900, 200), (901, 403)])
def test_edits_close_after_the_window(
    marketplace: Api,
    question: dict[str, Any],
    install_services: Callable[..., Services],
    after_seconds: int,
    status: int,
) -> None:
    install_services(clock=at(parse_iso(question["sentAt"]) + timedelta(seconds=after_seconds)))

    response = edit(marketplace, "bob", question["id"], "late")

    assert response.status == status, response.body
    if status == 403:
        assert response.body["error"]["code"] == "edit_window_passed"


def test_the_window_is_configurable(
    marketplace: Api,
    question: dict[str, Any],
    configure: Callable[..., None],
    install_services: Callable[..., Services],
) -> None:
    configure(MESSAGE_EDIT_WINDOW_SECONDS="60")
    install_services(clock=at(parse_iso(question["sentAt"]) + timedelta(seconds=61)))

    assert code(edit(marketplace, "bob", question["id"], "late")) == (403, "edit_window_passed")


@pytest.mark.parametrize(
    ("content", "field"),
    [("", "content"), ("   ", "content"), ("x" * 5001, "content"), ("bell\x07", "content")],
)
def test_an_edit_follows_the_send_rules_for_content(
    marketplace: Api, question: dict[str, Any], content: str, field: str
) -> None:
    response = edit(marketplace, "bob", question["id"], content)

    assert code(response) == (400, "invalid_request")
    assert field in {d["field"] for d in response.body["error"]["details"]}
    assert Message.get(BLANKET, 1).version == 1


def test_an_attachment_message_keeps_its_attachment_and_may_lose_its_caption(
    marketplace: Api, question: dict[str, Any]
) -> None:
    attachment_id = upload_pdf(marketplace, "bob", BLANKET)
    sent = send(marketplace, "bob", "the chart", attachment={"attachmentId": attachment_id})

    edited = ok(edit(marketplace, "bob", sent["id"], ""))

    assert (edited["content"], edited["attachmentId"], edited["attachmentName"]) == ("", attachment_id, "chart.pdf")
    assert edited["attachmentUrl"]


def test_an_unknown_field_in_an_edit_is_refused(marketplace: Api, question: dict[str, Any]) -> None:
    response = marketplace.call("PATCH", f"/api/messages/{question['id']}", "bob", {"content": "x", "pinned": True})

    assert code(response) == (400, "invalid_request")


# --- deletion ------------------------------------------------------------------------------------------


def test_deleting_leaves_a_tombstone(marketplace: Api, question: dict[str, Any]) -> None:
    tombstone = ok(delete(marketplace, "bob", question["id"]))

    assert (tombstone["isDeleted"], tombstone["content"], tombstone["version"]) == (True, "", 2)
    assert tombstone["deletedAt"] >= question["sentAt"]
    assert history(marketplace, "alice")[question["id"]] == tombstone
    stored = Message.get(BLANKET, 1)
    assert (stored.content, stored.is_deleted, stored.deleted_at, stored.version) == (
        "",
        True,
        tombstone["deletedAt"],
        2,
    )


def test_deleting_is_idempotent(marketplace: Api, question: dict[str, Any]) -> None:
    first = ok(delete(marketplace, "bob", question["id"]))

    assert ok(delete(marketplace, "bob", question["id"])) == first


def test_only_the_sender_deletes(marketplace: Api, question: dict[str, Any]) -> None:
    assert code(delete(marketplace, "alice", question["id"])) == (403, "not_sender")
    assert not Message.get(BLANKET, 1).is_deleted


def test_a_deleted_message_can_be_neither_edited_nor_reacted_to(marketplace: Api, question: dict[str, Any]) -> None:
    ok(react(marketplace, "alice", question["id"], YARN))
    ok(delete(marketplace, "bob", question["id"]))

    assert code(edit(marketplace, "bob", question["id"], "back")) == (409, "message_deleted")
    assert code(react(marketplace, "alice", question["id"], THUMBS)) == (409, "message_deleted")
    assert code(react(marketplace, "alice", question["id"], YARN, add=False)) == (409, "message_deleted")
    assert history(marketplace, "bob")[question["id"]]["reactions"] == []


def test_deleting_the_last_message_moves_both_previews(marketplace: Api, question: dict[str, Any]) -> None:
    ok(delete(marketplace, "bob", question["id"]))

    for user in ("alice", "bob"):
        [listed] = marketplace.conversations(user).body["conversations"]
        assert (listed["lastMessage"]["isDeleted"], listed["lastMessage"]["content"]) == (True, "")


def test_a_deleted_attachment_is_gone_for_everyone_and_left_to_the_lifecycle_rule(
    marketplace: Api, question: dict[str, Any]
) -> None:
    attachment_id = upload_pdf(marketplace, "bob", BLANKET)
    sent = send(marketplace, "bob", "the chart", attachment={"attachmentId": attachment_id})
    stored = Attachment.get(attachment_id)
    key = stored.verified_key  # what the message serves: the server's copy of the file it checked
    assert key is not None and _state_tag(key) == "attached"
    assert "state" not in _tags(stored.key) or _state_tag(stored.key) == "pending"  # the original is never served

    tombstone = ok(delete(marketplace, "bob", sent["id"]))

    assert not {k for k in tombstone if k.startswith("attachment") or k in ("thumbnailUrl", "width", "height")}
    assert {k for k in history(marketplace, "alice")[sent["id"]] if k.startswith("attachment")} == set()
    for user in ("alice", "bob"):
        assert code(marketplace.call("GET", f"/api/attachments/{attachment_id}", user)) == (404, "not_found")
    assert _state_tag(key) == "pending"  # the bucket's expire-abandoned-uploads rule deletes it after a day
    assert Message.get(BLANKET, int(sent["id"].rsplit("_", 1)[1])).attachment is None
    assert Attachment.get(attachment_id).expires_at is not None


def _tags(key: str) -> dict[str, str]:
    tags = BUCKET.client.get_object_tagging(Bucket=BUCKET.bucket, Key=key)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tags}


def _state_tag(key: str) -> str:
    return _tags(key)["state"]


# --- reactions -----------------------------------------------------------------------------------------


def test_reactions_count_users_in_order_of_first_use(marketplace: Api, question: dict[str, Any]) -> None:
    ok(react(marketplace, "alice", question["id"], YARN))
    ok(react(marketplace, "bob", question["id"], THUMBS))
    reacted = ok(react(marketplace, "bob", question["id"], YARN))

    assert reacted["reactions"] == [
        {"emoji": YARN, "count": 2, "userIds": ["alice", "bob"]},
        {"emoji": THUMBS, "count": 1, "userIds": ["bob"]},
    ]
    assert reacted["version"] == 4
    assert history(marketplace, "alice")[question["id"]]["reactions"] == reacted["reactions"]


def test_a_reaction_is_once_per_user_and_emoji_and_idempotent(marketplace: Api, question: dict[str, Any]) -> None:
    first = ok(react(marketplace, "alice", question["id"], YARN))

    assert ok(react(marketplace, "alice", question["id"], YARN)) == first
    assert first["reactions"] == [{"emoji": YARN, "count": 1, "userIds": ["alice"]}]


def test_taking_back_reactions(marketplace: Api, question: dict[str, Any]) -> None:
    ok(react(marketplace, "alice", question["id"], YARN))
    ok(react(marketplace, "bob", question["id"], YARN))
    ok(react(marketplace, "bob", question["id"], THUMBS))

    after_alice = ok(react(marketplace, "alice", question["id"], YARN, add=False))
    after_bob = ok(react(marketplace, "bob", question["id"], YARN, add=False))
    again = ok(react(marketplace, "bob", question["id"], YARN, add=False))

    assert after_alice["reactions"][0] == {"emoji": YARN, "count": 1, "userIds": ["bob"]}
    assert after_bob["reactions"] == [{"emoji": THUMBS, "count": 1, "userIds": ["bob"]}]
    assert again == after_bob


@pytest.mark.parametrize(
    ("segment", "emoji"),
    [
        pytest.param(quote(YARN, safe=""), YARN, id="percent-encoded"),
        pytest.param(YARN, YARN, id="decoded"),
        pytest.param(quote("❤", safe=""), HEART, id="heart without the variation selector"),
        pytest.param(quote(HEART, safe=""), HEART, id="heart with it"),
    ],
)
def test_the_emoji_in_the_path_is_taken_encoded_or_decoded(
    marketplace: Api, question: dict[str, Any], segment: str, emoji: str
) -> None:
    response = marketplace.call("PUT", f"/api/messages/{question['id']}/reactions/{segment}", "alice")

    assert ok(response)["reactions"] == [{"emoji": emoji, "count": 1, "userIds": ["alice"]}]


@pytest.mark.parametrize(
    "segment",
    ["smile", "%F0%9F%92%A9", "%25F0%259F%25A7%25B6", "%FF", quote("🧶🧶", safe=""), quote("👍🏽", safe="")],
    ids=["a word", "not on the list", "encoded twice", "not UTF-8", "two emoji", "with a skin tone"],
)
def test_only_the_allow_list_is_accepted(marketplace: Api, question: dict[str, Any], segment: str) -> None:
    response = marketplace.call("PUT", f"/api/messages/{question['id']}/reactions/{segment}", "alice")

    assert code(response) == (400, "invalid_reaction")
    assert Message.get(BLANKET, 1).reactions is None


def test_the_allow_list_is_configurable(
    marketplace: Api, question: dict[str, Any], configure: Callable[..., None]
) -> None:
    configure(REACTION_EMOJI="🐑")

    assert code(react(marketplace, "alice", question["id"], YARN)) == (400, "invalid_reaction")
    assert ok(react(marketplace, "alice", question["id"], "🐑"))["reactions"][0]["emoji"] == "🐑"


def test_a_message_carries_a_bounded_number_of_distinct_reactions(
    marketplace: Api, question: dict[str, Any], configure: Callable[..., None]
) -> None:
    configure(MESSAGE_MAX_REACTIONS="2")
    ok(react(marketplace, "alice", question["id"], YARN))
    ok(react(marketplace, "bob", question["id"], THUMBS))

    assert code(react(marketplace, "alice", question["id"], HEART)) == (409, "too_many_reactions")
    assert ok(react(marketplace, "alice", question["id"], THUMBS))["reactions"][1]["count"] == 2  # a known one


def test_the_default_allow_list_is_a_dozen(marketplace: Api) -> None:
    assert len(get_settings().reaction_emoji) == 12
    assert YARN in get_settings().reaction_emoji


# --- who is told -----------------------------------------------------------------------------------------


@pytest.fixture
def watchers(marketplace: Api, question: dict[str, Any], sockets: Sockets) -> dict[str, str]:
    """alice in the room and elsewhere; bob in the room and elsewhere; carol (a stranger) elsewhere."""
    connections = {
        "alice_room": sockets.connect("alice"),
        "alice_other": sockets.connect("alice"),
        "bob_room": sockets.connect("bob"),
        "bob_other": sockets.connect("bob"),
        "carol": sockets.connect("carol"),
    }
    for name in ("alice_room", "bob_room"):
        sockets.send(connections[name], "join_conversation", conversationId=BLANKET)
    sockets.clear()
    return connections


def received(sockets: Sockets, watchers: dict[str, str]) -> dict[str, list[str]]:
    return {name: sockets.names(cid) for name, cid in watchers.items()}


def test_an_edit_reaches_the_room_and_every_device_of_the_other_participant(
    marketplace: Api, question: dict[str, Any], sockets: Sockets, watchers: dict[str, str]
) -> None:
    edited = ok(edit(marketplace, "bob", question["id"], "Which hook, 4 mm?"))

    assert received(sockets, watchers) == {
        "alice_room": ["message_updated"],
        "alice_other": ["message_updated"],
        "bob_room": ["message_updated"],  # the room, as for message_received (a REST call has no origin connection)
        "bob_other": [],  # the actor's own devices are never notified
        "carol": [],
    }
    assert sockets.events(watchers["alice_other"], "message_updated") == [{"message": edited}]


def test_a_deletion_and_a_reaction_are_told_the_same_way(
    marketplace: Api, question: dict[str, Any], sockets: Sockets, watchers: dict[str, str]
) -> None:
    reacted = ok(react(marketplace, "alice", question["id"], YARN))
    tombstone = ok(delete(marketplace, "bob", question["id"]))

    assert received(sockets, watchers) == {
        "alice_room": ["reaction_updated", "message_deleted"],
        "alice_other": ["message_deleted"],
        "bob_room": ["reaction_updated", "message_deleted"],
        "bob_other": ["reaction_updated"],
        "carol": [],
    }
    assert sockets.events(watchers["bob_other"], "reaction_updated") == [
        {
            "conversationId": BLANKET,
            "messageId": question["id"],
            "emoji": YARN,
            "userId": "alice",
            "action": "added",
            "reactions": reacted["reactions"],
            "version": 2,
        }
    ]
    assert sockets.events(watchers["alice_other"], "message_deleted") == [
        {"conversationId": BLANKET, "messageId": question["id"], "deletedAt": tombstone["deletedAt"], "version": 3}
    ]


def test_a_change_that_changes_nothing_tells_nobody(
    marketplace: Api, question: dict[str, Any], sockets: Sockets, watchers: dict[str, str]
) -> None:
    ok(edit(marketplace, "bob", question["id"], question["content"]))
    ok(react(marketplace, "alice", question["id"], YARN, add=False))

    assert received(sockets, watchers) == {name: [] for name in watchers}


def test_socket_actions_answer_the_actor_and_tell_the_others(
    marketplace: Api, question: dict[str, Any], sockets: Sockets, watchers: dict[str, str]
) -> None:
    actor = watchers["bob_room"]

    sockets.send(actor, "edit_message", messageId=question["id"], content="Which hook, 4 mm?", requestId="e1")
    sockets.send(actor, "add_reaction", messageId=question["id"], emoji=YARN, requestId="r1")
    sockets.send(actor, "remove_reaction", messageId=question["id"], emoji=YARN, requestId="r2")
    sockets.send(actor, "delete_message", messageId=question["id"], requestId="d1")

    answers = [(f["event"], f["data"]["requestId"], f["data"]["message"]["version"]) for f in sockets.frames(actor)]
    assert answers == [
        ("message_edited", "e1", 2),
        ("reaction_added", "r1", 3),
        ("reaction_removed", "r2", 4),
        (
            "message_removed",
            "d1",
            5,
        ),
    ]
    expected = ["message_updated", "reaction_updated", "reaction_updated", "message_deleted"]
    assert sockets.names(watchers["alice_room"]) == sockets.names(watchers["alice_other"]) == expected
    assert sockets.frames(watchers["bob_other"]) == sockets.frames(watchers["carol"]) == []


@pytest.mark.parametrize(
    ("user", "action", "fields", "error"),
    [
        ("alice", "edit_message", {"content": "x"}, "not_sender"),
        ("alice", "delete_message", {}, "not_sender"),
        ("alice", "add_reaction", {"emoji": "smile"}, "invalid_reaction"),
        ("bob", "edit_message", {"content": ""}, "invalid_request"),
        ("bob", "edit_message", {}, "invalid_request"),
    ],
)
def test_socket_refusals_match_rest(
    marketplace: Api,
    question: dict[str, Any],
    sockets: Sockets,
    user: str,
    action: str,
    fields: dict[str, Any],
    error: str,
) -> None:
    connection = sockets.connect(user)

    sockets.send(connection, action, messageId=question["id"], requestId="q1", **fields)

    [refused] = sockets.events(connection, "error")
    assert (refused["code"], refused["action"], refused["requestId"]) == (error, action, "q1")


def test_a_stranger_and_a_missing_message_get_the_same_socket_answer(
    marketplace: Api, question: dict[str, Any], sockets: Sockets
) -> None:
    carol = sockets.connect("carol")
    missing = message_id_for(BLANKET, 99)

    for message_id in (question["id"], missing, "not-a-message-id"):
        sockets.send(carol, "add_reaction", messageId=message_id, emoji=YARN)

    errors = sockets.events(carol, "error")
    assert len(errors) == 3 and all(e == errors[0] for e in errors) and errors[0]["code"] == "not_found"


# --- quoted replies ------------------------------------------------------------------------------------


def test_a_reply_quotes_a_message_of_its_conversation(marketplace: Api, question: dict[str, Any]) -> None:
    reply = send(marketplace, "alice", "A 4 mm hook.", replyTo={"messageId": question["id"]})

    assert reply["replyTo"] == {
        "id": question["id"],
        "senderId": "bob",
        "content": "Which hook for the border?",
        "isDeleted": False,
    }
    assert history(marketplace, "bob")[reply["id"]]["replyTo"] == reply["replyTo"]
    assert Message.get(BLANKET, 1).reply_seqs == {2}


def test_a_reply_over_the_socket(marketplace: Api, question: dict[str, Any], sockets: Sockets) -> None:
    alice, bob = sockets.connect("alice"), sockets.connect("bob")
    sockets.send(bob, "join_conversation", conversationId=BLANKET)

    sockets.send(alice, "new_message", conversationId=BLANKET, content="4 mm", replyTo={"messageId": question["id"]})

    [sent] = sockets.events(alice, "message_sent")
    [delivered] = sockets.events(bob, "message_received")
    assert sent["message"]["replyTo"]["id"] == delivered["replyTo"]["id"] == question["id"]


def test_the_quote_is_a_preview(marketplace: Api, question: dict[str, Any]) -> None:
    long = send(marketplace, "bob", "x" * 300)

    reply = send(marketplace, "alice", "ok", replyTo={"messageId": long["id"]})

    assert reply["replyTo"]["content"] == "x" * 140


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(lambda: message_id_for(BLANKET, 99), id="missing in the conversation"),
        pytest.param(lambda: message_id_for(DIRECT, 1), id="of another conversation"),
        pytest.param(lambda: "msg_nonsense", id="not a message id"),
    ],
)
def test_a_reply_must_quote_a_message_of_the_same_conversation(
    marketplace: Api, question: dict[str, Any], target: Callable[[], str]
) -> None:
    marketplace.send("carol", recipientId="dave", content="hello dave")

    response = marketplace.send("alice", conversationId=BLANKET, content="x", replyTo={"messageId": target()})

    assert code(response) == (400, "invalid_reply")
    assert Conversation.get(BLANKET).message_count == 1


def test_a_stranger_quoting_someone_elses_message_learns_nothing(marketplace: Api, question: dict[str, Any]) -> None:
    def quoting(message_id: str) -> Response:
        return marketplace.send("carol", recipientId="dave", content="x", replyTo={"messageId": message_id})

    real, missing = quoting(question["id"]), quoting(message_id_for(BLANKET, 99))

    assert code(real) == (400, "invalid_reply") and real.body == missing.body


def test_a_first_message_cannot_quote(marketplace: Api) -> None:
    response = marketplace.send(
        "carol", recipientId="dave", content="x", replyTo={"messageId": message_id_for(DIRECT, 1)}
    )

    assert code(response) == (400, "invalid_reply")


def test_a_deleted_message_cannot_be_quoted(marketplace: Api, question: dict[str, Any]) -> None:
    ok(delete(marketplace, "bob", question["id"]))

    assert code(
        marketplace.send("alice", conversationId=BLANKET, content="x", replyTo={"messageId": question["id"]})
    ) == (
        409,
        "message_deleted",
    )


def test_replies_show_their_original_as_it_is_now(
    marketplace: Api, question: dict[str, Any], sockets: Sockets, watchers: dict[str, str]
) -> None:
    reply = send(marketplace, "alice", "A 4 mm hook.", replyTo={"messageId": question["id"]})
    sockets.clear()

    ok(edit(marketplace, "bob", question["id"], "Which hook for the border, please?"))
    edited_reply = history(marketplace, "alice")[reply["id"]]
    ok(delete(marketplace, "bob", question["id"]))
    after_delete = history(marketplace, "bob")[reply["id"]]

    assert edited_reply["replyTo"]["content"] == "Which hook for the border, please?"
    assert edited_reply["version"] == 2  # the reply changed with its original
    assert after_delete["replyTo"] == {"id": question["id"], "senderId": "bob", "content": "", "isDeleted": True}
    assert after_delete["version"] == 3 and after_delete["content"] == "A 4 mm hook."
    # The room and alice's devices saw both the original's change and the reply's.
    updates = sockets.events(watchers["alice_other"], "message_updated")
    assert [(u["message"]["id"], u["message"]["version"]) for u in updates] == [
        (question["id"], 2),
        (reply["id"], 2),
        (reply["id"], 3),
    ]
    assert updates[-1]["message"] == after_delete
    assert sockets.names(watchers["alice_other"]) == [
        "message_updated",
        "message_updated",
        "message_deleted",
        "message_updated",
    ]


def test_a_deleted_reply_quotes_nothing(marketplace: Api, question: dict[str, Any]) -> None:
    reply = send(marketplace, "alice", "A 4 mm hook.", replyTo={"messageId": question["id"]})

    tombstone = ok(delete(marketplace, "alice", reply["id"]))
    ok(edit(marketplace, "bob", question["id"], "edited"))

    assert "replyTo" not in tombstone and "replyTo" not in history(marketplace, "bob")[reply["id"]]


def test_only_the_first_replies_follow_live_but_every_reply_shows_the_current_original(
    marketplace: Api, question: dict[str, Any], sockets: Sockets, watchers: dict[str, str]
) -> None:
    from chalicelib.domain.lifecycle import REPLIES_FOLLOWING

    replies = [
        send(marketplace, "alice", f"r{i}", replyTo={"messageId": question["id"]}) for i in range(REPLIES_FOLLOWING + 1)
    ]
    sockets.clear()

    ok(edit(marketplace, "bob", question["id"], "edited"))

    assert len(Message.get(BLANKET, 1).reply_seqs) == REPLIES_FOLLOWING
    updated = {u["message"]["id"] for u in sockets.events(watchers["alice_other"], "message_updated")}
    assert updated == {question["id"]} | {r["id"] for r in replies[:REPLIES_FOLLOWING]}
    shown = history(marketplace, "alice")
    assert {shown[r["id"]]["replyTo"]["content"] for r in replies} == {"edited"}
    assert shown[replies[-1]["id"]]["version"] == 1 and shown[replies[0]["id"]]["version"] == 2


def test_history_pages_show_quotes_of_messages_outside_the_page(marketplace: Api, question: dict[str, Any]) -> None:
    for index in range(5):
        send(marketplace, "bob", f"filler {index}")
    reply = send(marketplace, "alice", "about your first question", replyTo={"messageId": question["id"]})
    ok(edit(marketplace, "bob", question["id"], "Which hook, 4 mm?"))

    page = marketplace.conversation("alice", BLANKET, "&limit=2").body["messages"]

    assert question["id"] not in {m["id"] for m in page}
    assert {m["id"]: m.get("replyTo", {}).get("content") for m in page}[reply["id"]] == "Which hook, 4 mm?"


def test_a_retried_reply_answers_with_its_quote(marketplace: Api, question: dict[str, Any]) -> None:
    body = {
        "conversationId": BLANKET,
        "content": "4 mm",
        "replyTo": {"messageId": question["id"]},
        "clientMessageId": "r-1",
    }
    first = marketplace.send("alice", **body)
    ok(edit(marketplace, "bob", question["id"], "edited since"))

    retried = marketplace.send("alice", **body)

    assert (first.status, retried.status) == (201, 200)
    assert retried.body["message"]["replyTo"]["content"] == "edited since"
    assert code(marketplace.send("alice", **{**body, "replyTo": None})) == (409, "idempotency_key_reused")


# --- sync ----------------------------------------------------------------------------------------------


def test_an_offline_client_converges_through_sync(marketplace: Api, question: dict[str, Any]) -> None:
    second = send(marketplace, "bob", "And the yarn?")
    reply = send(marketplace, "alice", "A 4 mm hook.", replyTo={"messageId": question["id"]})
    cursor = marketplace.call("GET", "/api/messages/sync", "alice").body["nextCursor"]

    ok(edit(marketplace, "bob", question["id"], "Which hook, 4 mm?"))
    ok(react(marketplace, "bob", reply["id"], YARN))
    ok(delete(marketplace, "bob", second["id"]))
    page = marketplace.call("GET", f"/api/messages/sync?since={quote(cursor)}", "alice").body

    synced = {m["id"]: m for m in page["messages"]}
    assert len(page["messages"]) == len(synced) == 3  # each changed message once, in its current state
    assert synced == {m_id: m for m_id, m in history(marketplace, "alice").items() if m_id in synced}
    assert (synced[question["id"]]["version"], synced[question["id"]]["content"]) == (2, "Which hook, 4 mm?")
    assert synced[reply["id"]]["reactions"][0]["emoji"] == YARN
    assert synced[reply["id"]]["replyTo"]["content"] == "Which hook, 4 mm?"
    assert synced[second["id"]]["isDeleted"] is True
    [conversation] = page["conversations"]
    assert conversation["lastMessage"]["id"] == reply["id"]
