"""Changing a stored message, decided without I/O: ``plan_edit``, ``plan_delete``, ``plan_reaction``.

Each plan is written in one transaction conditioned on the message's ``version`` as read (a lost race is read
again and retried), and, when the conversation's preview shows that message, on the conversation's ``version``
too. A change puts the message in both participants' timelines at the time of the change, so a sync after it
returns the message in its current state. An edit or a deletion also bumps the version of the replies that
follow the message (``reply_seqs``, at most ``REPLIES_FOLLOWING`` of them), which then show its new state.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from chalicelib.domain.clock import parse_iso
from chalicelib.domain.conversations import ConversationState
from chalicelib.domain.messages import (
    EarlierVersion,
    MessageRecord,
    Reaction,
    TimelineRecord,
    preview_of,
    timeline_entries,
)
from chalicelib.errors import Conflict, ErrorCode, Forbidden, InvalidRequest, NotFound

EDITED, DELETED, REACTED = "edited", "deleted", "reacted"
ADDED, REMOVED = "added", "removed"

# How many replies of one message follow its edits and deletion live (``message_updated``, a new version, a place
# in the timelines): the first ones. Every reply shows its original's current state wherever it is read.
REPLIES_FOLLOWING = 20

_VARIATION_SELECTOR = "\ufe0f"

# How many texts an edited message keeps of what it showed before (evidence for a report, issue 16): the original
# and the latest ones. At 5,000 characters each (20 KB of UTF-8 at most) the item stays far under DynamoDB's 400 KB.
EARLIER_VERSIONS_KEPT = 10


@dataclass(frozen=True)
class ReactionChange:
    emoji: str
    user_id: str
    action: str  # ADDED | REMOVED


@dataclass(frozen=True)
class ChangePlan:
    """One change of one message: everything its transaction writes. ``changed`` is False when there is nothing
    to write (an edit to the same text, a second deletion, a reaction already there or already gone)."""

    kind: str  # EDITED | DELETED | REACTED
    before: MessageRecord
    message: MessageRecord  # after the change
    conversation: ConversationState  # as read, or after the change when its preview shows this message
    changed: bool
    preview_changed: bool = False  # the conversation's and both memberships' preview are rewritten
    timeline: list[TimelineRecord] = field(default_factory=list)
    replies: tuple[int, ...] = ()  # the seqs of the replies whose version grows with this change
    reaction: ReactionChange | None = None
    released: Mapping[str, Any] | None = None  # the attachment a deletion lets go of


def message_of(
    message: MessageRecord | None, conversation: ConversationState | None, user: str
) -> tuple[MessageRecord, ConversationState]:
    """``message`` and its conversation if ``user`` takes part in it; NotFound otherwise (missing or not theirs)."""
    if message is None or conversation is None or user not in conversation.participant_ids:
        raise NotFound("message not found")
    return message, conversation


def _unchanged(kind: str, message: MessageRecord, conversation: ConversationState) -> ChangePlan:
    return ChangePlan(kind, message, message, conversation, changed=False)


def _changed(
    kind: str,
    before: MessageRecord,
    after: MessageRecord,
    conversation: ConversationState,
    now: str,
    *,
    follow_replies: bool,
    reaction: ReactionChange | None = None,
    released: Mapping[str, Any] | None = None,
) -> ChangePlan:
    preview_changed = follow_replies and conversation.last_message_id == before.id
    if preview_changed:
        conversation = replace(conversation, last_message=preview_of(after))
    replies = tuple(sorted(before.reply_seqs)) if follow_replies else ()
    timeline = timeline_entries(after, now)
    for seq in replies:
        timeline += timeline_entries(replace(after, seq=seq), now)
    return ChangePlan(
        kind,
        before,
        after,
        conversation,
        changed=True,
        preview_changed=preview_changed,
        timeline=timeline,
        replies=replies,
        reaction=reaction,
        released=released,
    )


def _own(message: MessageRecord, user: str) -> None:
    if message.sender_id != user:
        raise Forbidden("only its sender can change a message", code=ErrorCode.NOT_SENDER)


def _not_deleted(message: MessageRecord) -> None:
    if message.is_deleted:
        raise Conflict("the message was deleted", code=ErrorCode.MESSAGE_DELETED)


def plan_edit(
    message: MessageRecord | None,
    conversation: ConversationState | None,
    *,
    editor: str,
    content: str,
    now: str,
    window_seconds: int,
) -> ChangePlan:
    """Replace a message's text: its sender only, within the edit window, never after its deletion. ``content`` is
    already trimmed and bounded (the wire model); it may be empty only for a message with an attachment, which it
    keeps."""
    message, conversation = message_of(message, conversation, editor)
    _own(message, editor)
    _not_deleted(message)
    if parse_iso(now) - parse_iso(message.sent_at) > timedelta(seconds=window_seconds):
        raise Forbidden(
            f"messages can be edited for {window_seconds} seconds after they are sent",
            code=ErrorCode.EDIT_WINDOW_PASSED,
        )
    if not content and message.attachment is None:
        raise InvalidRequest(
            "the request is not valid",
            details=[
                {
                    "field": "content",
                    "message": "content must not be empty unless the message has an attachment",
                    "type": "value_error",
                }
            ],
        )
    if content == message.content:
        return _unchanged(EDITED, message, conversation)
    after = replace(
        message,
        content=content,
        edited_at=now,
        version=message.version + 1,
        earlier_versions=kept_versions(message),
    )
    return _changed(EDITED, message, after, conversation, now, follow_replies=True)


def kept_versions(message: MessageRecord) -> tuple[EarlierVersion, ...]:
    """The earlier texts an edit of ``message`` leaves on it: the ones it had and its current one, the original and
    the latest ``EARLIER_VERSIONS_KEPT - 1`` when there are more."""
    current = EarlierVersion(message.content, message.version, message.edited_at or message.sent_at)
    versions = (*message.earlier_versions, current)
    if len(versions) > EARLIER_VERSIONS_KEPT:
        versions = (versions[0], *versions[len(versions) - EARLIER_VERSIONS_KEPT + 1 :])
    return versions


def plan_delete(
    message: MessageRecord | None, conversation: ConversationState | None, *, actor: str, now: str
) -> ChangePlan:
    """Turn a message into a tombstone (no text, no attachment, no reactions): its sender only; idempotent."""
    message, conversation = message_of(message, conversation, actor)
    _own(message, actor)
    return _tombstone(message, conversation, now)


def plan_removal(message: MessageRecord | None, conversation: ConversationState | None, *, now: str) -> ChangePlan:
    """A moderator's deletion (a report resolved with ``delete_message``): the same tombstone, for everyone, whoever
    sent it; idempotent."""
    if message is None or conversation is None:
        raise NotFound("message not found")
    return _tombstone(message, conversation, now)


def _tombstone(message: MessageRecord, conversation: ConversationState, now: str) -> ChangePlan:
    if message.is_deleted:
        return _unchanged(DELETED, message, conversation)
    after = replace(
        message,
        content="",
        attachment=None,
        reactions=(),
        reply_to=None,
        deleted_at=now,
        version=message.version + 1,
        earlier_versions=(),
    )
    return _changed(DELETED, message, after, conversation, now, follow_replies=True, released=message.attachment)


def canonical_emoji(value: str, allowed: tuple[str, ...]) -> str | None:
    """The allow-list's spelling of ``value`` (with or without the emoji variation selector), or None."""
    key = unicodedata.normalize("NFC", value).replace(_VARIATION_SELECTOR, "")
    return next((emoji for emoji in allowed if emoji.replace(_VARIATION_SELECTOR, "") == key), None)


def plan_reaction(
    message: MessageRecord | None,
    conversation: ConversationState | None,
    *,
    user: str,
    emoji: str,
    add: bool,
    now: str,
    max_kinds: int,
) -> ChangePlan:
    """Add or remove ``user``'s reaction ``emoji`` (already on the allow-list): any participant, one per user and
    emoji, at most ``max_kinds`` distinct emoji on a message, none on a deleted one; idempotent."""
    message, conversation = message_of(message, conversation, user)
    _not_deleted(message)
    reactions = list(message.reactions)
    index = next((i for i, reaction in enumerate(reactions) if reaction.emoji == emoji), None)
    users = reactions[index].user_ids if index is not None else ()
    if add == (user in users):
        return _unchanged(REACTED, message, conversation)
    if index is None:  # the first reaction with this emoji (removing one that is not there changed nothing above)
        if len(reactions) >= max_kinds:
            raise Conflict(
                f"a message can carry at most {max_kinds} different reactions", code=ErrorCode.TOO_MANY_REACTIONS
            )
        reactions.append(Reaction(emoji, (user,)))
    elif add:
        reactions[index] = Reaction(emoji, (*users, user))
    elif remaining := tuple(u for u in users if u != user):
        reactions[index] = Reaction(emoji, remaining)
    else:
        del reactions[index]
    after = replace(message, reactions=tuple(reactions), version=message.version + 1)
    change = ReactionChange(emoji, user, ADDED if add else REMOVED)
    return _changed(REACTED, message, after, conversation, now, follow_replies=False, reaction=change)
