"""Bulk data shaped exactly as the services shape it: the benchmark's sizes and the dev stack's large data set.

The one place that builds seeded items (``bench/run.py``'s sizes, ``DEV_SEED=large`` through ``dev/seed.py``): with
the services' own helpers, as ``tests/integration/factories.py`` does (``new_conversation``, ``membership_for``,
``participant_states``, ``preview_of``), plus what those factories leave out: the ``FeedEntry`` timeline rows that
sync reads (``chalicelib.services.messages._feed_entry``). When the services' item mapping moves, this module is
what follows it.

Items are written into moto's tables directly (``dev.moto_bulk``, serialized by PynamoDB as a PutItem would be),
so 330,000 items take seconds, not the hour of API calls they would on moto's HTTP API. A handful of single
updates (a conversation's counters, users' ``total_unread``) go through PynamoDB as the services make them.

Seeded messages carry timestamps from a clock that starts a day in the past (or just after the chat's last
message) and ticks one millisecond per item, so seeded data sorts before anything written later. Growing is
idempotent: ``World.observe`` reads what an earlier run seeded, and growing to the same size adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from chalicelib.domain.clock import iso, utc_now
from chalicelib.domain.ids import conversation_id_for, message_id_for
from chalicelib.models import Conversation, FeedEntry, Message, Pattern, Purchase, UserProfile
from chalicelib.services.conversations import new_conversation
from chalicelib.services.messages import _conversation_changes, _feed_entry
from chalicelib.services.views import membership_for, participant_states, preview_of
from dev import moto_bulk

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


def write_all(items: Iterable[Model]) -> int:
    """Write items of any tables into moto's tables; returns how many."""
    return moto_bulk.put_models(items)


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
        chat.participant_states = {user: {} for user in chat.participant_ids}
        items += [chat, *(membership_for(chat, user) for user in chat.participant_ids)]
    write_all(items)
    return world


def _add_unread(user_id: str, delta: int) -> None:
    if delta:
        UserProfile(user_id).update(actions=[UserProfile.total_unread.add(delta)])


def grow_inbox(world: World, partners: int) -> int:
    """Give the creator ``partners`` partner conversations in all, each with one unread message to her."""
    items: list[Model] = []
    creator = world.creator
    for index in range(world.partners, partners):
        partner = world.partner(index)
        at = world.clock.next()
        conversation = new_conversation(partner, creator, None, None, at)
        states = participant_states(conversation)
        message_id = message_id_for(conversation.id, 1)
        states[creator] = states[creator].receive(message_id)
        message = Message(
            conversation.id,
            1,
            id=message_id,
            sender_id=partner,
            recipient_id=creator,
            recipient_receipt=states[creator].received,
            content=f"hello from {partner}",
            sent_at=at,
        )
        conversation.message_count, conversation.version = 1, 1
        conversation.participant_states = {user: state.to_item() for user, state in states.items()}
        conversation.last_message_id, conversation.last_message_at = message.id, at
        conversation.last_message, conversation.updated_at = preview_of(message), at
        items += [UserProfile(partner, name=partner.title()), conversation, message]
        items += [membership_for(conversation, user) for user in conversation.participant_ids]
        items += [_feed_entry(user, message) for user in conversation.participant_ids]
    added = max(partners - world.partners, 0)
    written = write_all(items)
    _add_unread(creator, added)
    world.partners = max(partners, world.partners)
    return written


def grow_history(world: World, messages: int) -> int:
    """Append messages to the chat until it holds ``messages``, the two alternating, all unread."""
    chat = Conversation.get(world.chat_id, consistent_read=True)
    states = participant_states(chat)
    unread_before = {user: state.unread for user, state in states.items()}
    start_seq = int(chat.message_count or 0)
    count = max(messages - start_seq, 0)
    items: list[Model] = []
    message = None
    tail: list[str] = []
    for seq in range(start_seq + 1, start_seq + count + 1):
        author, reader = (world.buyer, world.creator) if seq % 2 else (world.creator, world.buyer)
        message_id = message_id_for(chat.id, seq)
        states[reader] = states[reader].receive(message_id)
        message = Message(
            chat.id,
            seq,
            id=message_id,
            sender_id=author,
            recipient_id=reader,
            recipient_receipt=states[reader].received,
            content=f"message {seq} about the border of the blanket",
            sent_at=world.clock.next(),
        )
        items.append(message)
        for user in chat.participant_ids:
            entry = _feed_entry(user, message)
            items.append(entry)
            if user == world.creator:
                tail.append(entry.position)
    if message is None:
        world.history = max(start_seq, world.history)
        return 0
    chat.message_count = start_seq + count
    chat.last_message_id, chat.last_message_at = message.id, message.sent_at
    chat.last_message, chat.updated_at = preview_of(message), message.sent_at
    chat.participant_states = {user: state.to_item() for user, state in states.items()}
    chat.version = int(chat.version or 0) + 1
    items += [membership_for(chat, user) for user in chat.participant_ids]
    written = write_all(items)
    # An update, not a put: the room (joined connections) on the item is left as it is.
    chat.update(actions=_conversation_changes(chat))
    for user, state in states.items():
        _add_unread(user, state.unread - unread_before[user])
    world.history = chat.message_count
    world.chat_feed_tail = tail[-200:] or world.chat_feed_tail
    return written + 1


def feed_size(user_id: str) -> int:
    """How many timeline rows ``user_id`` has (a count, for the report; not measured)."""
    return FeedEntry.count(user_id)


__all__ = [
    "BUYER",
    "CREATOR",
    "PATTERN",
    "SeedClock",
    "World",
    "feed_size",
    "grow_history",
    "grow_inbox",
    "start",
    "write_all",
]
