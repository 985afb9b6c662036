"""A message's life after it was sent: edits, deletion and reactions, for REST and socket alike.

Each change is decided by the domain (``domain.lifecycle``) on a snapshot read in one BatchGetItem (the message and
its conversation), written in one transaction conditioned on the message's version (a lost race reads again and
retries), then delivered: one more BatchGetItem reads what delivery and the answer need (both profiles, the message
the changed one quotes, the replies that follow it). Three round trips, whatever the data's size. Each change counts
against the caller's ``edit`` (edits, deletions) or ``reaction`` limit: the counter rides in the change's
transaction, or costs one UpdateItem when there is nothing to write (the second deletion, a reaction already there);
refusals are not counted. Once the change has committed nothing turns the answer into an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import Message, UserProfile, blocks
from chalicelib.adapters.dynamodb.batch import Batch, Key, batch_get
from chalicelib.adapters.dynamodb.rate_limits import charge, spend
from chalicelib.adapters.dynamodb.records import change_keys, change_snapshot, message_record, write_change
from chalicelib.adapters.dynamodb.transactions import commit, with_retries
from chalicelib.domain.clock import iso
from chalicelib.domain.conversations import ConversationState
from chalicelib.domain.ids import parse_message_id
from chalicelib.domain.lifecycle import (
    ADDED,
    DELETED,
    EDITED,
    ChangePlan,
    canonical_emoji,
    plan_delete,
    plan_edit,
    plan_reaction,
    plan_removal,
)
from chalicelib.domain.messages import MessageRecord
from chalicelib.domain.principal import Principal
from chalicelib.domain.uploads import snapshot_keys
from chalicelib.errors import ErrorCode, InvalidRequest, NotFound
from chalicelib.schemas.base import ResponseModel
from chalicelib.schemas.events import MessageDeleted, MessageUpdated, ReactionUpdated
from chalicelib.schemas.responses import MessageChangeOut, MessageOut
from chalicelib.services.messaging import after_commit
from chalicelib.services.notify import Notifier
from chalicelib.services.ports import Clock, Files
from chalicelib.services.presenters import Presenter, reactions_out
from chalicelib.settings import get_settings

Decide = Callable[[MessageRecord | None, ConversationState | None, str], ChangePlan]
# What a moderator's deletion commits with the tombstone, decided from the same read: other items' writes, and
# actions on the message itself when the plan updates it (one update per item in a transaction).
Also = Callable[[Batch, ChangePlan], tuple[Callable[[TransactWrite], None], list[Any]]]


def reaction_emoji(raw: str) -> str:
    """The allow-list's emoji for what a client sent: as text (socket) or as a path segment, percent-encoded UTF-8
    or already decoded (Chalice's local server and test client pass it encoded; decoding is a no-op on an emoji,
    which never contains ``%``). ``invalid_reaction`` for anything else."""
    try:
        text = unquote(raw, errors="strict") if "%" in raw else raw
    except UnicodeDecodeError:
        text = ""
    emoji = canonical_emoji(text, get_settings().reaction_emoji)
    if emoji is None:
        allowed = " ".join(get_settings().reaction_emoji)
        raise InvalidRequest(f"reactions are one of: {allowed}", code=ErrorCode.INVALID_REACTION)
    return emoji


class Lifecycle:
    """Edit, delete and react: the use cases that change a stored message, then tell the connections concerned."""

    def __init__(self, notifier: Notifier, presenter: Presenter, files: Files, clock: Clock) -> None:
        self.notifier = notifier
        self.presenter = presenter
        self.files = files
        self.clock = clock

    @staticmethod
    def read_keys(message_id: str) -> list[Key]:
        """What a change of ``message_id`` reads first (the socket reads its connection in the same BatchGetItem);
        nothing for an id that cannot be ours."""
        parsed = parse_message_id(message_id)
        return list(change_keys(*parsed).values()) if parsed else []

    def edit(
        self,
        principal: Principal,
        message_id: str,
        content: str,
        *,
        origin_connection_id: str | None = None,
        prefetched: Batch | None = None,
    ) -> MessageChangeOut:
        """``PATCH /api/messages/{id}`` and ``edit_message``: the sender replaces the text within the edit window."""
        window = get_settings().message_edit_window_seconds

        def decide(message: MessageRecord | None, conversation: ConversationState | None, now: str) -> ChangePlan:
            return plan_edit(
                message, conversation, editor=principal.user_id, content=content, now=now, window_seconds=window
            )

        return self._change(principal, message_id, decide, "edit", origin_connection_id, prefetched)

    def delete(
        self,
        principal: Principal,
        message_id: str,
        *,
        origin_connection_id: str | None = None,
        prefetched: Batch | None = None,
    ) -> MessageChangeOut:
        """``DELETE /api/messages/{id}`` and ``delete_message``: the sender turns the message into a tombstone; its
        attachment becomes unreachable and its objects are tagged for the bucket's lifecycle rule."""

        def decide(message: MessageRecord | None, conversation: ConversationState | None, now: str) -> ChangePlan:
            return plan_delete(message, conversation, actor=principal.user_id, now=now)

        return self._change(principal, message_id, decide, "edit", origin_connection_id, prefetched)

    def react(
        self,
        principal: Principal,
        message_id: str,
        emoji: str,
        *,
        add: bool,
        origin_connection_id: str | None = None,
        prefetched: Batch | None = None,
    ) -> MessageChangeOut:
        """``PUT``/``DELETE /api/messages/{id}/reactions/{emoji}``, ``add_reaction``/``remove_reaction``."""
        chosen = reaction_emoji(emoji)
        max_kinds = get_settings().message_max_reactions

        def decide(message: MessageRecord | None, conversation: ConversationState | None, now: str) -> ChangePlan:
            return plan_reaction(
                message, conversation, user=principal.user_id, emoji=chosen, add=add, now=now, max_kinds=max_kinds
            )

        return self._change(principal, message_id, decide, "reaction", origin_connection_id, prefetched)

    # --- the one way a message changes ----------------------------------------------------------------

    def _change(
        self,
        principal: Principal,
        message_id: str,
        decide: Decide,
        limit: str,
        origin_connection_id: str | None,
        prefetched: Batch | None,
    ) -> MessageChangeOut:
        parsed = parse_message_id(message_id)
        if parsed is None:
            raise NotFound("message not found")
        keys = change_keys(*parsed)
        first = [prefetched] if prefetched is not None else []

        def attempt() -> ChangePlan:
            found = first.pop() if first else batch_get(list(keys.values()))
            message, conversation = change_snapshot(keys, found)
            plan = decide(message, conversation, iso(self.clock()))
            if plan.changed:

                def build(transaction: TransactWrite) -> None:
                    write_change(transaction, plan)
                    charge(transaction, principal.user_id, limit)

                commit(build)
            else:
                spend(principal.user_id, limit)  # nothing to write: counted on its own
            return plan

        plan = with_retries(attempt, max_attempts=get_settings().send_max_attempts)
        return self._after(plan, principal.user_id, origin_connection_id)

    def remove(self, conversation_id: str, seq: int, *, extra: list[Key], also: Also) -> tuple[ChangePlan, Batch]:
        """A moderator's deletion of message ``seq`` (``delete_message``): the sender's tombstone, for everyone, in
        one transaction with what ``also`` adds from the same read (the report's resolution and its audit entry,
        decided again on every attempt). Delivered like the sender's deletion (``message_deleted`` to the room and
        both participants); returns the plan and what was read."""
        keys = change_keys(conversation_id, seq)
        read: list[Batch] = []

        def attempt() -> ChangePlan:
            found = batch_get([*keys.values(), *extra])
            read[:] = [found]
            message, conversation = change_snapshot(keys, found)
            plan = plan_removal(message, conversation, now=iso(self.clock()))
            extra_write, message_actions = also(found, plan)

            def build(transaction: TransactWrite) -> None:
                if plan.changed:
                    write_change(transaction, plan, message_actions)
                extra_write(transaction)

            commit(build)
            return plan

        plan = with_retries(attempt, max_attempts=get_settings().send_max_attempts)
        if plan.changed:
            self._after(plan, plan.message.sender_id, None, everyone=True)
        return plan, read[0]

    def _after(
        self, plan: ChangePlan, actor: str, origin_connection_id: str | None, *, everyone: bool = False
    ) -> MessageChangeOut:
        if plan.changed and plan.released and not plan.before.reported:  # a report holds them as evidence
            released = plan.released
            after_commit(
                "releasing the attachment's objects", lambda: self.files.release(snapshot_keys(released)), None
            )
        after = plan.message
        conversation = plan.conversation
        other = conversation.other_than(actor)
        wanted: list[Key] = []
        if after.reply_to is not None:
            wanted.append((Message, after.conversation_id, after.reply_to.seq))
        if plan.changed:
            wanted += [(UserProfile, actor, None), (UserProfile, other, None), *blocks.block_keys(actor, other)]
            wanted += [(Message, after.conversation_id, seq) for seq in plan.replies]
        if not wanted:
            read = Batch()
        elif plan.changed:
            read = after_commit("reading for delivery", lambda: batch_get(wanted), Batch())
        else:
            read = batch_get(wanted)
        original = _record(read, after.conversation_id, after.reply_to.seq) if after.reply_to else None
        receipts = conversation.receipts_shown_to(actor, after.recipient_id)
        shown = self.presenter.committed_message(after, receipts, original=original)
        if plan.changed:
            after_commit(
                "delivery",
                lambda: self._deliver(plan, shown, read, actor, other, origin_connection_id, everyone=everyone),
                None,
            )
        return MessageChangeOut(message=shown)

    def _deliver(
        self,
        plan: ChangePlan,
        shown: MessageOut,
        read: Batch,
        actor: str,
        other: str,
        origin_connection_id: str | None,
        *,
        everyone: bool = False,
    ) -> None:
        after = plan.message
        events: list[tuple[str, ResponseModel]]
        if plan.kind == EDITED:
            events = [("message_updated", MessageUpdated(message=shown))]
        elif plan.kind == DELETED:
            deleted = MessageDeleted(
                conversation_id=after.conversation_id,
                message_id=after.id,
                deleted_at=after.deleted_at or "",  # always set on a tombstone
                version=after.version,
            )
            events = [("message_deleted", deleted)]
        elif plan.reaction is not None:
            updated = ReactionUpdated(
                conversation_id=after.conversation_id,
                message_id=after.id,
                emoji=plan.reaction.emoji,
                user_id=plan.reaction.user_id,
                action="added" if plan.reaction.action == ADDED else "removed",
                reactions=reactions_out(after),
                version=after.version,
            )
            events = [("reaction_updated", updated)]
        else:
            events = []
        for seq in plan.replies:
            reply = _record(read, after.conversation_id, seq)
            if reply is None or reply.is_deleted:
                continue
            state = plan.conversation.state_of(reply.recipient_id)
            quoting = self.presenter.committed_message(reply, state, original=after)
            events.append(("message_updated", MessageUpdated(message=quoting)))
        # Once either has blocked the other, the other's connections get nothing of it (the room is emptied by the
        # block, the other's own connections are left out here).
        self.notifier.changed(
            events,
            plan.conversation,
            other=None if blocks.blocked_between(read, actor, other) else _profile(read, other),
            actor=_profile(read, actor),
            origin_connection_id=origin_connection_id,
            actor_too=everyone,
        )


def _record(read: Batch, conversation_id: str, seq: int) -> MessageRecord | None:
    item = read.get((Message, conversation_id, seq))
    return message_record(item) if isinstance(item, Message) else None


def _profile(read: Batch, user_id: str) -> UserProfile | None:
    item = read.get((UserProfile, user_id, None))
    return item if isinstance(item, UserProfile) else None
