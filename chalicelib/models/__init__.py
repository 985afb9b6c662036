"""PynamoDB table models: the single definition of every table's shape."""

from chalicelib.models.attachments import Attachment
from chalicelib.models.catalog import Pattern, Purchase, UserProfile
from chalicelib.models.connections import Connection, FeedEntry
from chalicelib.models.conversations import Conversation, Membership
from chalicelib.models.limits import RateCounter
from chalicelib.models.messages import IdempotencyRecord, Message

ALL_MODELS = (
    UserProfile,
    Pattern,
    Purchase,
    Conversation,
    Membership,
    Message,
    IdempotencyRecord,
    Connection,
    FeedEntry,
    Attachment,
    RateCounter,
)

__all__ = [
    "ALL_MODELS",
    "Attachment",
    "Connection",
    "Conversation",
    "FeedEntry",
    "IdempotencyRecord",
    "Membership",
    "Message",
    "Pattern",
    "Purchase",
    "RateCounter",
    "UserProfile",
]
