"""Bulk benchmark data written straight to the tables, shaped exactly as the services shape it.

Like ``tests/integration/factories.py`` (items built with the services' own helpers: ``membership_for``,
``participant_states``, ``preview_of``), plus what those factories leave out: the ``FeedEntry`` timeline rows
that sync reads, built with ``chalicelib.services.messages._feed_entry``. Everything is written with
``batch_write`` (25 items per BatchWriteItem), so 100,000 messages take seconds, not an hour of API calls.

Seeded messages carry timestamps from a clock that starts a day in the past and ticks one millisecond per
message, so seeded data sorts before anything the measured requests write and sync positions are known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from pynamodb.models import Model

from chalicelib.domain.clock import iso, utc_now
from chalicelib.domain.ids import conversation_id_for, message_id_for
from chalicelib.models import Conversation, FeedEntry, Message, Pattern, Purchase, UserProfile
from chalicelib.services.conversations import new_conversation
from chalicelib.services.messages import _conversation_changes, _feed_entry
from chalicelib.services.views import membership_for, participant_states, preview_of

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


def write_all(items: Iterable[Model]) -> int:
    """Write items of any tables with one ``batch_write`` per table; returns how many."""
    by_model: dict[type[Model], list[Model]] = {}
    for item in items:
        by_model.setdefault(type(item), []).append(item)
    for model, batch_items in by_model.items():
        with model.batch_write() as batch:
            for item in batch_items:
                batch.save(item)
    return sum(len(v) for v in by_model.values())


def start() -> World:
    """The marketplace: alice created pattern p1, bob bought it; the chat exists with no messages."""
    world = World()
    at = world.clock.next()
    chat = new_conversation(BUYER, CREATOR, PATTERN, "Granny Square Blanket", at)
    chat.participant_states = {user: {} for user in chat.participant_ids}
    write_all(
        [
            UserProfile(CREATOR, name="Alice Loops"),
            UserProfile(BUYER, name="Bob Stitch"),
            Pattern(PATTERN, creator_id=CREATOR, title="Granny Square Blanket"),
            Purchase(BUYER, PATTERN, purchased_at=at),
            chat,
            *(membership_for(chat, user) for user in chat.participant_ids),
        ]
    )
    world.inbox = 1
    return world


def _add_unread(user_id: str, delta: int) -> None:
    if delta:
        UserProfile(user_id).update(actions=[UserProfile.total_unread.add(delta)])


def grow_inbox(world: World, conversations: int) -> int:
    """Give alice ``conversations`` conversations in all: new partners, each with one unread message to her."""
    items: list[Model] = []
    for index in range(world.inbox - 1, conversations - 1):
        partner = f"{CREATOR}-partner-{index}"
        at = world.clock.next()
        conversation = new_conversation(partner, CREATOR, None, None, at)
        states = participant_states(conversation)
        message_id = message_id_for(conversation.id, 1)
        states[CREATOR] = states[CREATOR].receive(message_id)
        message = Message(
            conversation.id,
            1,
            id=message_id,
            sender_id=partner,
            recipient_id=CREATOR,
            recipient_receipt=states[CREATOR].received,
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
    added = max(conversations - world.inbox, 0)
    written = write_all(items)
    _add_unread(CREATOR, added)
    world.inbox = max(conversations, world.inbox)
    return written


def grow_history(world: World, messages: int) -> int:
    """Append messages to the chat until ``messages`` have been seeded, the two alternating, all unread."""
    chat = Conversation.get(world.chat_id, consistent_read=True)
    states = participant_states(chat)
    unread_before = {user: state.unread for user, state in states.items()}
    start_seq = int(chat.message_count or 0)
    count = max(messages - world.history, 0)
    items: list[Model] = []
    message = None
    tail: list[str] = []
    for seq in range(start_seq + 1, start_seq + count + 1):
        author, reader = (BUYER, CREATOR) if seq % 2 else (CREATOR, BUYER)
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
            if user == CREATOR:
                tail.append(entry.position)
    if message is not None:
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
    world.history = max(messages, world.history)
    world.chat_feed_tail = tail[-200:] or world.chat_feed_tail
    return written + 1


def feed_size(user_id: str) -> int:
    """How many timeline rows ``user_id`` has (a count, for the report; not measured)."""
    return FeedEntry.count(user_id)


__all__ = ["BUYER", "CREATOR", "PATTERN", "SeedClock", "World", "feed_size", "grow_history", "grow_inbox", "start"]
