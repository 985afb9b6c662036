"""Bulk data shaped exactly as the services shape it: the benchmark's sizes and the dev stack's large data set.

The one place that grows seeded data (``bench/run.py``'s sizes, ``DEV_SEED=large`` through ``dev/seed.py``): every
send is planned by the service's own ``plan_send`` and its items (timeline rows included) come from the one mapping
in ``adapters.dynamodb.records`` (``dev/bulk.py``, which the test factories use too), so seeded items have exactly
the shapes a real send writes.

Items are written into moto's tables directly (``dev.moto_bulk``, serialized by PynamoDB as a PutItem would be),
so 330,000 items take seconds, not the hour of API calls they would on moto's HTTP API. A handful of single
updates (a conversation's counters, users' ``total_unread``) go through PynamoDB as the services make them.

Seeded messages carry timestamps from a clock that starts a day in the past (or just after the chat's last
message) and ticks one millisecond per item, so seeded data sorts before anything written later. Growing is
idempotent: ``World.observe`` reads what an earlier run seeded, and growing to the same size adds nothing.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from chalicelib.adapters.dynamodb import Conversation, Pattern, Purchase, TimelineEntry, UserProfile
from chalicelib.adapters.dynamodb.records import conversation_changes, conversation_state, membership_item
from chalicelib.adapters.dynamodb.records import conversation_item as conversation_row
from chalicelib.domain.clock import iso, utc_now
from chalicelib.domain.conversations import ConversationState, new_conversation
from chalicelib.domain.ids import conversation_id_for
from chalicelib.domain.messages import timeline_position
from chalicelib.domain.sending import SendPlan
from dev import moto_bulk
from dev.bulk import plan_messages, write_plans

CREATOR, BUYER, PATTERN = "alice", "bob", "p1"


class SeedClock:
    """Monotonic timestamps in the past: one millisecond per seeded message."""

    def __init__(self, after: str | None = None) -> None:
        start = utc_now() - timedelta(days=1)
        if after is not None:
            start = max(start, datetime.fromisoformat(after.replace("Z", "+00:00")))
        self._start = start
        self._ticks = 0

    def next(self) -> str:
        self._ticks += 1
        return iso(self._start + timedelta(milliseconds=self._ticks))


@dataclass
class World:
    """What has been seeded so far: the creator's inbox and her pattern chat with the buyer."""

    creator: str = CREATOR
    buyer: str = BUYER
    pattern: str = PATTERN
    pattern_title: str = "Granny Square Blanket"
    clock: SeedClock = field(default_factory=SeedClock)
    partners: int = 0  # seeded conversations of the creator with partners (the chat not counted)
    history: int = 0  # messages in the chat
    chat_feed_tail: list[str] = field(default_factory=list)  # the creator's feed positions of the newest seeded ones

    @property
    def chat_id(self) -> str:
        return conversation_id_for(self.buyer, self.creator, self.pattern)

    def partner(self, index: int) -> str:
        return f"{self.creator}-partner-{index}"

    def observe(self) -> World:
        """Pick up what an earlier run seeded (a stack restarted on its data folder): the chat's messages and how
        many partner conversations exist (they are created in index order, so a binary search finds the count)."""
        try:
            chat = Conversation.get(self.chat_id, consistent_read=True)
        except DoesNotExist:
            pass
        else:
            self.history = int(chat.message_count or 0)
            self.clock = SeedClock(after=chat.last_message_at)
        low, high = 0, 1
        while self._partner_exists(high - 1):
            low, high = high, high * 2
        while low < high:  # indexes below low exist, high - 1 does not: the first missing one is in [low, high)
            middle = (low + high) // 2
            if self._partner_exists(middle):
                low = middle + 1
            else:
                high = middle
        self.partners = low
        return self

    def _partner_exists(self, index: int) -> bool:
        try:
            Conversation.get(conversation_id_for(self.partner(index), self.creator, None))
        except DoesNotExist:
            return False
        return True


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic collector off while seeding. Growing allocates millions of objects that all stay alive, and
    each full collection walks every one of them again: 45 % of the large seed's CPU (41 s -> 23 s for 390,000
    items, ``DEV_SEED=large``'s size). It resumes, as it was, when growing ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


P = ParamSpec("P")
R = TypeVar("R")


def _paused(grow: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(grow)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with collector_paused():
            return grow(*args, **kwargs)

    return run


def write_all(items: Iterable[Model]) -> int:
    """Write items of any tables into moto's tables; returns how many."""
    return moto_bulk.put_models(items)


def _write_plans(plans: list[SendPlan], before: dict[str, ConversationState] | None = None) -> int:
    """``dev.bulk.write_plans`` into moto's tables. A conversation that existed before (``before``) is updated, not
    put: the room (joined connections) on its item is left as it is."""
    existing = set(before or ())

    def write(items: list[Model]) -> int:
        updates = [item for item in items if isinstance(item, Conversation) and item.id in existing]
        written = write_all(item for item in items if not (isinstance(item, Conversation) and item.id in existing))
        for item in updates:
            Conversation(item.id).update(actions=conversation_changes(conversation_state(item)))
        return written + len(updates)

    return write_plans(plans, before=before, write=write)


def start(world: World | None = None, *, marketplace: bool = True) -> World:
    """The marketplace (the creator's pattern, bought by the buyer) and their chat, with no messages.

    ``marketplace=False`` when the users, pattern and purchase exist already (the dev stack's demo data, written
    through the platform's endpoints); the chat is only created when it does not exist.
    """
    world = world or World()
    items: list[Model] = []
    at = world.clock.next()
    if marketplace:
        items += [
            UserProfile(world.creator, name="Alice Loops"),
            UserProfile(world.buyer, name="Bob Stitch"),
            Pattern(world.pattern, creator_id=world.creator, title=world.pattern_title),
            Purchase(world.buyer, world.pattern, purchased_at=at),
        ]
    try:
        Conversation.get(world.chat_id, consistent_read=True)
    except DoesNotExist:
        chat = new_conversation(world.buyer, world.creator, world.pattern, world.pattern_title, at)
        items += [conversation_row(chat), *(membership_item(chat, user) for user in chat.participant_ids)]
    write_all(items)
    return world


@_paused
def grow_inbox(world: World, partners: int) -> int:
    """Give the creator ``partners`` partner conversations in all, each with one unread message to her."""
    new = [world.partner(index) for index in range(world.partners, partners)]
    written = write_all(UserProfile(partner, name=partner.title()) for partner in new)
    plans: list[SendPlan] = []
    for partner in new:
        at = world.clock.next()
        opened = new_conversation(partner, world.creator, None, None, at)
        plans += plan_messages(opened, [(partner, f"hello from {partner}", at)])
    if plans:
        written += _write_plans(plans)
    world.partners = max(partners, world.partners)
    return written


@_paused
def grow_history(world: World, messages: int) -> int:
    """Append messages to the chat until it holds ``messages``, the two alternating, all unread."""
    chat = conversation_state(Conversation.get(world.chat_id, consistent_read=True))
    start_seq = chat.message_count
    count = max(messages - start_seq, 0)
    sends = [
        (
            world.buyer if seq % 2 else world.creator,
            f"message {seq} about the border of the blanket",
            world.clock.next(),
        )
        for seq in range(start_seq + 1, start_seq + count + 1)
    ]
    plans = plan_messages(chat, sends)
    if not plans:
        world.history = max(start_seq, world.history)
        return 0
    written = _write_plans(plans, before={chat.id: chat})
    tail = [timeline_position(p.message.sent_at, p.message.conversation_id, p.message.seq) for p in plans]
    world.history = plans[-1].conversation.message_count
    world.chat_feed_tail = tail[-200:] or world.chat_feed_tail
    return written


def feed_size(user_id: str) -> int:
    """How many timeline rows ``user_id`` has (a count, for the report; not measured)."""
    return TimelineEntry.count(user_id)


__all__ = [
    "BUYER",
    "CREATOR",
    "PATTERN",
    "SeedClock",
    "World",
    "collector_paused",
    "feed_size",
    "grow_history",
    "grow_inbox",
    "start",
    "write_all",
]
