"""DynamoDB through PynamoDB: the table models (the single definition of every table), batch reads,
transactions, and the mapping between the domain's records and stored items (``records``)."""

from chalicelib.adapters.dynamodb.attachments import Attachment
from chalicelib.adapters.dynamodb.blocks import Block
from chalicelib.adapters.dynamodb.catalog import Pattern, Purchase
from chalicelib.adapters.dynamodb.connections import Connection
from chalicelib.adapters.dynamodb.contacts import Contact
from chalicelib.adapters.dynamodb.conversations import Conversation, Membership
from chalicelib.adapters.dynamodb.limits import RateCounter
from chalicelib.adapters.dynamodb.messages import IdempotencyRecord, Message
from chalicelib.adapters.dynamodb.moderation import ModerationItem
from chalicelib.adapters.dynamodb.push import PushSubscription
from chalicelib.adapters.dynamodb.search import SearchTerm
from chalicelib.adapters.dynamodb.timelines import TimelineEntry
from chalicelib.adapters.dynamodb.users import UserProfile

ALL_MODELS = (
    UserProfile,
    Pattern,
    Purchase,
    Conversation,
    Membership,
    Message,
    IdempotencyRecord,
    Connection,
    TimelineEntry,
    Attachment,
    RateCounter,
    Contact,
    SearchTerm,
    Block,
    ModerationItem,
    PushSubscription,
)

__all__ = [
    "ALL_MODELS",
    "Attachment",
    "Block",
    "Connection",
    "Contact",
    "Conversation",
    "IdempotencyRecord",
    "Membership",
    "Message",
    "ModerationItem",
    "Pattern",
    "Purchase",
    "PushSubscription",
    "RateCounter",
    "SearchTerm",
    "TimelineEntry",
    "UserProfile",
]
