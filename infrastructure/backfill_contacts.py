"""Write the contact items of conversations created before the contacts table existed (once per stage, after the
deploy that adds the table; safe to run again).

    TABLE_PREFIX=crochet-messaging-dev- AWS_REGION=eu-west-1 python -m infrastructure.backfill_contacts

``watch_presence`` accepts a user only when the caller's contact item for them exists. New conversations write
both contact items in the transaction that creates them; this reads every membership once (a paginated Scan: an
offline migration, never a request's cost) and writes the two contact items of each with BatchWriteItem. Until it
has run, users whose only conversations predate the table are ignored by ``watch_presence``, as strangers are.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from chalicelib.adapters.dynamodb import Contact, Membership


def backfill_contacts() -> int:
    """Write a contact item for every membership (the member and the other participant); returns how many."""
    written = 0
    with Contact.batch_write() as batch:
        for membership in Membership.scan(
            attributes_to_get=["user_id", "other_user_id", "created_at"], consistent_read=True
        ):
            batch.save(Contact(membership.user_id, membership.other_user_id, since=membership.created_at))
            written += 1
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    print(f"{backfill_contacts()} contact items written to {Contact.Meta.table_name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
