"""What running crochet-messaging costs on AWS, per month and per million messages, for a stated usage profile.

``make bench`` counts every operation's units (``bench/meter.py``: DynamoDB read and write request units with the
items' real sizes, transactions at double cost, indexes included; S3 requests by class; frames posted and sent;
the Lambda function each request invokes and the app's own time in it; response and log bytes) and measures each
function's init (``bench/cold_start.py``). This module turns them and a usage profile into a monthly bill at AWS's
published prices (``PRICES``, us-east-1, each with its source and the date it was transcribed).

``python -m bench.cost [--mau 10000] [--results bench/out/results.json]`` recomputes the table from the last
``make bench`` run for another profile; ``python -m bench.cost --async-path`` rewrites only the asynchronous path's
section of ``bench/RESULTS.md`` (modeled, plus search indexing measured afresh by ``bench/search_index.py``), which
needs no ``make bench``.

What the model assumes, besides the profile (all stated in the report):

- Lambda bills the wall time of an invocation: the app's own CPU time measured here (on a full core) scaled by the
  share of a core its memory buys (1,769 MB = one vCPU), plus the time spent waiting on AWS: ``LATENCY_MS`` per
  DynamoDB round trip, per S3 request, and once for a fan-out of posts (they run in parallel); rounded up to the
  millisecond. Memory per function is the ``prod`` stage's in ``.chalice/config.json``.
- ``COLD_START_SHARE`` of invocations start a new container and are billed their init phase too (Lambda bills
  init since August 2025): the measured init CPU time, scaled the same way.
- API Gateway's WebSocket messages are counted both ways (frames clients send and frames posted to them), in 32 KB
  units; REST calls once per request; connection minutes for every connected device.
- Storage is the bill of the twelfth month of this usage: messages are kept, sync's timeline rows expire after
  30 days, idempotency records after a day; DynamoDB adds 100 bytes per item; photos are kept with their
  re-encoded copy and thumbnail.
- List prices without any free tier (the always-free tiers, which would cover most of this at 1,000 MAU, are
  noted apart); no reserved capacity, no Savings Plans, no support plan.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = ROOT / "bench" / "out" / "results.json"
SEARCH_INDEX_JSON = ROOT / "bench" / "out" / "search_index.json"  # python -m bench.search_index's measurement
SEARCH_INDEX_ROW = "typical"  # the message of that measurement the asynchronous path bills

PRICES_TRANSCRIBED = "2026-12-01"
PRICES_NOTE = (
    "us-east-1 list prices as AWS's pricing pages publish them, transcribed on the date given (this machine cannot "
    "reach the pages: check them before quoting a figure)"
)


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str


PRICES: dict[str, Price] = {
    "dynamodb_write": Price(
        0.625 / 1e6,
        "per write request unit, on-demand (since the 50 % cut of 2024-11-01)",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "dynamodb_read": Price(
        0.125 / 1e6, "per read request unit, on-demand", "https://aws.amazon.com/dynamodb/pricing/on-demand/"
    ),
    "dynamodb_storage": Price(
        0.25, "per GB-month, Standard table class", "https://aws.amazon.com/dynamodb/pricing/on-demand/"
    ),
    "lambda_request": Price(0.20 / 1e6, "per request", "https://aws.amazon.com/lambda/pricing/"),
    "lambda_gb_second": Price(
        0.0000166667, "per GB-second, x86, first 6 billion GB-s a month", "https://aws.amazon.com/lambda/pricing/"
    ),
    "apigw_rest": Price(
        3.50 / 1e6, "per REST API call, first 333 million a month", "https://aws.amazon.com/api-gateway/pricing/"
    ),
    "apigw_ws_message": Price(
        1.00 / 1e6,
        "per WebSocket message (32 KB units, both ways), first billion a month",
        "https://aws.amazon.com/api-gateway/pricing/",
    ),
    "apigw_ws_minute": Price(0.25 / 1e6, "per connection minute", "https://aws.amazon.com/api-gateway/pricing/"),
    "s3_put": Price(0.005 / 1000, "per PUT, COPY, POST or LIST request", "https://aws.amazon.com/s3/pricing/"),
    "s3_get": Price(0.0004 / 1000, "per GET or other request", "https://aws.amazon.com/s3/pricing/"),
    "s3_storage": Price(0.023, "per GB-month, S3 Standard, first 50 TB", "https://aws.amazon.com/s3/pricing/"),
    "logs_ingest": Price(
        0.50, "per GB of logs ingested (Standard class)", "https://aws.amazon.com/cloudwatch/pricing/"
    ),
    "data_out": Price(
        0.09,
        "per GB to the internet, after the first 100 GB a month (free for every account)",
        "https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer",
    ),
}
FREE_TIERS = (
    "Always free, not subtracted above: Lambda 1 million requests and 400,000 GB-seconds a month, DynamoDB 25 GB "
    "of storage, CloudWatch Logs 5 GB of ingestion, 100 GB of data transfer out. API Gateway and S3 are free only "
    "in an account's first 12 months."
)

# A hosted chat API's published price for the same MAU (research/chat-api-features.md has no prices: these are
# from the vendors' pricing pages, as transcribed by api-evangelist's pricing harvests).
HOSTED = {
    "twilio": {
        "name": "Twilio Conversations",
        "plan": "pay as you go: first 200 monthly active users free, $0.05 each from 201 to 5,000",
        "source": "https://www.twilio.com/en-us/messaging/pricing/conversations-api (read 2026-09-20)",
        "free_users": 200,
        "per_user": 0.05,
    },
    "sendbird": {
        "name": "Sendbird Chat",
        "plan": "Starter, 5K MAU tier, billed monthly: $399/month (the smallest paid tier)",
        "source": "https://sendbird.com/pricing/chat (as listed 2026-05-04)",
        "monthly": 399.0,
    },
}

LATENCY_MS = {"dynamodb": 5.0, "dynamodb_transaction": 10.0, "s3": 20.0, "fan_out": 15.0}
FULL_VCPU_MB = 1769
COLD_START_SHARE = 0.01
LAMBDA_LOG_BYTES = 260  # the START, END and REPORT lines Lambda writes for every invocation
ITEM_OVERHEAD_BYTES = 100  # DynamoDB's per-item storage overhead
WS_MESSAGE_BYTES = 32 * 1024
GB = 1024**3


@dataclass
class Profile:
    """Who uses the service how much (per monthly active user)."""

    mau: int = 1000
    days: int = 30
    messages_per_day: float = 20.0  # sent over the socket to a conversation partner
    devices: float = 1.5  # connected devices per user ("one or two"); the recipient's too
    session_minutes: float = 30.0  # each device, each day
    ping_every_minutes: float = 4.0  # dev/web/socket.js: API Gateway closes idle sockets after 10 minutes
    typing_frames_per_message: float = 2.0  # typing_start and typing_stop
    reads_per_day: float = 10.0  # mark a conversation read
    lists_per_day: float = 3.0  # the inbox with totalUnread
    opens_per_day: float = 4.0  # a conversation in detail (REST) and joined on the socket
    history_pages_per_day: float = 1.0
    pattern_opens_per_month: float = 2.0  # buyers opening a pattern conversation that exists
    pattern_creates_per_month: float = 1.0
    photos_per_month: float = 4.0
    photo_views: float = 1.5  # each photo seen on the recipient's devices (display copy and thumbnail)
    stored_months: int = 12  # storage billed as in the twelfth month

    def describe(self) -> str:
        return (
            f"{self.mau:,} monthly active users; each sends {self.messages_per_day:g} messages a day over the socket "
            f"to a partner on one or two devices (half each), has {self.devices:g} devices connected "
            f"{self.session_minutes:g} minutes a day (pinging every {self.ping_every_minutes:g} minutes), opens "
            f"the inbox {self.lists_per_day:g} times and {self.opens_per_day:g} conversations a day, marks "
            f"{self.reads_per_day:g} conversations read, syncs on every connect, sends "
            f"{self.photos_per_month:g} photos a month (2 MB, 12 megapixels); storage as in month "
            f"{self.stored_months}"
        )

    def operations(self) -> dict[str, float]:
        """How often each measured operation runs per user per month."""
        d = self.days
        connects = self.devices * d
        sends = self.messages_per_day * d
        return {
            "socket connect": connects,
            "socket disconnect": connects,
            "ping": connects * math.floor(self.session_minutes / self.ping_every_minutes),
            "sync": connects,
            "socket send, recipient on 1 device": sends / 2,
            "socket send, recipient on 2 devices": sends / 2,
            "typing": sends * self.typing_frames_per_message,
            "mark conversation read": self.reads_per_day * d,
            "conversations + totalUnread": self.lists_per_day * d,
            "conversation detail": self.opens_per_day * d,
            "join": self.opens_per_day * d,
            "history page": self.history_pages_per_day * d,
            "pattern get-or-create (existing)": self.pattern_opens_per_month,
            "pattern get-or-create (create)": self.pattern_creates_per_month,
            "photo upload request": self.photos_per_month,
            "photo processing": self.photos_per_month,
            "send with photo": self.photos_per_month,
        }

    def messages(self) -> float:
        """Messages sent per user per month (the denominator of $ per million messages)."""
        return self.messages_per_day * self.days + self.photos_per_month


@dataclass
class Units:
    """What one operation costs, counted by ``make bench`` (``bench/run.py`` fills it from the meter)."""

    name: str
    round_trips: int = 0
    transactions: int = 0
    s3_calls: int = 0
    read_units: float = 0.0
    write_units: float = 0.0
    s3_put: int = 0
    s3_get: int = 0
    posts: int = 0
    post_bytes: list[int] = field(default_factory=list)
    client_frames: list[int] = field(default_factory=list)
    invocations: dict[str, int] = field(default_factory=dict)  # function -> invocations
    response_bytes: int = 0
    log_bytes: int = 0
    stored_bytes: dict[str, int] = field(default_factory=dict)  # table -> bytes of items the operation created
    stored_items: dict[str, int] = field(default_factory=dict)
    own_ms: float = 0.0  # the app's own CPU time per request (measured p50, moto's CPU time taken out)
    client_upload_bytes: int = 0  # what the client itself puts in S3 (a photo's original)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Units:
        return cls(**data)


@dataclass
class Line:
    service: str
    item: str
    quantity: float
    unit: str
    usd: float


def _ws_messages(sizes: list[int]) -> int:
    return sum(max(1, math.ceil(size / WS_MESSAGE_BYTES)) for size in sizes)


def _scaled(ms: float, memory_mb: int) -> float:
    """Time on a full core -> time on the core share ``memory_mb`` buys."""
    return ms * max(1.0, FULL_VCPU_MB / memory_mb)


def billed_ms(units: Units, memory_mb: int) -> float:
    waiting = (units.round_trips - units.transactions) * LATENCY_MS["dynamodb"]
    waiting += units.transactions * LATENCY_MS["dynamodb_transaction"] + units.s3_calls * LATENCY_MS["s3"]
    waiting += LATENCY_MS["fan_out"] if units.posts else 0.0
    return math.ceil(_scaled(units.own_ms, memory_mb) + waiting)


# Tables whose rows expire: how long an item lives, in days (chalicelib/settings.py's defaults).
RETENTION_DAYS = {"feeds": 30, "idempotency": 1, "rate_limits": 0, "connections": 0}


@dataclass
class Bill:
    profile: Profile
    lines: list[Line]
    per_operation: list[dict[str, Any]]
    cold_start_ms: dict[str, float]
    memory_mb: dict[str, int]

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    @property
    def messages(self) -> float:
        return self.profile.messages() * self.profile.mau

    def per_million_messages(self) -> float:
        return self.total / self.messages * 1e6

    def hosted(self) -> dict[str, float]:
        twilio = HOSTED["twilio"]
        return {
            "twilio": max(self.profile.mau - twilio["free_users"], 0) * twilio["per_user"],
            "sendbird": HOSTED["sendbird"]["monthly"] if self.profile.mau <= 5000 else float("nan"),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": asdict(self.profile),
            "lines": [asdict(line) for line in self.lines],
            "total_usd": round(self.total, 2),
            "per_user_usd": round(self.total / self.profile.mau, 4),
            "per_million_messages_usd": round(self.per_million_messages(), 2),
            "messages": self.messages,
            "hosted_usd": self.hosted(),
            "per_operation": self.per_operation,
            "cold_start_ms": self.cold_start_ms,
            "memory_mb": self.memory_mb,
            "prices_transcribed": PRICES_TRANSCRIBED,
        }


def function_memory(stage: str = "prod") -> dict[str, int]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    scoped = config["stages"][stage]
    default = int(scoped.get("lambda_memory_size", config.get("lambda_memory_size", 128)))
    return {
        name: int(settings.get("lambda_memory_size", default))
        for name, settings in scoped.get("lambda_functions", {}).items()
    }


def bill(units: dict[str, Units], profile: Profile, init_cpu_ms: dict[str, float] | None = None) -> Bill:
    """The monthly bill of ``profile`` from the operations' ``units`` (``init_cpu_ms``: function -> measured init)."""
    memory = function_memory()
    init_cpu_ms = init_cpu_ms or {}
    users = profile.mau
    totals: dict[str, float] = {}

    def add(key: str, amount: float) -> None:
        totals[key] = totals.get(key, 0.0) + amount

    per_operation = []
    stored: dict[str, float] = {}
    stored_items: dict[str, float] = {}
    for name, per_user in profile.operations().items():
        op = units.get(name)
        if op is None:
            raise KeyError(f"no measured units for {name!r}: run make bench")
        count = per_user * users
        functions = op.invocations or {"api_handler": 1}
        function = max(functions, key=functions.get)
        ms = billed_ms(op, memory.get(function, 1024))
        invocations = sum(functions.values())
        ws_in = _ws_messages(op.client_frames)
        ws_out = _ws_messages(op.post_bytes)
        add("dynamodb_read", op.read_units * count)
        add("dynamodb_write", op.write_units * count)
        add("lambda_request", invocations * count)
        add("lambda_gb_second", invocations * count * ms / 1000 * memory.get(function, 1024) / 1024)
        add("apigw_rest", functions.get("api_handler", 0) * count)
        add("apigw_ws_message", (ws_in + ws_out) * count)
        add("s3_put", op.s3_put * count)
        add("s3_get", op.s3_get * count)
        add("logs_ingest", (op.log_bytes + LAMBDA_LOG_BYTES * invocations) * count / GB)
        add("data_out", (op.response_bytes + sum(op.post_bytes)) * count / GB)
        for table, size in op.stored_bytes.items():
            stored[table] = stored.get(table, 0.0) + size * count
            stored_items[table] = stored_items.get(table, 0.0) + op.stored_items.get(table, 0) * count
        per_operation.append(
            {
                "operation": name,
                "per_user_month": round(per_user, 1),
                "function": function,
                "memory_mb": memory.get(function, 1024),
                "billed_ms": ms,
                "read_units": op.read_units,
                "write_units": op.write_units,
                "ws_messages": ws_in + ws_out,
                "s3_requests": op.s3_put + op.s3_get,
                "log_bytes": op.log_bytes,
            }
        )
        for fn, n in functions.items():
            add(f"cold:{fn}", n * count * COLD_START_SHARE)
    # Cold starts: the init phase of COLD_START_SHARE of the invocations, billed like the invocation itself.
    cold_ms: dict[str, float] = {}
    for key in [k for k in totals if k.startswith("cold:")]:
        fn = key.split(":", 1)[1]
        starts = totals.pop(key)
        cold_ms[fn] = math.ceil(_scaled(init_cpu_ms.get(fn, 0.0), memory.get(fn, 1024)))
        add("lambda_init_gb_second", starts * cold_ms[fn] / 1000 * memory.get(fn, 1024) / 1024)
    # The client's own S3 requests: the upload (a POST) and each view of the display copy and the thumbnail.
    photos = profile.photos_per_month * users
    served = units["photo processing"].stored_bytes.get("s3", 0)  # the display copy and the thumbnail
    original = units["photo upload request"].client_upload_bytes
    add("s3_put", photos)
    add("s3_get", photos * profile.photo_views * 2)
    add("data_out", photos * profile.photo_views * served / GB)
    add("s3_storage", photos * profile.stored_months * (served + original) / GB)
    # Connection minutes of every connected device.
    add("apigw_ws_minute", users * profile.devices * profile.session_minutes * profile.days)
    # DynamoDB storage in the last month: what is kept accumulates, what expires is held for its lifetime.
    storage = 0.0
    for table, size in stored.items():
        if table == "s3":
            continue
        retention = RETENTION_DAYS.get(table)
        months = profile.stored_months if retention is None else retention / profile.days
        storage += (size + ITEM_OVERHEAD_BYTES * stored_items.get(table, 0.0)) * months
    add("dynamodb_storage", storage / GB)
    free_data = 100.0
    data_out = totals.pop("data_out", 0.0)
    lines = [
        Line("DynamoDB", "reads", totals.get("dynamodb_read", 0.0), "RRU", 0.0),
        Line("DynamoDB", "writes (tables and indexes)", totals.get("dynamodb_write", 0.0), "WRU", 0.0),
        Line("DynamoDB", "storage", totals.get("dynamodb_storage", 0.0), "GB-month", 0.0),
        Line("Lambda", "requests", totals.get("lambda_request", 0.0), "requests", 0.0),
        Line("Lambda", "duration", totals.get("lambda_gb_second", 0.0), "GB-s", 0.0),
        Line(
            "Lambda",
            f"init of {COLD_START_SHARE:.0%} cold starts",
            totals.get("lambda_init_gb_second", 0.0),
            "GB-s",
            0.0,
        ),
        Line("API Gateway", "REST calls", totals.get("apigw_rest", 0.0), "calls", 0.0),
        Line("API Gateway", "WebSocket messages", totals.get("apigw_ws_message", 0.0), "messages", 0.0),
        Line("API Gateway", "WebSocket connection minutes", totals.get("apigw_ws_minute", 0.0), "minutes", 0.0),
        Line("S3", "PUT/POST requests", totals.get("s3_put", 0.0), "requests", 0.0),
        Line("S3", "GET requests", totals.get("s3_get", 0.0), "requests", 0.0),
        Line("S3", "storage", totals.get("s3_storage", 0.0), "GB-month", 0.0),
        Line("CloudWatch Logs", "ingestion", totals.get("logs_ingest", 0.0), "GB", 0.0),
        Line("Data transfer", "out to the internet", data_out, "GB", 0.0),
    ]
    keys = [
        "dynamodb_read", "dynamodb_write", "dynamodb_storage", "lambda_request", "lambda_gb_second",
        "lambda_gb_second", "apigw_rest", "apigw_ws_message", "apigw_ws_minute", "s3_put", "s3_get",
        "s3_storage", "logs_ingest", "data_out",
    ]  # fmt: skip
    for line, key in zip(lines, keys, strict=True):
        quantity = max(line.quantity - free_data, 0.0) if key == "data_out" else line.quantity
        line.usd = quantity * PRICES[key].usd
    return Bill(profile, lines, per_operation, cold_ms, memory)


def render(
    bill_: Bill, *, headline_only: bool = False, search: dict[str, Any] | None = None, async_path: bool = True
) -> list[str]:
    """The cost section of RESULTS.md (``async_path=False``: without the asynchronous path's table, which
    ``make bench`` writes as a section of its own)."""
    hosted = bill_.hosted()
    profile = bill_.profile
    headline = (
        f"**${bill_.total:,.2f} a month** for {profile.mau:,} monthly active users "
        f"(${bill_.total / profile.mau:.3f} per user, **${bill_.per_million_messages():,.2f} per million messages**; "
        f"{bill_.messages:,.0f} messages a month), against {HOSTED['twilio']['name']} ${hosted['twilio']:,.2f} "
        f"({HOSTED['twilio']['plan']}) and {HOSTED['sendbird']['name']} ${hosted['sendbird']:,.0f} "
        f"({HOSTED['sendbird']['plan']})"
    )
    if headline_only:
        return [headline]
    lines = [
        headline + ".",
        "",
        f"Profile: {profile.describe()}.",
        "",
        "| service | what | quantity a month | price | $ a month |",
        "|---|---|---|---|---|",
    ]
    keys = [
        "dynamodb_read", "dynamodb_write", "dynamodb_storage", "lambda_request", "lambda_gb_second",
        "lambda_gb_second", "apigw_rest", "apigw_ws_message", "apigw_ws_minute", "s3_put", "s3_get",
        "s3_storage", "logs_ingest", "data_out",
    ]  # fmt: skip
    for line, key in zip(bill_.lines, keys, strict=True):
        price = PRICES[key]
        lines.append(
            f"| {line.service} | {line.item} | {line.quantity:,.1f} {line.unit} | {_price(price)} | {line.usd:,.2f} |"
        )
    lines += [
        f"| **total** | | | | **{bill_.total:,.2f}** |",
        "",
        f"{FREE_TIERS}",
        "",
        "Per operation (what `make bench` counted at the largest size, and what the model bills):",
        "",
        "| operation | per user a month | function (memory) | billed ms | RRU | WRU | WebSocket messages "
        "| S3 requests | log bytes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for op in bill_.per_operation:
        lines.append(
            f"| {op['operation']} | {op['per_user_month']:g} | {op['function']} ({op['memory_mb']} MB) | "
            f"{op['billed_ms']} | {op['read_units']:g} | {op['write_units']:g} | {op['ws_messages']} | "
            f"{op['s3_requests']} | {op['log_bytes']:,} |"
        )
    cold = ", ".join(f"{fn} {ms:.0f} ms" for fn, ms in sorted(bill_.cold_start_ms.items()))
    lines += [
        "",
        f"Billed init per cold start (measured init CPU, scaled to the function's memory): {cold}.",
        "",
        "Assumptions: wait per DynamoDB round trip "
        f"{LATENCY_MS['dynamodb']:g} ms ({LATENCY_MS['dynamodb_transaction']:g} ms for a transaction), per S3 request "
        f"{LATENCY_MS['s3']:g} ms, {LATENCY_MS['fan_out']:g} ms for a fan-out of posts (parallel); the app's own time "
        f"scaled by {FULL_VCPU_MB} MB / memory (Lambda's CPU share); {COLD_START_SHARE:.0%} of invocations cold; "
        f"{LAMBDA_LOG_BYTES} bytes of Lambda's own log lines per invocation; memory of the `prod` stage. Prices: "
        f"{PRICES_NOTE} ({PRICES_TRANSCRIBED}); sources: "
        + ", ".join(sorted({f"<{p.source}>" for p in PRICES.values()}))
        + f". Hosted: {HOSTED['twilio']['source']}; {HOSTED['sendbird']['source']}.",
        *(["", *render_async_path(search)] if async_path else []),
    ]
    return lines


# --- issue 18: the asynchronous path after a send (modeled from its calls, not measured by make bench) ----------

# Prices the asynchronous path adds (same transcription date as PRICES).
ASYNC_PRICES: dict[str, Price] = {
    "sqs_request": Price(
        0.40 / 1e6, "per SQS request (64 KB chunks), standard queue", "https://aws.amazon.com/sqs/pricing/"
    ),
    "ses_email": Price(0.10 / 1000, "per email sent (SES outbound)", "https://aws.amazon.com/ses/pricing/"),
}
STREAM_BATCH = 100  # on_message_stream's batch size (app.py): one invocation per 100 records at most
ASYNC_INVOCATION_MS = 30  # billed ms of a consumer invocation that makes a few AWS calls (256 MB)


@dataclass(frozen=True)
class AsyncStep:
    """One piece of the work a new message causes after its send, per message."""

    what: str
    read_units: float = 0.0
    write_units: float = 0.0
    sqs_requests: float = 0.0
    lambda_invocations: float = 0.0
    emails: float = 0.0

    def usd(self, memory_mb: int = 256) -> float:
        gb_seconds = self.lambda_invocations * ASYNC_INVOCATION_MS / 1000 * memory_mb / 1024
        return (
            self.read_units * PRICES["dynamodb_read"].usd
            + self.write_units * PRICES["dynamodb_write"].usd
            + self.sqs_requests * ASYNC_PRICES["sqs_request"].usd
            + self.lambda_invocations * PRICES["lambda_request"].usd
            + gb_seconds * PRICES["lambda_gb_second"].usd
            + self.emails * ASYNC_PRICES["ses_email"].usd
        )


def search_indexing(measurement: dict[str, Any], row: str = SEARCH_INDEX_ROW) -> AsyncStep:
    """The search consumer's writes for one message, from ``python -m bench.search_index``'s measurement (its
    ``rows``: index items written per message, counted from the consumer's BatchWriteItem requests on moto). One write
    request unit per item (each is far below 1 KB); its invocation is the stream consumer's row, shared by every
    consumer of the batch; the index's storage is billed by the month, not per message (the search-index section)."""
    found = {r["message"]: r for r in measurement["rows"]}
    if row not in found:
        raise KeyError(f"no {row!r} message in the search index measurement (rows: {', '.join(found)})")
    measured = found[row]
    return AsyncStep(
        f"search: index items of a {row} {measured['characters']:,}-character message (measured: `bench.search_index`)",
        write_units=float(measured["items"]),
    )


def load_search_index(path: Path = SEARCH_INDEX_JSON, *, measure: bool = True) -> dict[str, Any] | None:
    """The last ``python -m bench.search_index`` measurement (``bench/out/search_index.json``); with ``measure``, a
    fresh one when there is none (a subprocess: it runs the app on its own moto, a few seconds)."""
    if measure and not path.exists():
        measure_search_index()
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def measure_search_index() -> dict[str, Any]:
    """Run ``python -m bench.search_index --no-write`` (its JSON only, RESULTS.md left alone) and read what it wrote."""
    import subprocess

    subprocess.run([sys.executable, "-m", "bench.search_index", "--no-write"], cwd=ROOT, check=True)
    data: dict[str, Any] = json.loads(SEARCH_INDEX_JSON.read_text())
    return data


def async_path(messages_per_window: float = 1.0, search: dict[str, Any] | None = None) -> list[AsyncStep]:
    """What one new message costs after its send (chalicelib/entrypoints/message_stream.py's consumers and the SQS
    consumers of issue 18). ``messages_per_window``: messages one digest window absorbs (1: every message opens its
    own window, the worst case; a burst of 5 shares one). ``search``: ``python -m bench.search_index``'s measurement,
    whose typical message's index items are the search row (left out without one). Counted from the code's calls:

    * stream: 1/100 of an invocation (batches of up to 100 records);
    * digest window: one conditional UpdateItem of the recipient's user item (about 1 KB: 1 WRU, charged also when
      the condition fails); per window: the delayed SendMessage, the consumer's receive + delete, GetItem (1 RRU,
      strongly consistent), two UpdateItems (claim, clear), the Query of recent memberships (0.5 RRU per 4 KB,
      eventually consistent, ~4 KB) and one BatchGetItem (senders, patterns, last messages: ~3 RRU), one email;
    * webhooks: two events for a conversation's first message, one otherwise (counted as one): a SendMessageBatch
      share (1/10), receive + delete, one invocation each;
    * Web Push, for a recipient with no socket in the room (the worst case: every message pushed): the stream
      batch's BatchGetItem of the recipient's profile and membership (2 RRU), a SendMessageBatch share, receive +
      delete, one on_push invocation, its two Queries (subscriptions, sent markers: 1 RRU each) and one PutItem of
      the sent marker per browser (1 WRU). The push services themselves charge nothing.
    * search indexing: the index items the search consumer writes for the message (``search_indexing``).
    """
    window = 1.0 / messages_per_window
    steps = [
        AsyncStep("stream consumer invocation (share of a batch of 100)", lambda_invocations=1 / STREAM_BATCH),
        AsyncStep("digest: open the window (conditional UpdateItem)", write_units=1.0),
        AsyncStep(
            "digest: delayed message, worker, reads, email (per window)",
            read_units=window * (1.0 + 0.5 + 3.0),
            write_units=window * 2.0,
            sqs_requests=window * 3.0,
            lambda_invocations=window,
            emails=window,
        ),
        AsyncStep("webhook: queue, deliver (one event)", sqs_requests=0.1 + 2.0, lambda_invocations=1.0),
        AsyncStep("push: the stream batch's reads (recipient's profile and membership)", read_units=2.0),
        AsyncStep(
            "push: queue, job, subscriptions, sent marker (recipient offline, one browser)",
            read_units=2.0,
            write_units=1.0,
            sqs_requests=0.1 + 2.0,
            lambda_invocations=1.0,
        ),
    ]
    if search is not None:
        steps.append(search_indexing(search))
    return steps


def render_async_path(search: dict[str, Any] | None = None) -> list[str]:
    """The rows of RESULTS.md's asynchronous-path table (per message and per million messages); ``search``: as for
    ``async_path``."""
    lines = [
        "Asynchronous path per message (issue 18: email digests, webhooks and Web Push after the send; issue 17: "
        "search indexing; the send keeps its round trips). Modeled from the code's calls at the prices above, not "
        "measured by `make bench`; the search row's index items are counted by `python -m bench.search_index`"
        + ("" if search is not None else " (not measured this time: the row is missing)")
        + ":",
        "",
        "| step | RRU | WRU | SQS requests | Lambda invocations | emails | $ per million messages |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, per_window in (("every message its own window", 1.0), ("5 messages per window", 5.0)):
        steps = async_path(per_window, search)
        for step in steps:
            lines.append(
                f"| {step.what} | {step.read_units:g} | {step.write_units:g} | {step.sqs_requests:g} | "
                f"{step.lambda_invocations:g} | {step.emails:g} | {step.usd() * 1e6:,.2f} |"
            )
        total = sum(step.usd() for step in steps) * 1e6
        lines.append(f"| **total, {label}** | | | | | | **{total:,.2f}** |")
    return lines


def _price(price: Price) -> str:
    if price.usd < 0.001:
        return f"${price.usd * 1e6:.3g} per million ({price.unit})"
    return f"${price.usd:g} ({price.unit})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS_JSON, help="make bench's results.json")
    parser.add_argument("--mau", type=int, default=Profile.mau, help="monthly active users (1000)")
    parser.add_argument("--messages-per-day", type=float, default=Profile.messages_per_day)
    parser.add_argument(
        "--async-path",
        action="store_true",
        help="only the asynchronous path: measure search indexing afresh (python -m bench.search_index --no-write) "
        "and rewrite bench/RESULTS.md's async-path section (no make bench needed)",
    )
    parser.add_argument("--no-write", action="store_true", help="with --async-path: print only")
    args = parser.parse_args(argv)
    if args.async_path:
        from bench.report import PREAMBLE, write_section

        text = "\n".join(render_async_path(measure_search_index())) + "\n"
        print(text)
        if not args.no_write:
            write_section(ROOT / "bench" / "RESULTS.md", "async-path", text, PREAMBLE)
        return 0
    if not args.results.exists():
        print(f"bench.cost: no {args.results}: run make bench first", file=sys.stderr)
        return 2
    document = json.loads(args.results.read_text())
    units = {name: Units.from_json(data) for name, data in document["cost"]["units"].items()}
    profile = Profile(mau=args.mau, messages_per_day=args.messages_per_day)
    search = document.get("search_index") or load_search_index()
    print("\n".join(render(bill(units, profile, document["cost"].get("init_cpu_ms")), search=search)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
