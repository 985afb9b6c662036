"""Bulk data through the service's own plans: many sends planned by ``domain.sending.plan_send`` and written with
BatchWriteItem (``adapters.dynamodb.records.seeded_items``), so seeded items have exactly the shape real sends
write. Used by the test factories, the benchmarks and the dev stack's seeding; never shipped to Lambda."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from pynamodb.models import Model

from chalicelib.adapters.dynamodb import UserProfile
from chalicelib.adapters.dynamodb.records import seeded_items
from chalicelib.domain.conversations import ConversationState
from chalicelib.domain.sending import SendCommand, SendPlan, SendSnapshot, plan_send

Send = tuple[str, str, str]  # (sender, content, sent at)


def plan_messages(conversation: ConversationState, sends: Iterable[Send]) -> list[SendPlan]:
    """Each send planned on the conversation as the previous one left it."""
    plans: list[SendPlan] = []
    for sender, content, at in sends:
        command = SendCommand(sender_id=sender, content=content, conversation_id=conversation.id)
        plan = plan_send(SendSnapshot(conversation=conversation), command, at)
        assert isinstance(plan, SendPlan), plan
        plans.append(plan)
        conversation = plan.conversation
    return plans


def write_items(items: Iterable[Model]) -> int:
    """Write items of any tables with one ``batch_write`` per table (25 items per request); returns how many."""
    by_model: dict[type[Model], list[Model]] = {}
    for item in items:
        by_model.setdefault(type(item), []).append(item)
    for model, batch_items in by_model.items():
        with model.batch_write() as batch:
            for item in batch_items:
                batch.save(item)
    return sum(len(v) for v in by_model.values())


def write_plans(
    plans: list[SendPlan],
    *,
    before: dict[str, ConversationState] | None = None,
    write: Callable[[list[Model]], int] = write_items,
) -> int:
    """Store what ``plans`` leave behind, and add what they changed to the users' unread totals.

    ``before`` holds the conversations as they were before the first plan (absent: new, nothing unread).
    ``write`` stores the items (BatchWriteItem by default; the dev stack's large seed puts them into moto's tables).
    """
    written = write(seeded_items(plans))
    first: dict[str, ConversationState] = {}
    last: dict[str, ConversationState] = {}
    for plan in plans:
        conversation = plan.conversation
        if conversation.id not in first:
            first[conversation.id] = (before or {}).get(conversation.id) or replace(conversation, states={})
        last[conversation.id] = conversation
    deltas: dict[str, int] = {}
    for conversation_id, after in last.items():
        for user in after.participant_ids:
            delta = after.state_of(user).unread - first[conversation_id].state_of(user).unread
            deltas[user] = deltas.get(user, 0) + delta
    for user, delta in deltas.items():
        if delta:
            UserProfile(user).update(actions=[UserProfile.total_unread.add(delta)])
    return written
