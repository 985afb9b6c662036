"""The one mapping between the domain's records and stored items, and how the domain's plans are written.

Every item shape is assembled here and nowhere else: the use cases, the seeders and the test factories all
write through these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pynamodb.expressions.condition import Condition, size
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import rate_limits
from chalicelib.adapters.dynamodb.attachments import Attachment
from chalicelib.adapters.dynamodb.batch import Key
from chalicelib.adapters.dynamodb.blocks import check_not_blocked
from chalicelib.adapters.dynamodb.catalog import Pattern, Purchase
from chalicelib.adapters.dynamodb.contacts import Contact
from chalicelib.adapters.dynamodb.conversations import Conversation, Membership
from chalicelib.adapters.dynamodb.messages import IdempotencyRecord, Message
from chalicelib.adapters.dynamodb.moderation import ModerationItem
from chalicelib.adapters.dynamodb.timelines import TimelineEntry
from chalicelib.adapters.dynamodb.users import UserProfile
from chalicelib.domain.conversations import ConversationState, activity_at
from chalicelib.domain.folders import INBOX, ParticipantSettings
from chalicelib.domain.lifecycle import EDITED, REACTED, REPLIES_FOLLOWING, ChangePlan
from chalicelib.domain.messages import EarlierVersion, MessageRecord, Reaction, ReplyRef, TimelineRecord
from chalicelib.domain.moderation import (
    OPEN,
    AuditEntry,
    Evidence,
    ReportRecord,
    Resolution,
    audit_scopes,
)
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
        settings=_settings_of(item.participant_settings, participants),
    )


def _settings_of(stored: dict[str, Any] | None, participants: tuple[str, ...]) -> dict[str, ParticipantSettings]:
    return {user: ParticipantSettings.from_item((stored or {}).get(user)) for user in participants if stored}


def _settings_item(conversation: ConversationState) -> dict[str, Any] | None:
    """Only participants whose settings are not the defaults are stored (absent: an ordinary inbox conversation)."""
    stored = {
        user: conversation.settings_of(user).to_item()
        for user in conversation.participant_ids
        if not conversation.settings_of(user).is_default
    }
    return stored or None


def membership_settings(item: Membership) -> ParticipantSettings:
    """The member's own settings, as their membership carries them."""
    return ParticipantSettings(archived=bool(item.archived), muted_until=item.muted_until, request=bool(item.request))


def membership_activity(item: Membership) -> str:
    """The conversation's latest activity, whichever folder it is in."""
    if item.activity_at:
        return item.activity_at
    return (item.folder_at or "").partition("#")[2] or item.created_at


def membership_view(item: Membership) -> ConversationState:
    """A user's copy of a conversation, as list views show it (no read states: ``unread_count`` carries theirs; the
    member's own settings, and the other's request flag only as far as it concerns the member: none)."""
    settings = {item.user_id: membership_settings(item)}
    if item.awaiting:
        settings[item.other_user_id] = ParticipantSettings(request=True)
    return ConversationState(
        settings=settings,
        id=item.conversation_id,
        participant_ids=participants_of(item),
        created_at=item.created_at,
        updated_at=membership_activity(item),
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
        earlier_versions=tuple(
            EarlierVersion(v["content"], int(v["version"]), v["since"]) for v in (item.earlier_versions or ())
        ),
        report=item.report,
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
        participant_settings=_settings_item(conversation),
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
        settings_change(conversation),
    ]


def settings_change(conversation: ConversationState) -> Any:
    """The update action that stores every participant's settings as ``conversation`` holds them."""
    stored = _settings_item(conversation)
    return Conversation.participant_settings.set(stored) if stored else Conversation.participant_settings.remove()


def membership_item(conversation: ConversationState, user_id: str) -> Membership:
    """``user_id``'s membership item, derived entirely from the conversation (its folder from the user's settings:
    ``activity_at`` for the inbox, ``folder_at`` for the other folders, the two sparse indexes)."""
    settings = conversation.settings_of(user_id)
    at = activity_at(conversation)
    inbox = settings.folder == INBOX
    return Membership(
        user_id,
        conversation.id,
        activity_at=at if inbox else None,
        folder_at=None if inbox else f"{settings.folder}#{at}",
        archived=True if settings.archived else None,
        muted_until=settings.muted_until,
        request=True if settings.request else None,
        awaiting=True if conversation.hides_from(user_id) else None,
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
        earlier_versions=_earlier_item(message),
    )


def _earlier_item(message: MessageRecord) -> list[dict[str, Any]] | None:
    return [{"content": v.content, "version": v.version, "since": v.since} for v in message.earlier_versions] or None


def contact_items(conversation: ConversationState) -> list[Contact]:
    """Both participants' contact items: they share a conversation (``sessions.watch_presence`` checks it)."""
    first, second = conversation.participant_ids
    return [
        Contact(first, second, since=conversation.created_at, request=True if conversation.hides_from(first) else None),
        Contact(
            second, first, since=conversation.created_at, request=True if conversation.hides_from(second) else None
        ),
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
    if "customer" in roles:
        buyer, marker = roles["customer"]
        keys["customer"] = (Purchase, buyer, marker)
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
    recipient = item("recipient")
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
        recipient_is_creator=bool(recipient is not None and recipient.is_creator),
        recipient_accepts_everyone=bool(recipient is not None and recipient.accepts_direct_messages),
        sender_is_customer=item("customer") is not None,
    )


def write_send(transaction: TransactWrite, plan: SendPlan) -> None:
    """Every item of a planned send, in the caller's transaction."""
    conversation = plan.conversation
    check_not_blocked(transaction, *plan.pair)  # first: the condition checks ``blocks.refusal`` reads
    for action in plan.charges:
        rate_limits.charge(transaction, plan.sender_id, action)
    if plan.conversation_created or plan.accepted:
        for contact in contact_items(conversation):
            transaction.save(contact)
    if plan.conversation_created:
        transaction.save(conversation_item(conversation), condition=Conversation.id.does_not_exist())
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
    write_counters(transaction, plan.unread_increments, plan.requests_increments)
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


def write_counters(transaction: TransactWrite, unread: Mapping[str, int], request_counts: Mapping[str, int]) -> None:
    """Move users' total unread (inbox conversations only) and requests count, one update per user."""
    for user in sorted(set(unread) | set(request_counts)):
        actions: list[Any] = []
        if unread.get(user):
            actions.append(UserProfile.total_unread.add(unread[user]))
        if request_counts.get(user):
            actions.append(UserProfile.requests_count.add(request_counts[user]))
        if actions:
            transaction.update(UserProfile(user), actions=actions)


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
    """A conversation opened without a message (a pattern conversation): it and both memberships, while neither
    participant has blocked the other."""
    check_not_blocked(transaction, *conversation.participant_ids)
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
    if plan.total_unread_delta:
        transaction.update(UserProfile(plan.reader_id), actions=[UserProfile.total_unread.add(plan.total_unread_delta)])


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


def write_change(transaction: TransactWrite, plan: ChangePlan, extra_actions: Iterable[Any] = ()) -> None:
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
            actions += [
                Message.content.set(after.content),
                Message.edited_at.set(_set(after.edited_at)),
                Message.earlier_versions.set(_earlier_item(after) or []),
            ]
        else:
            if not before.reported:
                # A report committed since the read holds the attachment's objects: read again (issue 16).
                condition &= Message.report.does_not_exist()
            actions += [
                Message.content.set(""),
                Message.is_deleted.set(True),
                Message.deleted_at.set(_set(after.deleted_at)),
                Message.attachment.remove(),
                Message.reactions.remove(),
                Message.reply_to.remove(),
                Message.earlier_versions.remove(),
            ]
    actions += list(extra_actions)  # what else the same transaction writes on the message (a report's resolution)
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


# --- reports, the audit log, suspensions (issue 16) ----------------------------------------------------------

REPORT_SK, SUSPENSION_SK = "report", "suspension"


def report_key(report_id: str) -> Key:
    return (ModerationItem, f"report#{report_id}", REPORT_SK)


def _evidence_item(evidence: Evidence) -> dict[str, Any]:
    return {
        "senderId": evidence.sender_id,
        "recipientId": evidence.recipient_id,
        "content": evidence.content,
        "sentAt": evidence.sent_at,
        "version": evidence.version,
        "editedAt": evidence.edited_at,
        "earlierVersions": [
            {"content": v.content, "version": v.version, "since": v.since} for v in evidence.earlier_versions
        ],
        "attachment": dict(evidence.attachment) if evidence.attachment else None,
        "attachmentKeys": list(evidence.attachment_keys),
    }


def _evidence_record(data: dict[str, Any]) -> Evidence:
    return Evidence(
        sender_id=data["senderId"],
        recipient_id=data["recipientId"],
        content=data["content"],
        sent_at=data["sentAt"],
        version=int(data["version"]),
        edited_at=data.get("editedAt"),
        earlier_versions=tuple(
            EarlierVersion(v["content"], int(v["version"]), v["since"]) for v in data.get("earlierVersions", ())
        ),
        attachment=data.get("attachment"),
        attachment_keys=tuple(data.get("attachmentKeys", ())),
    )


def _resolution_item(resolution: Resolution | None) -> dict[str, Any] | None:
    if resolution is None:
        return None
    return {
        "action": resolution.action,
        "note": resolution.note,
        "moderatorId": resolution.moderator_id,
        "resolvedAt": resolution.resolved_at,
        "suspendDays": resolution.suspend_days,
        "suspendedUntil": resolution.suspended_until,
    }


def report_item(report: ReportRecord) -> ModerationItem:
    """A report as stored: in the ``queue`` index under its status, open ones by creation, resolved by resolution."""
    queued_at = f"{report.resolved_at or report.created_at}#{report.id}"
    data = {
        "id": report.id,
        "messageId": report.message_id,
        "conversationId": report.conversation_id,
        "seq": report.seq,
        "reporterId": report.reporter_id,
        "reportedUserId": report.reported_user_id,
        "reason": report.reason,
        "details": report.details,
        "status": report.status,
        "createdAt": report.created_at,
        "evidence": _evidence_item(report.evidence),
        "resolution": _resolution_item(report.resolution),
    }
    return ModerationItem(
        f"report#{report.id}", REPORT_SK, kind="report", data=data, queue=report.status, queued_at=queued_at
    )


def report_record(item: ModerationItem) -> ReportRecord:
    data: dict[str, Any] = item.data
    resolution = data.get("resolution")
    return ReportRecord(
        id=data["id"],
        message_id=data["messageId"],
        conversation_id=data["conversationId"],
        seq=int(data["seq"]),
        reporter_id=data["reporterId"],
        reported_user_id=data["reportedUserId"],
        reason=data["reason"],
        status=data["status"],
        created_at=data["createdAt"],
        evidence=_evidence_record(data["evidence"]),
        details=data.get("details"),
        resolution=(
            Resolution(
                action=resolution["action"],
                note=resolution["note"],
                moderator_id=resolution["moderatorId"],
                resolved_at=resolution["resolvedAt"],
                suspend_days=resolution.get("suspendDays"),
                suspended_until=resolution.get("suspendedUntil"),
            )
            if resolution
            else None
        ),
    )


def write_new_report(transaction: TransactWrite, report: ReportRecord) -> None:
    """A first report of this reporter about this message: the condition makes a concurrent twin lose. The message
    is marked reported (unless deleted meanwhile): its deletion then keeps the attachment's objects, the evidence.
    The mark changes nothing a client sees (no version)."""
    transaction.save(report_item(report), condition=ModerationItem.pk.does_not_exist())
    transaction.update(
        Message(report.conversation_id, report.seq),
        actions=report_on_message(report),
        condition=Message.seq.exists() & Message.is_deleted.does_not_exist(),
    )


def report_on_message(report: ReportRecord) -> list[Any]:
    """The report's summary on its message: what the messages stream shows a consumer (issue 18's webhooks
    ``message.reported``, ``report.resolved``). Changes nothing a client sees (no version)."""
    summary: dict[str, Any] = {
        "id": report.id,
        "reason": report.reason,
        "reporterId": report.reporter_id,
        "status": report.status,
        "createdAt": report.created_at,
    }
    if report.resolution is not None:
        summary |= {"resolvedAt": report.resolution.resolved_at, "action": report.resolution.action}
    return [Message.report.set(summary)]


def write_resolution(transaction: TransactWrite, report: ReportRecord, *, on_message: bool = True) -> None:
    """The report, resolved: only if still open as read (a second moderator's resolution loses the race); and its
    summary on the message (``on_message=False``: the message's own update in this transaction carries it)."""
    transaction.save(report_item(report), condition=ModerationItem.queue == OPEN)
    if on_message:
        transaction.update(Message(report.conversation_id, report.seq), actions=report_on_message(report))


def audit_items(entry: AuditEntry) -> list[ModerationItem]:
    data = {
        "id": entry.id,
        "moderatorId": entry.moderator_id,
        "action": entry.action,
        "at": entry.at,
        "reportId": entry.report_id,
        "conversationId": entry.conversation_id,
        "messageId": entry.message_id,
        "details": dict(entry.details),
    }
    return [
        ModerationItem(f"audit#{scope}", f"{entry.at}#{entry.id}", kind="audit", data=data)
        for scope in audit_scopes(entry)
    ]


def write_audit(transaction: TransactWrite, entry: AuditEntry) -> None:
    for item in audit_items(entry):
        transaction.save(item)


def audit_record(item: ModerationItem) -> AuditEntry:
    data: dict[str, Any] = item.data
    return AuditEntry(
        id=data["id"],
        moderator_id=data["moderatorId"],
        action=data["action"],
        at=data["at"],
        report_id=data.get("reportId"),
        conversation_id=data.get("conversationId"),
        message_id=data.get("messageId"),
        details=data.get("details") or {},
    )


def write_suspension(transaction: TransactWrite, user_id: str, until: str, report_id: str) -> None:
    """``user_id`` suspended until ``until``: on the profile (``$connect``'s condition reads it there) and in the
    suspensions index (what the REST check loads). The latest decision wins."""
    transaction.update(UserProfile(user_id), actions=[UserProfile.suspended_until.set(until)])
    transaction.save(
        ModerationItem(
            f"suspension#{user_id}",
            SUSPENSION_SK,
            kind="suspension",
            data={"userId": user_id, "until": until, "reportId": report_id},
            suspended="yes",
            suspended_until=until,
        )
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
