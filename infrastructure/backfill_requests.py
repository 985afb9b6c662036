"""Write what message requests read for the catalog recorded before issue 16 (once per stage, after the deploy that
brings message requests; safe to repeat):

    TABLE_PREFIX=crochet-messaging-dev- AWS_REGION=eu-west-1 python -m infrastructure.backfill_requests

A creator is marked on their profile (``is_creator``) when a pattern is stored, and a buyer gets the marker that they
bought from the pattern's creator (``purchases``: ``creator#<creatorId>``) when a purchase is recorded. Patterns and
purchases stored earlier have neither: their creators would take everyone's messages (no requests) and their buyers'
direct messages would land in requests. This reads ``patterns`` and ``purchases`` with paginated Scans (an offline
migration, never a request's cost) and writes the markers (UpdateItem and BatchWriteItem). Conversations and
memberships need no migration: an inbox membership already carries ``activity_at``, the inbox index's key.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from chalicelib.adapters.dynamodb import Pattern, Purchase, UserProfile
from chalicelib.domain.sending import customer_key


def backfill_requests() -> tuple[int, int]:
    """Mark every pattern's creator and every purchase's buyer-of-creator; returns (creators, markers) written."""
    creators: dict[str, str] = {}  # pattern id -> creator id
    for pattern in Pattern.scan(attributes_to_get=["id", "creator_id"], consistent_read=True):
        creators[pattern.id] = pattern.creator_id
    for creator in sorted(set(creators.values())):
        UserProfile(creator).update(actions=[UserProfile.is_creator.set(True)])
    markers = 0
    with Purchase.batch_write() as batch:
        for purchase in Purchase.scan(consistent_read=True):
            creator = creators.get(purchase.pattern_id)
            if creator is None or creator == purchase.user_id:  # a marker itself, or a pattern not in the catalog
                continue
            buyer, marker = customer_key(purchase.user_id, creator)
            batch.save(Purchase(buyer, marker, purchased_at=purchase.purchased_at))
            markers += 1
    return len(set(creators.values())), markers


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    creators, markers = backfill_requests()
    print(f"{creators} creators marked, {markers} buyer markers written to {Purchase.Meta.table_name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
