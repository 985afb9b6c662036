"""What search indexing costs per message, by message length: index items written, BatchWriteItem calls, bytes, and
dollars per million messages (``python -m bench.search_index``; a few seconds, in-process on moto).

Each sample message is written to the messages table on moto, its stream record read by the dev stack's poller
(``dev/streams.py``) and handed to the app's ``on_message_stream``, whose search consumer writes the index: what is
counted is what that consumer sent (BatchWriteItem requests and their items), not a formula. Then the same for an
edit of it (the words swapped) and its deletion. Prices: ``bench/cost.py`` ``PRICES`` (on-demand writes, storage).
Writes ``bench/out/search_index.json`` (``bench/cost.py`` bills its typical message in the asynchronous path) and
its own section of ``bench/RESULTS.md`` (``--no-write``: the JSON only).
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections import Counter
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out", "search_index.json")

WORDS = [
    "yarn",
    "hook",
    "stitch",
    "round",
    "corner",
    "chain",
    "slip",
    "single",
    "double",
    "treble",
    "magic",
    "ring",
    "blanket",
    "granny",
    "square",
    "amigurumi",
    "fox",
    "cotton",
    "acrylic",
    "wool",
    "merino",
    "gauge",
    "tension",
    "border",
    "frog",
    "block",
    "steam",
    "pattern",
    "row",
    "increase",
    "decrease",
    "colour",
    "change",
    "join",
    "seam",
    "weave",
    "ends",
    "bobble",
    "popcorn",
    "puff",
    "shell",
    "cluster",
    "picot",
    "crab",
]


def samples() -> dict[str, str]:
    rng = random.Random(7)
    return {
        "short": "Thanks!",
        "typical": "Hi Alice, which hook size do you use for the border of the granny square blanket? Mine curls.",
        "long": (
            "I finished round 12 but the corners are wavy. I'm using a 4mm hook with DK cotton, and I blocked it with "
            "steam. Should I go down to 3.5mm or reduce the chains in the corner spaces? Also, is the yarn weight in "
            "the pattern aran or worsted? Photo attached of the back."
        ),
        "max (5,000 characters)": " ".join(rng.choice(WORDS) + str(rng.randint(0, 400)) for _ in range(700))[:5000],
    }


def _environment() -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "STAGE": "local",
            "TABLE_PREFIX": "bench-",
        }
    )
    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"):
        os.environ.pop(variable, None)


def measure() -> dict[str, Any]:
    _environment()
    import boto3
    import botocore.client
    from moto import mock_aws

    from bench.cost import ITEM_OVERHEAD_BYTES, PRICES

    calls: Counter[str] = Counter()
    items: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "BatchWriteItem":
            calls["BatchWriteItem"] += 1
            for requests in params["RequestItems"].values():
                for request in requests:
                    items["put" if "PutRequest" in request else "delete"] += 1
        return original(self, operation, params)

    with mock_aws():
        botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]
        try:
            from app import app
            from chalicelib.adapters.dynamodb import Message, SearchTerm
            from chalicelib.adapters.dynamodb.tables import create_tables
            from dev.streams import StreamPoller, sources

            create_tables()
            region = os.environ["AWS_REGION"]
            (source,) = sources(app, boto3.client("dynamodb", region_name=region), failure_queue_url=None)
            poller = StreamPoller(
                app,
                [source],
                streams=boto3.client("dynamodbstreams", region_name=region),
                sqs=None,
                stage="bench",
                region=region,
            )

            def drain() -> tuple[int, int, int]:
                calls.clear()
                items.clear()
                while poller.poll_once(source).received:
                    pass
                return calls["BatchWriteItem"], items["put"], items["delete"]

            rows = []
            for seq, (name, text) in enumerate(samples().items(), start=1):
                message = Message(
                    "conv_bench", seq, id=f"msg_conv_bench_{seq}", sender_id="bob", recipient_id="alice",
                    recipient_receipt=seq, content=text, sent_at=f"2026-12-01T10:00:{seq:02d}.000Z", version=1,
                )  # fmt: skip
                message.save()
                sent = drain()
                stored = [item for item in SearchTerm.scan() if item.key.endswith(f"#{seq:012d}")]
                key_bytes = sum(len(item.scope.encode()) + len(item.key.encode()) + 8 for item in stored)
                edited = " ".join(reversed(text.split())) + " edited"
                message.update(actions=[Message.content.set(edited), Message.version.set(2)])
                edit = drain()
                message.update(actions=[Message.content.set(""), Message.deleted_at.set("2026-12-01T11:00:00.000Z")])
                deletion = drain()
                rows.append(
                    {
                        "message": name,
                        "characters": len(text),
                        "items": sent[1],
                        "batch_write_calls": sent[0],
                        "item_bytes": round(key_bytes / max(len(stored), 1)),
                        "edit_writes": edit[1] + edit[2],
                        "delete_writes": deletion[2],
                    }
                )
        finally:
            botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
    write = PRICES["dynamodb_write"].usd
    storage = PRICES["dynamodb_storage"].usd
    for row in rows:
        # One WRU per item (each is far below 1 KB); storage with DynamoDB's per-item overhead, one month.
        row["usd_per_million_messages"] = round(row["items"] * write * 1e6, 2)
        row["storage_usd_per_million_messages_month"] = round(
            row["items"] * (row["item_bytes"] + ITEM_OVERHEAD_BYTES) * 1e6 / 1024**3 * storage, 2
        )
    return {"rows": rows, "write_price_per_million_wru": write * 1e6, "storage_price_gb_month": storage}


def render(result: dict[str, Any]) -> list[str]:
    lines = [
        "| message | characters | index items written | BatchWriteItem calls | bytes per item | writes for an edit "
        "| writes for a deletion | $ per million messages (writes) | $ per million messages a month (storage) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['message']} | {row['characters']:,} | {row['items']} | {row['batch_write_calls']} | "
            f"{row['item_bytes']} | {row['edit_writes']} | {row['delete_writes']} | "
            f"{row['usd_per_million_messages']:,.2f} | {row['storage_usd_per_million_messages_month']:,.2f} |"
        )
    return lines


SECTION_INTRO = """## Search indexing (`python -m bench.search_index`, in-process on moto)

What the messages stream's search consumer writes per message, counted from its BatchWriteItem requests: each distinct
term is indexed under its prefixes of 2, 3, 5 and 8 characters (`chalicelib/domain/search.py`), for each of the two
participants and once for the conversation (`conversationId` searches), at most 250 buckets per message. One write
request unit per item (each far below 1 KB) at the on-demand price of `bench/cost.py`; storage of one month with
DynamoDB's 100 bytes per item. An edit writes only the difference (here: the same words reordered plus one new word);
a deletion removes every item. The stream's own reads are free for a Lambda trigger; the consumer's invocations (one
per batch of up to 100 records) are a rounding error beside the writes. A search reads one Query page (at most 25
items of about 90 bytes: 1 read unit, strongly consistent) and one BatchGetItem of the messages, conversations
and blocks with the participants found. The typical message's items are the search row of the asynchronous path's
bill (`bench/cost.py` `search_indexing`, its section below). The indexing lag is not measured here: `make bench-load`
measures it under load (its search probe), and through an idle `make dev` a send was found 0.4 s later
(tests/e2e/test_search_stack.py prints it).
"""


def main(argv: list[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    from bench.report import write_section

    parser = argparse.ArgumentParser(prog="python -m bench.search_index", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-write", action="store_true", help="write bench/out/search_index.json only, leave bench/RESULTS.md alone"
    )
    args = parser.parse_args(argv)
    result = measure()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as out:
        json.dump(result, out, indent=2)
    table = "\n".join(render(result))
    print(table)
    if args.no_write:
        return 0
    results = Path(ROOT) / "bench" / "RESULTS.md"
    write_section(results, "search-index", SECTION_INTRO + "\n" + table + "\n", results.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
