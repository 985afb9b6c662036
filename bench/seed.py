"""Bulk benchmark data written straight to the tables, shaped exactly as the services shape it.

Like ``tests/integration/factories.py``: every send is planned by the service's own ``plan_send`` and its items
(timeline rows included) come from the one mapping in ``adapters.dynamodb.records`` (``dev/bulk.py``). Everything
is written with ``batch_write`` (25 items per BatchWriteItem), so 100,000 messages take seconds, not an hour of
API calls.

Seeded messages carry timestamps from a clock that starts a day in the past and ticks one millisecond per
message, so seeded data sorts before anything the measured requests write and sync positions are known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from chalicelib.adapters.dynamodb import Conversation, Pattern, Purchase, TimelineEntry, UserProfile
from chalicelib.adapters.dynamodb.records import conversation_item as conversation_row
from chalicelib.adapters.dynamodb.records import conversation_state, membership_item
from chalicelib.domain.clock import iso, utc_now
from chalicelib.domain.conversations import new_conversation
from chalicelib.domain.ids import conversation_id_for
from chalicelib.domain.messages import timeline_position
from dev.bulk import plan_messages, write_items, write_plans

CREATOR, BUYER, PATTERN = "alice", "bob", "p1"


class SeedClock:
    """Monotonic timestamps in the past: one millisecond per seeded message."""

    def __init__(self) -> None:
        self._start = utc_now() - timedelta(days=1)
        self._ticks = 0

    def next(self) -> str:
        self._ticks += 1
        return iso(self._start + timedelta(milliseconds=self._ticks))


@dataclass
class World:
    """What has been seeded so far: alice's inbox and her pattern chat with bob."""

    clock: SeedClock = field(default_factory=SeedClock)
    inbox: int = 0  # alice's conversations (the chat included)
    history: int = 0  # messages seeded into the chat (measured sends add more)
    chat_feed_tail: list[str] = field(default_factory=list)  # alice's feed positions of the newest seeded chat messages

    @property
    def chat_id(self) -> str:
        return conversation_id_for(BUYER, CREATOR, PATTERN)


def start() -> World:
    """The marketplace: alice created pattern p1, bob bought it; the chat exists with no messages."""
    world = World()
    at = world.clock.next()
    chat = new_conversation(BUYER, CREATOR, PATTERN, "Granny Square Blanket", at)
    write_items(
        [
            UserProfile(CREATOR, name="Alice Loops"),
            UserProfile(BUYER, name="Bob Stitch"),
            Pattern(PATTERN, creator_id=CREATOR, title="Granny Square Blanket"),
            Purchase(BUYER, PATTERN, purchased_at=at),
            conversation_row(chat),
            *(membership_item(chat, user) for user in chat.participant_ids),
        ]
    )
    world.inbox = 1
    return world


def grow_inbox(world: World, conversations: int) -> int:
    """Give alice ``conversations`` conversations in all: new partners, each with one unread message to her."""
    partners = [f"{CREATOR}-partner-{index}" for index in range(world.inbox - 1, conversations - 1)]
    written = write_items(UserProfile(partner, name=partner.title()) for partner in partners)
    plans = []
    for partner in partners:
        at = world.clock.next()
        opened = new_conversation(partner, CREATOR, None, None, at)
        plans += plan_messages(opened, [(partner, f"hello from {partner}", at)])
    written += write_plans(plans)
    world.inbox = max(conversations, world.inbox)
    return written


def grow_history(world: World, messages: int) -> int:
    """Append messages to the chat until ``messages`` have been seeded, the two alternating, all unread."""
    chat = conversation_state(Conversation.get(world.chat_id, consistent_read=True))
    start_seq = chat.message_count
    count = max(messages - world.history, 0)
    sends = [
        ((BUYER if seq % 2 else CREATOR), f"message {seq} about the border of the blanket", world.clock.next())
        for seq in range(start_seq + 1, start_seq + count + 1)
    ]
    plans = plan_messages(chat, sends)
    written = write_plans(plans, before={chat.id: chat}) if plans else 0
    tail = [timeline_position(p.message.sent_at, p.message.conversation_id, p.message.seq) for p in plans]
    world.history = max(messages, world.history)
    world.chat_feed_tail = tail[-200:] or world.chat_feed_tail
    return written


def feed_size(user_id: str) -> int:
    """How many timeline rows ``user_id`` has (a count, for the report; not measured)."""
    return TimelineEntry.count(user_id)


__all__ = ["BUYER", "CREATOR", "PATTERN", "SeedClock", "World", "feed_size", "grow_history", "grow_inbox", "start"]
