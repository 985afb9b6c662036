"""The JWT's name / picture claims reach other participants only when the platform would accept them too (finding 12).

A user whose identity provider lets them edit ``name`` / ``picture`` (Cognito's are user-writable) used to show
another participant terminal escapes, a right-to-left override, 500 invisible characters and a ``javascript:``
avatar. Now such a claim is dropped (the request still succeeds: the token is genuine) and the user is shown by
their id, on REST, on the socket and in what is stored.
"""

from __future__ import annotations

import time

import jwt

from chalicelib.adapters.dynamodb import UserProfile
from chalicelib.settings import get_settings
from tests.integration.conftest import Api
from tests.integration.sockets import Sockets

SPOOFED_NAME = "Alice Loops \u202e(official)\u202c" + "\u200b" * 500 + "\n\x1b[31m"
HOSTILE_PICTURE = "javascript:alert(document.cookie)"


def mallory_token(**claims: str) -> str:
    payload = {"sub": "mallory", "exp": int(time.time()) + 600, **claims}
    return jwt.encode(payload, get_settings().jwt_secret, algorithm="HS256")


def test_hostile_claims_are_dropped_before_they_are_stored_or_shown(marketplace: Api, sockets: Sockets) -> None:
    token = mallory_token(name=SPOOFED_NAME, picture=HOSTILE_PICTURE)
    sent = marketplace.call(
        "POST",
        "/api/messages",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body={"recipientId": "alice", "content": "hi, about your pattern"},
    )
    assert sent.status == 201
    connection = sockets.connect("mallory", token=token)
    sockets.send(connection, "new_message", conversationId=sent.body["conversation"]["id"], content="again")

    seen_by_alice = marketplace.conversations("alice").body["conversations"][0]["otherParticipant"]
    assert seen_by_alice["name"] == "mallory" and "avatarUrl" not in seen_by_alice
    stored = UserProfile.get("mallory")
    assert stored.claim_name is None and stored.claim_picture is None


def test_fit_claims_are_shown_as_before(marketplace: Api) -> None:
    token = mallory_token(name="Mallory Hooks", picture="https://cdn.example/mallory.png")
    marketplace.call(
        "POST",
        "/api/messages",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body={"recipientId": "alice", "content": "hello"},
    )

    seen_by_alice = marketplace.conversations("alice").body["conversations"][0]["otherParticipant"]
    assert seen_by_alice["name"] == "Mallory Hooks"
    assert seen_by_alice["avatarUrl"] == "https://cdn.example/mallory.png"


def test_claims_stored_before_the_rule_are_not_shown(marketplace: Api) -> None:
    marketplace.send("bob", recipientId="alice", content="hello")
    UserProfile("bob").update(
        actions=[UserProfile.claim_name.set(SPOOFED_NAME), UserProfile.claim_picture.set(HOSTILE_PICTURE)]
    )
    UserProfile("bob").update(actions=[UserProfile.name.remove(), UserProfile.avatar_url.remove()])

    seen_by_alice = marketplace.conversations("alice").body["conversations"][0]["otherParticipant"]
    assert seen_by_alice["name"] == "bob" and "avatarUrl" not in seen_by_alice


def test_the_platform_refuses_the_same_values(marketplace: Api) -> None:
    for body in (
        {"name": SPOOFED_NAME},
        {"name": "Mallory", "avatarUrl": HOSTILE_PICTURE},
        {"name": "Mallory", "avatarUrl": "http://cdn.example/mallory.png"},  # https only, like the claims
    ):
        refused = marketplace.service("PUT", "/api/internal/users/mallory", body)
        assert refused.status == 400 and refused.body["error"]["code"] == "invalid_request", body
