"""The OpenAPI contract: generated from the code, committed, served, and true of real responses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from app import app
from chalicelib.entrypoints.http.openapi import build_document as build_for
from chalicelib.entrypoints.http.openapi import render as render_for
from chalicelib.entrypoints.http.routing import route_specs
from chalicelib.errors import ErrorCode
from chalicelib.schemas.events import ConversationOpened
from chalicelib.schemas.jsonschema import clean_schema
from chalicelib.schemas.responses import ParticipantOut
from tests.integration.conftest import Api

ROUTES = set(route_specs(app))


def build_document() -> dict[str, Any]:
    return build_for(app)


def render() -> str:
    return render_for(app)


COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_committed_document_is_current() -> None:
    assert COMMITTED.read_text() == render(), "docs/openapi.json is stale: run `make openapi`"


def test_the_document_is_valid_openapi_3_1_and_covers_every_route() -> None:
    document = build_document()

    validate(document)
    assert document["openapi"] == "3.1.0"
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert documented == set(ROUTES)
    send = document["paths"]["/api/messages"]["post"]
    assert send.get("security", document["security"]) == [{"bearerAuth": []}]
    assert document["paths"]["/api/openapi.json"]["get"]["security"] == []
    assert {"200", "201", "400", "401", "404", "409", "429", "503"} <= set(send["responses"])
    body = document["components"]["schemas"]["SendMessageRequest"]
    assert body["additionalProperties"] is False and "clientMessageId" in body["properties"]


def test_the_document_is_served_without_a_token(api: Api) -> None:
    response = api.call("GET", "/api/openapi.json")

    assert response.status == 200
    assert response.body == build_document()


def test_the_document_is_built_once_per_container(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Building it costs ~70 ms of CPU: a public route must not pay that on every request."""
    import chalicelib.entrypoints.http.openapi as openapi
    from chalicelib.entrypoints.http import docs

    builds: list[object] = []
    real = openapi.build_document

    def counting(app: Any) -> dict[str, Any]:
        builds.append(app)
        return real(app)

    docs.document.cache_clear()
    monkeypatch.setattr(openapi, "build_document", counting)
    try:
        answers = [api.call("GET", "/api/openapi.json") for _ in range(3)]
    finally:
        docs.document.cache_clear()

    assert [answer.status for answer in answers] == [200, 200, 200]
    assert answers[0].body == answers[2].body
    assert len(builds) == 1


def _validator(path: str, method: str, status: int) -> Any:
    document = build_document()
    schema = document["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    return lambda body: jsonschema.validate(
        body, {**schema, "components": document["components"]}, cls=jsonschema.Draft202012Validator
    )


def _check(path: str, method: str, response: Any) -> None:
    _validator(path, method, response.status)(response.body)


def test_real_responses_match_their_schemas(marketplace: Api) -> None:
    opened = marketplace.call("GET", "/api/messages/pattern/p1", "bob")
    sent = marketplace.send("bob", recipientId="alice", patternId="p1", content="hi", clientMessageId="c1")
    retried = marketplace.send("bob", recipientId="alice", patternId="p1", content="hi", clientMessageId="c1")
    conversation_id = sent.body["conversation"]["id"]
    cases = [
        ("/api/messages/pattern/{patternId}", "get", opened),
        ("/api/messages", "post", sent),
        ("/api/messages", "post", retried),
        ("/api/messages", "get", marketplace.call("GET", "/api/messages", "alice")),
        # The seed's form of the list path answers like getConversation.
        ("/api/messages/conversations/{conversationId}", "get", marketplace.conversation("alice", conversation_id)),
        (
            "/api/messages/conversations/{conversationId}",
            "get",
            marketplace.call("GET", f"/api/messages/conversations/{conversation_id}?limit=1", "alice"),
        ),
        ("/api/messages/conversations", "get", marketplace.conversations("alice")),
        ("/api/messages/{messageId}/read", "put", marketplace.mark_read("alice", sent.body["message"]["id"])),
        ("/api/messages/sync", "get", marketplace.call("GET", "/api/messages/sync", "alice")),
        (
            "/api/attachments",
            "post",
            marketplace.call(
                "POST",
                "/api/attachments",
                "bob",
                {"conversationId": conversation_id, "fileName": "a.pdf", "contentType": "application/pdf", "size": 9},
            ),
        ),
        ("/api/messages", "post", marketplace.send("bob", recipientId="bob")),
        ("/api/messages", "get", marketplace.call("GET", "/api/messages")),
        ("/api/messages/conversations", "get", marketplace.conversations("alice", "?limit=999")),
    ]
    for path, method, response in cases:
        _check(path, method, response)


@pytest.mark.parametrize("bad", [{"message": "no code"}, {"error": {"code": 1, "message": "x"}}])
def test_the_schema_check_itself_rejects_wrong_shapes(bad: dict) -> None:
    with pytest.raises(jsonschema.ValidationError):
        _validator("/api/messages", "post", 400)(bad)


def test_committed_document_is_pretty_and_sorted() -> None:
    assert json.loads(COMMITTED.read_text()) == build_document()


# --- what a code generator reads ----------------------------------------------------------------------


def _schemas(document: dict[str, Any]) -> dict[str, Any]:
    return document["components"]["schemas"]


def test_operations_have_readable_ids_and_tags() -> None:
    document = build_document()
    operations = {
        operation["operationId"]: (method, path)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }

    assert len(operations) == len(ROUTES)  # unique
    for expected in ("listConversations", "sendMessage", "markRead", "getPatternConversation", "syncChanges"):
        assert expected in operations
    assert operations["createUpload"] == ("post", "/api/attachments")
    assert all(op["tags"] for methods in document["paths"].values() for op in methods.values())
    assert {server["url"] for server in document["servers"]} >= {"http://127.0.0.1:8000"}


def test_optional_fields_are_optional_and_never_default_to_null() -> None:
    schemas = _schemas(build_document())
    text = json.dumps(schemas)

    assert '"default": null' not in text
    send = schemas["SendMessageRequest"]
    assert send.get("required", []) == []
    assert {"type": "null"} in send["properties"]["recipientId"]["anyOf"]  # a client may send null or leave it out
    message = schemas["MessageOut"]
    assert "readAt" not in message["required"] and "attachmentUrl" not in message["required"]
    assert {"id", "content", "sentAt", "isRead"} <= set(message["required"])


def test_nullable_fields_are_required_and_say_so() -> None:
    listing = _schemas(build_document())["ConversationListOut"]

    assert "nextCursor" in listing["required"]
    assert {"type": "null"} in listing["properties"]["nextCursor"]["anyOf"]


def test_no_titles_or_rest_markup_leak_into_the_schemas() -> None:
    document = build_document()
    text = json.dumps(document)

    assert "``" not in text
    for schema in _schemas(document).values():
        for prop in schema.get("properties", {}).values():
            assert "title" not in prop


def test_timestamps_are_date_times_and_error_codes_an_enum() -> None:
    schemas = _schemas(build_document())

    assert schemas["MessageOut"]["properties"]["sentAt"]["format"] == "date-time"
    code = schemas["ErrorBody"]["properties"]["code"]
    enum = schemas[code["$ref"].rsplit("/", 1)[-1]]["enum"] if "$ref" in code else code["enum"]
    assert set(enum) == {str(c) for c in ErrorCode}


def test_limits_document_their_maximum() -> None:
    document = build_document()
    parameters = {p["name"]: p["schema"] for p in document["paths"]["/api/messages/conversations"]["get"]["parameters"]}

    assert parameters["limit"]["maximum"] == 30 and parameters["limit"]["type"] == "integer"


def test_each_operation_lists_only_the_errors_it_can_answer() -> None:
    paths = build_document()["paths"]

    assert "409" in paths["/api/messages"]["post"]["responses"]
    assert not {"409", "413", "415"} & set(paths["/api/messages/conversations"]["get"]["responses"])
    assert not {"401", "403"} & set(paths["/api/openapi.json"]["get"]["responses"])


def test_request_defaults_leave_fields_optional_for_generators() -> None:
    # openapi-typescript types a component's property that has a `default` as always present.
    schemas = _schemas(build_document())

    for name in ("SendMessageRequest", "MarkReadRequest"):
        assert '"default"' not in json.dumps(schemas[name])
    mark = schemas["MarkReadRequest"]
    assert "markConversation" not in mark.get("required", [])
    assert mark["properties"]["markConversation"] == {"type": "boolean", "description": "Default: `false`."}
    assert "content" not in schemas["SendMessageRequest"].get("required", [])


def test_response_fields_with_a_default_are_required() -> None:
    # No REST response has one today; the socket's `notification` event does (docs/asyncapi.yaml reuses this).
    schema = clean_schema(ConversationOpened.model_json_schema(by_alias=True, mode="serialization"), "serialization")
    sent = ConversationOpened(conversation_id="c", by=ParticipantOut(id="b", name="B")).wire()

    assert "type" in schema["required"] and sent["type"] == "conversation_opened"
    assert "patternId" not in schema["required"] and "patternId" not in sent
