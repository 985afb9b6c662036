"""The one mapping between the domain's records and stored items, and how the domain's plans are written.

Every item shape is assembled here and nowhere else: the use cases, the seeders and the test factories all
write through these functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pynamodb.expressions.condition import Condition, size
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import rate_limits
from chalicelib.adapters.dynamodb.attachments import Attachment
from chalicelib.adapters.dynamodb.batch import Key
from chalicelib.adapters.dynamodb.catalog import Pattern, Purchase
from chalicelib.adapters.dynamodb.contacts import Contact
from chalicelib.adapters.dynamodb.conversations import Conversation, Membership
from chalicelib.adapters.dynamodb.messages import IdempotencyRecord, Message
from chalicelib.adapters.dynamodb.timelines import TimelineEntry
from chalicelib.adapters.dynamodb.users import UserProfile
from chalicelib.domain.conversations import ConversationState, activity_at
from chalicelib.domain.lifecycle import EDITED, REACTED, REPLIES_FOLLOWING, ChangePlan
from chalicelib.domain.messages import MessageRecord, Reaction, ReplyRef, TimelineRecord
from chalicelib.domain.notifications import (
    DELAY_MINUTES_MAX,
    DELAY_MINUTES_MIN,
    InvalidPreferences,
    Preferences,
    QuietHours,
)
from chalicelib.domain.read_state import ParticipantState
from chalicelib.domain.reading import ReadPlan
from chalicelib.domain.sending import (
    IdempotencyHit,
    PatternInfo,
    ProfileClaims,
    QuotedOriginal,
    SendPlan,
    SendSnapshot,
)
from chalicelib.domain.uploads import UploadState
from chalicelib.settings import get_settings

# --- items → records -----------------------------------------------------------------------------------


def participants_of(item: Conversation | Membership) -> tuple[str, ...]:
    # PynamoDB types a ListAttribute's items as the attribute class; they are the strings it stored.
    return tuple(cast("list[str]", item.participant_ids))


def conversation_state(item: Conversation) -> ConversationState:
    stored: dict[str, Any] = item.participant_states or {}
    participants = participants_of(item)
    return ConversationState(
        id=item.id,
        participant_ids=participants,
        created_at=item.created_at,
        updated_at=item.updated_at,
        pattern_id=item.pattern_id,
        title=item.title,
        message_count=int(item.message_count or 0),
        version=int(item.version or 0),
        states={user: ParticipantState.from_item(stored.get(user)) for user in participants},
        last_message_id=item.last_message_id,
        last_message_at=item.last_message_at,
        last_message=item.last_message,
        is_active=bool(item.is_active),
        room=frozenset(item.room or ()),
    )


def membership_view(item: Membership) -> ConversationState:
    """A user's copy of a conversation, as list views show it (no read states: ``unread_count`` carries theirs)."""
    return ConversationState(
        id=item.conversation_id,
        participant_ids=participants_of(item),
        created_at=item.created_at,
        updated_at=item.activity_at,
        pattern_id=item.pattern_id,
        title=item.title,
        last_message_id=item.last_message_id,
        last_message_at=item.last_message_at,
        last_message=item.last_message,
        is_active=bool(item.is_active),
    )


def message_record(item: Message) -> MessageRecord:
    reply_to: dict[str, Any] | None = item.reply_to
    return MessageRecord(
        conversation_id=item.conversation_id,
        seq=int(item.seq),
        id=item.id,
        sender_id=item.sender_id,
        recipient_id=item.recipient_id,
        recipient_receipt=int(item.recipient_receipt),
        content=item.content or "",
        sent_at=item.sent_at,
        client_message_id=item.client_message_id,
        attachment=item.attachment,
        version=int(item.version or 1),  # written before messages could change: version 1
        edited_at=item.edited_at,
        deleted_at=item.deleted_at,
        reactions=tuple(Reaction(r["emoji"], tuple(r["userIds"])) for r in (item.reactions or ())),
        reply_to=ReplyRef(int(reply_to["seq"]), reply_to["senderId"]) if reply_to else None,
        reply_seqs=frozenset(int(seq) for seq in (item.reply_seqs or ())),
    )


def upload_state(item: Attachment) -> UploadState:
    return UploadState(
        id=item.id,
        conversation_id=item.conversation_id,
        uploader_id=item.uploader_id,
        key=item.key,
        kind=item.kind,
        content_type=item.content_type,
        file_name=item.file_name,
        declared_size=int(item.declared_size),
        status=item.status,
        reason=item.reason,
        size=int(item.size) if item.size is not None else None,
        width=int(item.width) if item.width is not None else None,
        height=int(item.height) if item.height is not None else None,
        display_key=item.display_key,
        thumbnail_key=item.thumbnail_key,
        message_id=item.message_id,
        verified_key=item.verified_key,
        verified_etag=item.verified_etag,
        deleted_at=item.deleted_at,
    )


# --- records → items -----------------------------------------------------------------------------------


def conversation_item(conversation: ConversationState) -> Conversation:
    """The whole conversation item (a new conversation, or a seeded one, which keeps the room it was read with)."""
    return Conversation(
        conversation.id,
        pattern_id=conversation.pattern_id,
        participant_ids=list(conversation.participant_ids),
        title=conversation.title,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        last_message_id=conversation.last_message_id,
        last_message_at=conversation.last_message_at,
        last_message=dict(conversation.last_message) if conversation.last_message else None,
        is_active=conversation.is_active,
        message_count=conversation.message_count,
        version=conversation.version,
        participant_states=_states_item(conversation),
        room=set(conversation.room) or None,
    )


def _states_item(conversation: ConversationState) -> dict[str, Any]:
    return {user: conversation.state_of(user).to_item() for user in conversation.participant_ids}


def _set(value: str | None) -> str:
    """A value the plan always has where it is written (a sent-to conversation's last message, an edit's time)."""
    if value is None:
        raise ValueError("a planned value is missing")
    return value


def conversation_changes(conversation: ConversationState) -> list[Any]:
    """The attributes a send changes on an existing conversation: an update, never a put, because the room set
    on the same item changes independently (join/leave)."""
    return [
        Conversation.message_count.set(conversation.message_count),
        Conversation.version.set(conversation.version),
        Conversation.participant_states.set(_states_item(conversation)),
        Conversation.last_message_id.set(_set(conversation.last_message_id)),
        Conversation.last_message_at.set(_set(conversation.last_message_at)),
        Conversation.last_message.set(dict(conversation.last_message) if conversation.last_message else None),
        Conversation.updated_at.set(conversation.updated_at),
    ]


def membership_item(conversation: ConversationState, user_id: str) -> Membership:
    """``user_id``'s membership item, derived entirely from the conversation."""
    return Membership(
        user_id,
        conversation.id,
        activity_at=activity_at(conversation),
        other_user_id=conversation.other_than(user_id),
        participant_ids=list(conversation.participant_ids),
        pattern_id=conversation.pattern_id,
        title=conversation.title,
        created_at=conversation.created_at,
        last_message_id=conversation.last_message_id,
        last_message_at=conversation.last_message_at,
        last_message=dict(conversation.last_message) if conversation.last_message else None,
        is_active=conversation.is_active,
        unread_count=conversation.state_of(user_id).unread,
    )


def _reactions_item(message: MessageRecord) -> list[dict[str, Any]] | None:
    return [{"emoji": r.emoji, "userIds": list(r.user_ids)} for r in message.reactions] or None


def message_item(message: MessageRecord) -> Message:
    return Message(
        message.conversation_id,
        message.seq,
        id=message.id,
        sender_id=message.sender_id,
        recipient_id=message.recipient_id,
        recipient_receipt=message.recipient_receipt,
        content=message.content,
        sent_at=message.sent_at,
        client_message_id=message.client_message_id,
        attachment=dict(message.attachment) if message.attachment else None,
        version=message.version,
        edited_at=message.edited_at,
        is_deleted=True if message.is_deleted else None,
        deleted_at=message.deleted_at,
        reactions=_reactions_item(message),
        reply_to={"seq": message.reply_to.seq, "senderId": message.reply_to.sender_id} if message.reply_to else None,
        reply_seqs=set(message.reply_seqs) or None,
    )


def contact_items(conversation: ConversationState) -> list[Contact]:
    """Both participants' contact items: they share a conversation (``sessions.watch_presence`` checks it)."""
    first, second = conversation.participant_ids
    return [
        Contact(first, second, since=conversation.created_at),
        Contact(second, first, since=conversation.created_at),
    ]


def timeline_item(entry: TimelineRecord) -> TimelineEntry:
    """A timeline entry, expiring with the sync window."""
    return TimelineEntry(
        entry.user_id,
        entry.position,
        conversation_id=entry.conversation_id,
        message_seq=entry.seq,
        expires_at=timedelta(seconds=get_settings().feed_ttl_seconds),
    )


# --- the send ------------------------------------------------------------------------------------------


def send_keys(roles: dict[str, Any]) -> dict[str, Key]:
    """The BatchGetItem keys of a send's snapshot, by role (``domain.sending.snapshot_keys``)."""
    keys: dict[str, Key] = {"conversation": (Conversation, roles["conversation"], None)}
    if "idempotency" in roles:
        keys["idempotency"] = (IdempotencyRecord, roles["idempotency"], None)
    if "upload" in roles:
        keys["upload"] = (Attachment, roles["upload"], None)
    if "original" in roles:
        conversation_id, seq = roles["original"]
        keys["original"] = (Message, conversation_id, seq)
    if "recipient" in roles:
        keys["recipient"] = (UserProfile, roles["recipient"], None)
    if "pattern" in roles:
        keys["pattern"] = (Pattern, roles["pattern"], None)
        user_id, pattern_id = roles["purchase"]
        keys["purchase"] = (Purchase, user_id, pattern_id)
    return keys


def send_snapshot(keys: dict[str, Key], found: dict[Key, Any]) -> SendSnapshot:
    """The domain's view of what a send read."""

    def item(role: str) -> Any:
        return found.get(keys[role]) if role in keys else None

    conversation, record, upload, pattern = item("conversation"), item("idempotency"), item("upload"), item("pattern")
    original = item("original")
    return SendSnapshot(
        conversation=conversation_state(conversation) if conversation is not None else None,
        idempotency=(
            IdempotencyHit(record.request_hash, record.conversation_id, record.message_id, int(record.message_seq))
            if record is not None
            else None
        ),
        upload=upload_state(upload) if upload is not None else None,
        recipient_exists=item("recipient") is not None,
        pattern=PatternInfo(pattern.creator_id, pattern.title) if pattern is not None else None,
        purchased=item("purchase") is not None,
        original=message_record(original) if original is not None else None,
    )


def write_send(transaction: TransactWrite, plan: SendPlan) -> None:
    """Every item of a planned send, in the caller's transaction."""
    conversation = plan.conversation
    for action in plan.charges:
        rate_limits.charge(transaction, plan.sender_id, action)
    if plan.conversation_created:
        transaction.save(conversation_item(conversation), condition=Conversation.id.does_not_exist())
        for contact in contact_items(conversation):
            transaction.save(contact)
    else:
        transaction.update(
            Conversation(conversation.id),
            actions=conversation_changes(conversation),
            condition=Conversation.version == plan.expected_version,
        )
    transaction.save(message_item(plan.message), condition=Message.seq.does_not_exist())
    if plan.quoted is not None:
        _write_quoted(transaction, plan.message, plan.quoted)
    for user in plan.memberships_for:
        transaction.save(membership_item(conversation, user))
    for user, added in plan.unread_increments.items():
        transaction.update(UserProfile(user), actions=[UserProfile.total_unread.add(added)])
    for entry in plan.timeline:
        transaction.save(timeline_item(entry))
    if plan.attachment is not None:
        claim = plan.attachment
        claim_actions: list[Any] = [
            Attachment.message_id.set(claim.message_id),
            Attachment.size.set(claim.verified.size),
            Attachment.expires_at.remove(),
        ]
        if claim.verified.copy_key:
            claim_actions.append(Attachment.verified_key.set(claim.verified.copy_key))
        if claim.verified.etag:
            # What processing, if it has not run yet, must read: the version this send checked.
            claim_actions.append(Attachment.verified_etag.set(claim.verified.etag))
        transaction.update(
            Attachment(claim.attachment_id),
            actions=claim_actions,
            condition=Attachment.message_id.does_not_exist() & (Attachment.status == claim.expected_status),
        )
    if plan.idempotency is not None:
        key = plan.idempotency
        transaction.save(
            IdempotencyRecord(
                key.key,
                request_hash=key.request_hash,
                conversation_id=key.conversation_id,
                message_id=key.message_id,
                message_seq=key.message_seq,
                created_at=key.created_at,
                expires_at=timedelta(seconds=get_settings().idempotency_ttl_seconds),
            ),
            condition=IdempotencyRecord.key.does_not_exist(),
        )
    write_claims(transaction, plan.claims)


def _size(attribute: Any) -> Any:
    return size(attribute)  # type: ignore[no-untyped-call]  # PynamoDB's size() is untyped


def _not_deleted() -> Condition:
    return Message.deleted_at.does_not_exist()


def _write_quoted(transaction: TransactWrite, reply: MessageRecord, quoted: QuotedOriginal) -> None:
    """The quoted message must still be there, undeleted; the first replies are recorded on it (never more than
    ``REPLIES_FOLLOWING``, also when replies race: the size condition holds the bound)."""
    if quoted.follows:
        transaction.update(
            Message(reply.conversation_id, quoted.seq),
            actions=[Message.reply_seqs.add({reply.seq})],
            condition=Message.seq.exists()
            & _not_deleted()
            & (Message.reply_seqs.does_not_exist() | (_size(Message.reply_seqs) < REPLIES_FOLLOWING)),
        )
    else:
        transaction.condition_check(
            Message, reply.conversation_id, quoted.seq, condition=Message.seq.exists() & _not_deleted()
        )


def write_claims(transaction: TransactWrite, claims: ProfileClaims | None) -> None:
    """Keep the caller's JWT name/picture so others see them when the platform sent no profile."""
    if claims is None:
        return
    actions: list[Any] = []
    if claims.name:
        actions.append(UserProfile.claim_name.set(claims.name))
    if claims.picture:
        actions.append(UserProfile.claim_picture.set(claims.picture))
    if actions:
        transaction.update(UserProfile(claims.user_id), actions=actions)


def write_new_conversation(
    transaction: TransactWrite, conversation: ConversationState, *, opener_id: str, claims: ProfileClaims | None
) -> None:
    """A conversation opened without a message (a pattern conversation): it and both memberships."""
    rate_limits.charge(transaction, opener_id, "conversation")
    transaction.save(conversation_item(conversation), condition=Conversation.id.does_not_exist())
    for user in conversation.participant_ids:
        transaction.save(membership_item(conversation, user))
    for contact in contact_items(conversation):
        transaction.save(contact)
    write_claims(transaction, claims)


def write_read(transaction: TransactWrite, plan: ReadPlan) -> None:
    """A moved read position: the conversation (versioned), the reader's membership, their unread total."""
    conversation = plan.conversation
    transaction.update(
        Conversation(conversation.id),
        actions=[
            Conversation.participant_states.set(_states_item(conversation)),
            Conversation.version.set(conversation.version),
        ],
        condition=Conversation.version == plan.expected_version,
    )
    transaction.save(membership_item(conversation, plan.reader_id))
    transaction.update(UserProfile(plan.reader_id), actions=[UserProfile.total_unread.add(plan.unread_delta)])


def seeded_items(plans: Iterable[SendPlan]) -> list[Model]:
    """The items a series of sends leaves behind, for bulk seeding with BatchWriteItem (no transaction, no rate
    counters, no idempotency records): each message and timeline entry, and the last state of each conversation
    and membership. Unread totals are the caller's (they are counters, not items)."""
    items: list[Model] = []
    last: dict[str, ConversationState] = {}
    for plan in plans:
        items.append(message_item(plan.message))
        items.extend(timeline_item(entry) for entry in plan.timeline)
        last[plan.conversation.id] = plan.conversation
    for conversation in last.values():
        items.append(conversation_item(conversation))
        items.extend(membership_item(conversation, user) for user in conversation.participant_ids)
        items.extend(contact_items(conversation))
    return items


# --- changing a message --------------------------------------------------------------------------------


def change_keys(conversation_id: str, seq: int) -> dict[str, Key]:
    """What a change of message ``seq`` reads, by role: one BatchGetItem."""
    return {"message": (Message, conversation_id, seq), "conversation": (Conversation, conversation_id, None)}


def change_snapshot(
    keys: dict[str, Key], found: dict[Key, Any]
) -> tuple[MessageRecord | None, ConversationState | None]:
    message, conversation = found.get(keys["message"]), found.get(keys["conversation"])
    return (
        message_record(message) if message is not None else None,
        conversation_state(conversation) if conversation is not None else None,
    )


def bump_version() -> Any:
    """One more version of a message whose changes are not conditioned on it (a reply's quote, an image processed):
    it commutes with every conditioned change, which then reads again."""
    return Message.version.set((Message.version | 1) + 1)


def _version_is(version: int) -> Condition:
    condition: Condition = Message.version == version
    return condition | Message.version.does_not_exist() if version == 1 else condition


def _replies_are(count: int) -> Condition:
    """No reply was recorded since the plan read the message (so every reply it bumps is every reply there is)."""
    return Message.reply_seqs.does_not_exist() if count == 0 else _size(Message.reply_seqs) == count


def write_change(transaction: TransactWrite, plan: ChangePlan) -> None:
    """A planned change of a message: the message (conditioned on the version read), the conversation's preview and
    both memberships when it shows this message, the replies that follow it, both timelines, and for a deletion
    its attachment's record (gone for everyone; it expires with the objects the bucket's lifecycle removes)."""
    before, after = plan.before, plan.message
    actions: list[Any] = [Message.version.set(after.version)]
    condition = _version_is(before.version) & Message.seq.exists()
    if plan.kind == REACTED:
        reactions = _reactions_item(after)
        actions.append(Message.reactions.set(reactions) if reactions else Message.reactions.remove())
    else:
        # Edits and deletions tell the replies that follow them: none may have been recorded since the read.
        condition &= _replies_are(len(before.reply_seqs))
        if plan.kind == EDITED:
            actions += [Message.content.set(after.content), Message.edited_at.set(_set(after.edited_at))]
        else:
            actions += [
                Message.content.set(""),
                Message.is_deleted.set(True),
                Message.deleted_at.set(_set(after.deleted_at)),
                Message.attachment.remove(),
                Message.reactions.remove(),
                Message.reply_to.remove(),
            ]
    transaction.update(Message(before.conversation_id, before.seq), actions=actions, condition=condition)
    if plan.preview_changed:
        conversation = plan.conversation
        transaction.update(
            Conversation(conversation.id),
            actions=[Conversation.last_message.set(dict(conversation.last_message or {}))],
            condition=Conversation.version == conversation.version,
        )
        for user in conversation.participant_ids:
            transaction.save(membership_item(conversation, user))
    for seq in plan.replies:
        transaction.update(Message(before.conversation_id, seq), actions=[bump_version()])
    for entry in plan.timeline:
        transaction.save(timeline_item(entry))
    if plan.released and plan.released.get("id"):
        transaction.update(
            Attachment(plan.released["id"]),
            actions=[
                Attachment.deleted_at.set(_set(after.deleted_at)),
                Attachment.expires_at.set(datetime.now(UTC) + timedelta(days=1)),
            ],
        )


# --- notification preferences (issue 18) ---------------------------------------------------------------


def notification_preferences(item: UserProfile | None) -> Preferences:
    """A user's preferences as stored (the defaults for what was never set; a stored value that no longer passes the
    rules reads as its default rather than failing the read)."""
    defaults = Preferences()
    if item is None:
        return defaults
    quiet = None
    stored = item.notify_quiet_hours
    if isinstance(stored, dict):
        try:
            quiet = QuietHours(str(stored.get("start")), str(stored.get("end")), str(stored.get("timeZone")))
        except InvalidPreferences:
            quiet = None
    delay = int(item.notify_email_delay_minutes) if item.notify_email_delay_minutes is not None else None
    if delay is None or not DELAY_MINUTES_MIN <= delay <= DELAY_MINUTES_MAX:
        delay = defaults.email_delay_minutes
    return Preferences(
        email_enabled=defaults.email_enabled if item.notify_email_enabled is None else bool(item.notify_email_enabled),
        email_delay_minutes=delay,
        push_enabled=defaults.push_enabled if item.notify_push_enabled is None else bool(item.notify_push_enabled),
        push_show_preview=(
            defaults.push_show_preview if item.notify_push_show_preview is None else bool(item.notify_push_show_preview)
        ),
        quiet_hours=quiet,
    )


def preference_actions(preferences: Preferences) -> list[Any]:
    """The update actions that store ``preferences`` on the user's item (all of them: a PUT replaces)."""
    quiet = preferences.quiet_hours
    return [
        UserProfile.notify_email_enabled.set(preferences.email_enabled),
        UserProfile.notify_email_delay_minutes.set(preferences.email_delay_minutes),
        UserProfile.notify_push_enabled.set(preferences.push_enabled),
        UserProfile.notify_push_show_preview.set(preferences.push_show_preview),
        UserProfile.notify_quiet_hours.set({"start": quiet.start, "end": quiet.end, "timeZone": quiet.time_zone})
        if quiet is not None
        else UserProfile.notify_quiet_hours.remove(),
    ]
