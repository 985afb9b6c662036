"""What the dev stack seeds: the demo data, through the service endpoints the way the platform writes it, and with
``DEV_SEED=large`` a realistic data set on top, written in bulk (``bench/seed.py``).

Both are idempotent: a stack restarted on its data folder (``dev/data_dir.py``) finds them and adds nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
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

SEED_ENV = "DEV_SEED"
CONVERSATIONS_ENV = "DEV_SEED_CONVERSATIONS"
MESSAGES_ENV = "DEV_SEED_MESSAGES"
LARGE_CONVERSATIONS = 10_000  # alice's inbox (the demo's own conversations besides)
LARGE_MESSAGES = 100_000  # in alice and bob's conversation about the granny square blanket


class SeedError(RuntimeError):
    """A seed request was refused: the message names the request and the service's answer."""


@dataclass(frozen=True)
class SeedPlan:
    """What to seed: the demo data always, and a large data set when ``conversations`` or ``messages`` > 0."""

    conversations: int = 0
    messages: int = 0

    @property
    def large(self) -> bool:
        return self.conversations > 0 or self.messages > 0

    def describe(self) -> str:
        if not self.large:
            return "demo data"
        return (
            f"demo data + large: alice with {self.conversations:,} conversations, {self.messages:,} messages with bob"
        )


def plan_from_environ(environ: Mapping[str, str]) -> SeedPlan:
    """``DEV_SEED=demo`` (the default) or ``large`` (sizes from ``DEV_SEED_CONVERSATIONS`` / ``DEV_SEED_MESSAGES``);
    ValueError names a bad value."""
    kind = (environ.get(SEED_ENV) or "demo").strip().lower()
    if kind == "demo":
        return SeedPlan()
    if kind != "large":
        raise ValueError(f"{SEED_ENV}={kind!r}: use demo (the default) or large")

    def size(name: str, default: int) -> int:
        raw = (environ.get(name) or "").replace("_", "").replace(",", "")
        if not raw:
            return default
        if not raw.isdigit():
            raise ValueError(f"{name}={environ.get(name)!r} is not a whole number")
        return int(raw)

    return SeedPlan(size(CONVERSATIONS_ENV, LARGE_CONVERSATIONS), size(MESSAGES_ENV, LARGE_MESSAGES))


@dataclass(frozen=True)
class LargeSeed:
    """What the large seed added (nothing on a data folder that has it already)."""

    items: int
    seconds: float
    cpu_seconds: float  # the stack process's CPU time while seeding (the wall time also counts a busy machine)


def seed_large(plan: SeedPlan) -> LargeSeed:
    """Grow alice's inbox to ``plan.conversations`` and her blanket conversation with bob to ``plan.messages``.

    Runs in the stack's process after the demo data exists (the users, the pattern, bob's purchase). The items
    are built by ``bench.seed``, the one place seeded items are built (the benchmark's sizes too), with the
    services' helpers, and put into moto's tables directly.
    """
    from bench import seed as bulk_seed

    started, cpu = time.monotonic(), time.process_time()
    pattern = next(p for p in PATTERNS if p.id == GRANNY_SQUARE)
    world = bulk_seed.World(creator=ALICE, buyer=BOB, pattern=pattern.id, pattern_title=pattern.title).observe()
    bulk_seed.start(world, marketplace=False)
    written = bulk_seed.grow_inbox(world, max(plan.conversations - 1, 0))  # the blanket conversation is one
    written += bulk_seed.grow_history(world, plan.messages)
    return LargeSeed(written, time.monotonic() - started, time.process_time() - cpu)


def seed(api_url: str, *, service_token: str, user_token: Callable[[str], str]) -> None:
    """Upsert the demo users, patterns and purchases, then send the opening message unless it exists (safe to
    re-run, also after the idempotency record of the first run has expired)."""
    from chalicelib.domain.ids import conversation_id_for

    with requests.Session() as http:

        def call(
            method: str, path: str, token: str, body: dict[str, Any] | None = None, ok: tuple[int, ...] = (200, 201)
        ) -> int:
            response = http.request(
                method,
                api_url + path,
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                timeout=TIMEOUT_SECONDS,
            )
            if response.status_code not in ok:
                raise SeedError(f"{method} {path} -> {response.status_code}: {response.text}")
            return response.status_code

        for user_id, name in USERS.items():
            # An address each, so their email digests show in the outbox (issue 18).
            profile = {"name": name, "email": f"{user_id}@example.com"}
            call("PUT", f"/api/internal/users/{user_id}", service_token, profile)
        for pattern in PATTERNS:
            body = {"creatorId": pattern.creator_id, "title": pattern.title}
            call("PUT", f"/api/internal/patterns/{pattern.id}", service_token, body)
        for pattern_id, buyer in PURCHASES:
            call("PUT", f"/api/internal/purchases/{pattern_id}/{buyer}", service_token)
        opening = conversation_id_for(OPENING_SENDER, OPENING_MESSAGE["recipientId"], None)
        sender = user_token(OPENING_SENDER)
        if call("GET", f"/api/messages?conversationId={opening}&limit=1", sender, ok=(200, 404)) == 404:
            call("POST", "/api/messages", sender, OPENING_MESSAGE)
