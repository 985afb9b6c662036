"""Reports and moderation end to end (issue 16): a report through the running dev stack, a moderator with the
token ``make dev`` prints, the resolution reaching real sockets."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus

from dev.seed import ALICE
from dev.stack import MODERATOR
from tests.e2e.api_client import Caller, json_of
from tests.e2e.conftest import RunningStack
from tests.e2e.ws_client import open_socket

pytestmark = pytest.mark.e2e


def test_the_banner_prints_a_moderator_token(stack: RunningStack) -> None:
    token = stack.ready["tokens"][MODERATOR]
    assert f"export MODERATOR_TOKEN={token}" in stack.output()
    listing = Caller(stack.api_url, token).request("GET", "/api/moderation/reports")
    assert listing.status_code == 200, listing.text


def test_report_then_moderator_deletes_the_message_and_suspends_its_sender(stack: RunningStack) -> None:
    alice = stack.caller(ALICE)
    moderator = Caller(stack.api_url, stack.ready["tokens"][MODERATOR])
    erin = stack.caller("erin")  # a new user writing to alice directly
    first = json_of(erin.send_to(ALICE, "pay me outside the shop: iban XX00"), 201)["message"]
    second = json_of(erin.send(first["conversationId"], "hello? pay me"), 201)["message"]

    with stack.socket(ALICE) as alice_socket, stack.socket("erin") as erin_socket:
        reports = []
        for message in (first, second):
            made = json_of(alice.request("POST", f"/api/messages/{message['id']}/report", {"reason": "scam"}), 201)
            reports.append(made["report"])
        again = json_of(alice.request("POST", f"/api/messages/{first['id']}/report", {"reason": "scam"}), 200)
        assert again["report"] == reports[0]

        queue = json_of(moderator.request("GET", "/api/moderation/reports"), 200)["reports"]
        assert [r["id"] for r in queue if r["reportedUserId"] == "erin"] == [r["id"] for r in reports]
        detail = json_of(moderator.request("GET", f"/api/moderation/reports/{reports[0]['id']}"), 200)
        assert detail["snapshot"]["content"] == "pay me outside the shop: iban XX00"
        assert [m["id"] for m in detail["messages"]] == [first["id"], second["id"]]

        deleted = moderator.request(
            "POST",
            f"/api/moderation/reports/{reports[0]['id']}/resolution",
            {"action": "delete_message", "note": "payment outside the platform"},
        )
        assert deleted.status_code == 200, deleted.text
        assert alice_socket.next("message_deleted", messageId=first["id"])["conversationId"] == first["conversationId"]
        assert erin_socket.next("message_deleted", messageId=first["id"])

        suspended = moderator.request(
            "POST",
            f"/api/moderation/reports/{reports[1]['id']}/resolution",
            {"action": "suspend_user", "note": "repeated", "suspendDays": 7},
        )
        assert suspended.status_code == 200, suspended.text
        erin_socket.closed()  # the live connection is closed

    refused = erin.list_conversations()
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "account_suspended")
    with pytest.raises(InvalidStatus) as upgrade:
        open_socket(stack.ws_url, stack.token("erin"))
    assert upgrade.value.response.status_code == 403
    shown = json_of(alice.open_conversation(first["conversationId"]), 200)["messages"]
    assert [(m["id"], m["isDeleted"]) for m in shown] == [(first["id"], True), (second["id"], False)]
    audit = json_of(moderator.request("GET", f"/api/moderation/audit?conversationId={first['conversationId']}"), 200)
    assert [e["action"] for e in audit["entries"]] == ["resolve_report", "resolve_report", "read_report"]
