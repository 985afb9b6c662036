"""Web Push subscriptions of each user, their count, and which pushes were already made (``push_subscriptions``).

One table holds three kinds of item, told apart by their keys:

* ``(user id, psub_<digest of the endpoint>)``: a browser's subscription (endpoint and its two keys);
* ``(user id, "#count")``: how many subscriptions the user holds, the condition that caps them (a transaction
  writes a subscription and its count together, so the cap holds under concurrent requests);
* ``("sent#<message id>", subscription id)``: that message was pushed to that subscription (expires by TTL): a
  redelivered push job sends nothing twice, and the marker's own partition keeps the subscriptions' partition at
  eleven items whatever the number of messages.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.adapters.dynamodb.base import table_meta

COUNT_KEY = "#count"
SENT_PREFIX = "sent#"


class PushSubscription(Model):
    """A push subscription, a user's subscription count, or a sent marker (module docstring)."""

    Meta = table_meta("push_subscriptions")

    owner = UnicodeAttribute(hash_key=True)  # a user id, or "sent#<message id>"
    key = UnicodeAttribute(range_key=True)  # a subscription id, or "#count"
    endpoint = UnicodeAttribute(null=True)
    p256dh = UnicodeAttribute(null=True)
    auth = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    subscriptions = NumberAttribute(null=True)  # on the count item
    expires_at = TTLAttribute(null=True)  # on sent markers
