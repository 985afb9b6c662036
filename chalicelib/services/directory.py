"""Profiles, patterns and purchases: the platform's copy, and how names are shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import Pattern, Purchase, UserProfile
from chalicelib.adapters.dynamodb.batch import Key, batch_get
from chalicelib.adapters.dynamodb.transactions import commit
from chalicelib.domain import profiles
from chalicelib.domain.clock import now_iso
from chalicelib.domain.presence import is_online
from chalicelib.domain.principal import Principal
from chalicelib.domain.sending import customer_key
from chalicelib.schemas.requests import UpsertPatternRequest, UpsertUserRequest
from chalicelib.schemas.responses import (
    InternalUserOut,
    ParticipantOut,
    ParticipantPresenceOut,
    PatternOut,
    PurchaseOut,
)


@dataclass
class Directory:
    """Profiles and patterns fetched for one response (see ``keys_for`` / ``from_batch``)."""

    users: dict[str, UserProfile] = field(default_factory=dict)
    patterns: dict[str, Pattern] = field(default_factory=dict)
    caller: Principal | None = None

    @staticmethod
    def keys_for(user_ids: set[str], pattern_ids: set[str]) -> list[Key]:
        return [(UserProfile, u, None) for u in sorted(user_ids)] + [(Pattern, p, None) for p in sorted(pattern_ids)]

    @classmethod
    def load(cls, user_ids: set[str], pattern_ids: set[str], caller: Principal | None = None) -> Directory:
        """Profiles and patterns in one BatchGetItem."""
        return cls.from_batch(batch_get(cls.keys_for(user_ids, pattern_ids)), caller=caller)

    @classmethod
    def from_batch(cls, batch: dict[Key, Any], caller: Principal | None = None) -> Directory:
        directory = cls(caller=caller)
        for (model, hash_key, _), item in batch.items():
            if item is None:
                continue
            if model is UserProfile:
                directory.users[hash_key] = item
            elif model is Pattern:
                directory.patterns[hash_key] = item
        return directory

    def participant(self, user_id: str) -> ParticipantOut:
        """How a user is shown: the platform's profile, else their JWT claims, else their id."""
        profile = self.users.get(user_id)
        # Claims are checked when a token is verified; stored ones are checked again, for those kept before that.
        name = profile.name or _fit(profiles.display_name, profile.claim_name) if profile else None
        avatar = profile.avatar_url or _fit(profiles.image_url, profile.claim_picture) if profile else None
        if self.caller is not None and self.caller.user_id == user_id:
            name = name or self.caller.name
            avatar = avatar or self.caller.picture
        return ParticipantOut(id=user_id, name=name or user_id, avatar_url=avatar)

    def participant_with_presence(self, user_id: str, now: str) -> ParticipantPresenceOut:
        """A participant with whether they are online and when they were last seen."""
        profile = self.users.get(user_id)
        online = profile is not None and is_online(profile.connection_ids, profile.presence_expires_at, now)
        return ParticipantPresenceOut(
            **self.participant(user_id).model_dump(),
            online=online,
            last_seen_at=profile.last_seen_at if profile else None,
        )

    def pattern(self, pattern_id: str | None) -> PatternOut | None:
        pattern = self.patterns.get(pattern_id) if pattern_id else None
        if pattern is None:
            return None
        return PatternOut(
            id=pattern.id, title=pattern.title, thumbnail_url=pattern.thumbnail_url, creator_id=pattern.creator_id
        )

    def total_unread(self, user_id: str) -> int:
        profile = self.users.get(user_id)
        return max(int(profile.total_unread or 0), 0) if profile else 0

    def requests_count(self, user_id: str) -> int:
        """The message requests waiting for ``user_id`` (the requests badge)."""
        profile = self.users.get(user_id)
        return max(int(profile.requests_count or 0), 0) if profile else 0


def _fit(rule: Callable[[str], str], value: str | None) -> str | None:
    """``value`` when it passes the profile rule, else None."""
    if not value:
        return None
    try:
        return rule(value)
    except ValueError:
        return None


def upsert_user(user_id: str, request: UpsertUserRequest) -> InternalUserOut:
    """Store the platform's profile of a user (counters, claims and notification preferences are kept; like the avatar,
    an email left out is removed: the platform's PUT is the whole profile)."""
    profile = UserProfile(user_id)
    actions: list[Action] = [
        UserProfile.name.set(request.name),
        UserProfile.avatar_url.set(request.avatar_url) if request.avatar_url else UserProfile.avatar_url.remove(),
        UserProfile.updated_at.set(now_iso()),
    ]
    if request.accepts_direct_messages is not None:
        # Open to everyone: new conversations from non-buyers are no message requests (those waiting stay).
        actions.append(
            UserProfile.accepts_direct_messages.set(True)
            if request.accepts_direct_messages
            else UserProfile.accepts_direct_messages.remove()
        )
    actions.append(UserProfile.email.set(request.email) if request.email else UserProfile.email.remove())
    profile.update(actions=actions)
    return InternalUserOut(
        id=user_id,
        name=request.name,
        avatar_url=request.avatar_url,
        accepts_direct_messages=bool(profile.accepts_direct_messages),
        email=request.email,
    )


def upsert_pattern(pattern_id: str, request: UpsertPatternRequest) -> PatternOut:
    """Store the platform's copy of a pattern; its creator is a creator from now on (message requests), in the same
    transaction."""
    pattern = Pattern(
        pattern_id,
        creator_id=request.creator_id,
        title=request.title,
        thumbnail_url=request.thumbnail_url,
        updated_at=now_iso(),
    )

    def build(transaction: TransactWrite) -> None:
        transaction.save(pattern)
        transaction.update(UserProfile(request.creator_id), actions=[UserProfile.is_creator.set(True)])

    commit(build)
    return PatternOut(
        id=pattern_id, title=request.title, thumbnail_url=request.thumbnail_url, creator_id=request.creator_id
    )


def record_purchase(pattern_id: str, user_id: str) -> PurchaseOut:
    """Record that ``user_id`` bought ``pattern_id``; repeating it keeps the first purchase time. With it, in the same
    transaction, the marker that they bought from the pattern's creator (``sending.customer_key``: their direct
    messages to that creator are no message requests); a pattern the platform has not sent yet has no creator to
    mark (its purchase still opens the pattern's conversation)."""
    found = batch_get([(Pattern, pattern_id, None), (Purchase, user_id, pattern_id)])
    pattern = found.item(Pattern, pattern_id)
    earlier = found.item(Purchase, user_id, pattern_id)
    purchased_at = earlier.purchased_at if earlier is not None else now_iso()
    first_time = Purchase.purchased_at | purchased_at

    def build(transaction: TransactWrite) -> None:
        transaction.update(Purchase(user_id, pattern_id), actions=[Purchase.purchased_at.set(first_time)])
        if pattern is not None and pattern.creator_id != user_id:
            buyer, marker = customer_key(user_id, pattern.creator_id)
            transaction.update(Purchase(buyer, marker), actions=[Purchase.purchased_at.set(first_time)])

    commit(build)
    return PurchaseOut(user_id=user_id, pattern_id=pattern_id, purchased_at=purchased_at)
