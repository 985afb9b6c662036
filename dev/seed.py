"""Demo data for the dev stack, written through the service endpoints the way the platform writes it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

ALICE, BOB, CAROL = "alice", "bob", "carol"
GRANNY_SQUARE = "granny-square-blanket"
AMIGURUMI_FOX = "amigurumi-fox"

USERS: dict[str, str] = {ALICE: "Alice Loops", BOB: "Bob Stitch", CAROL: "Carol Chain"}


@dataclass(frozen=True)
class DemoPattern:
    id: str
    creator_id: str
    title: str


PATTERNS = (
    DemoPattern(GRANNY_SQUARE, ALICE, "Granny Square Blanket"),
    DemoPattern(AMIGURUMI_FOX, ALICE, "Amigurumi Fox"),
)
PURCHASES = ((GRANNY_SQUARE, BOB),)  # (pattern, buyer)

# A direct message rather than one about the pattern, so the inbox is not empty while bob's conversation
# about the blanket stays unopened for demos (and for the e2e purchase flow, which starts it).
# The clientMessageId makes a re-run answer with the original message instead of sending a second one.
OPENING_MESSAGE: dict[str, Any] = {
    "recipientId": ALICE,
    "content": "Hi Alice! I just bought your granny square blanket pattern and can't wait to start.",
    "clientMessageId": "seed-bob-hello",
}
OPENING_SENDER = BOB

TIMEOUT_SECONDS = 10


class SeedError(RuntimeError):
    """A seed request was refused: the message names the request and the service's answer."""


def seed(api_url: str, *, service_token: str, user_token: Callable[[str], str]) -> None:
    """Upsert the demo users, patterns and purchases, then send the opening message (safe to re-run)."""
    with requests.Session() as http:

        def call(method: str, path: str, token: str, body: dict[str, Any] | None = None) -> None:
            response = http.request(
                method,
                api_url + path,
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                timeout=TIMEOUT_SECONDS,
            )
            if response.status_code not in (200, 201):
                raise SeedError(f"{method} {path} -> {response.status_code}: {response.text}")

        for user_id, name in USERS.items():
            call("PUT", f"/api/internal/users/{user_id}", service_token, {"name": name})
        for pattern in PATTERNS:
            body = {"creatorId": pattern.creator_id, "title": pattern.title}
            call("PUT", f"/api/internal/patterns/{pattern.id}", service_token, body)
        for pattern_id, buyer in PURCHASES:
            call("PUT", f"/api/internal/purchases/{pattern_id}/{buyer}", service_token)
        call("POST", "/api/messages", user_token(OPENING_SENDER), OPENING_MESSAGE)
