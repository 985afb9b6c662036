"""The OpenAPI contract: generated from the code, committed, served, and true of real responses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from app import app  # noqa: F401 - registers every route
from chalicelib.api.http import ROUTES
from chalicelib.api.openapi import build_document, render
from tests.integration.conftest import Api

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
    assert send["security"] == [{"bearerAuth": []}]
    assert {"200", "201", "400", "401", "404", "409", "429", "503"} <= set(send["responses"])
    body = document["components"]["schemas"]["SendMessageRequest"]
    assert body["additionalProperties"] is False and "clientMessageId" in body["properties"]


def test_the_document_is_served_without_a_token(api: Api) -> None:
    response = api.call("GET", "/api/openapi.json")

    assert response.status == 200
    assert response.body == build_document()


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
        ("/api/messages/pattern/{pattern_id}", "get", opened),
        ("/api/messages", "post", sent),
        ("/api/messages", "post", retried),
        ("/api/messages", "get", marketplace.call("GET", "/api/messages", "alice")),
        ("/api/messages", "get", marketplace.conversation("alice", conversation_id)),
        ("/api/messages/conversations", "get", marketplace.conversations("alice")),
        ("/api/messages/{message_id}/read", "put", marketplace.mark_read("alice", sent.body["message"]["id"])),
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
