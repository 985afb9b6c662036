"""DynamoDB stream event sources for the dev stack: on AWS, Lambda polls a table's stream and invokes the app's
``@app.on_dynamodb_record`` handler with batches of its records; moto runs no Lambda.

``StreamPoller`` does it for each of the app's stream handlers (``sources(app, ...)``: the table its registration
names, the stream moto gave that table, and the event source settings ``infrastructure/deploy.py`` STREAM_SOURCES
gives the mapping on AWS), on its own thread, the way the event source mapping does:

* each poll takes a **fresh** ``AFTER_SEQUENCE_NUMBER`` iterator after the last record handled (``TRIM_HORIZON``
  before the first): after a cancelled transaction moto swaps the shard for a copy, and a reader that follows
  ``NextShardIterator`` then gets a record of the cancelled transaction and misses later writes;
* reads happen under the lock moto's writes take (``dev.moto_isolation``), so a batch never ends inside a transaction;
* the handler's partial batch response (``batchItemFailures``, ``ReportBatchItemFailures``) moves the position to
  just before the first failed record, and the batch is retried from there; a handler that raises is retried with
  half the batch (``BisectBatchOnFunctionError``);
* after ``max_retries`` retries of the same record the batch from it on is given up: Lambda's on-failure record
  (``DDBStreamBatchInfo``: shard, first and last sequence numbers) goes to the stream-failures queue on moto's SQS,
  and polling goes on after it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalice.app import DynamoDBEventConfig
from chalice.local import LambdaContext

from dev.pollers import SourcePollers

if TYPE_CHECKING:
    from chalice import Chalice

logger = logging.getLogger(__name__)

IDLE_SECONDS = 0.2  # between polls of an empty stream: how soon a send is indexed, and stop() noticed
LAMBDA_MEMORY_MB = 256
LAMBDA_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Source:
    """One stream, the handler its records go to, and how its event source mapping retries."""

    handler_name: str
    stream_arn: str
    batch_size: int = 100
    max_retries: int = 3
    bisect_on_error: bool = True
    failure_queue_url: str | None = None


@dataclass
class _Shard:
    after: str | None = None  # the last sequence number handled (None: from the start of the shard)
    failing: str | None = None  # the first record of the batch being retried
    attempts: int = 0
    limit: int | None = None  # a bisected batch's size


@dataclass
class Outcome:
    """What one poll did: records handed over, records done with, batches given up (sent to the failure queue)."""

    received: int = 0
    handled: int = 0
    given_up: list[dict[str, Any]] = field(default_factory=list)


def table_of(stream_arn: str) -> str:
    """The table name in a stream (or table) ARN: ``arn:aws:dynamodb:r:a:table/<name>/stream/<label>``."""
    return stream_arn.split(":table/", 1)[1].split("/", 1)[0]


def sources(app: Chalice, dynamodb: Any, *, failure_queue_url: str | None) -> list[Source]:
    """The app's ``@app.on_dynamodb_record`` registrations, on the streams moto gave their tables, with the event
    source settings of infrastructure/deploy.py (the tables must exist, with their streams)."""
    from infrastructure.deploy import STREAM_SOURCES

    found = []
    for config in app.event_sources:
        if not isinstance(config, DynamoDBEventConfig):
            continue
        table = dynamodb.describe_table(TableName=table_of(config.stream_arn))["Table"]
        settings = STREAM_SOURCES.get(config.name)
        found.append(
            Source(
                config.name,
                table["LatestStreamArn"],
                batch_size=config.batch_size,
                max_retries=settings.max_retries if settings else 3,
                bisect_on_error=settings.bisect_on_error if settings else True,
                failure_queue_url=failure_queue_url,
            )
        )
    return found


def stream_event(records: list[dict[str, Any]], stream_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's DynamoDB event source hands a function, for records as GetRecords returns them (boto3
    parses ``ApproximateCreationDateTime`` into a datetime; Lambda sends epoch seconds)."""
    out = []
    for record in records:
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = created.timestamp()
        out.append(
            {
                "eventID": record.get("eventID"),
                "eventName": record.get("eventName"),
                "eventVersion": record.get("eventVersion", "1.1"),
                "eventSource": "aws:dynamodb",
                "awsRegion": region,
                "dynamodb": dynamodb,
                "eventSourceARN": stream_arn,
            }
        )
    return {"Records": out}


def _arrival(record: dict[str, Any]) -> str:
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    moment = created if isinstance(created, datetime) else datetime.now(UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class StreamPoller(SourcePollers):
    """Invokes the app's stream handlers for the records of their streams, between ``start()`` and ``stop()``."""

    thread_prefix = "stream"

    def __init__(
        self,
        app: Chalice,
        stream_sources: list[Source],
        *,
        streams: Any,
        sqs: Any,
        stage: str,
        region: str,
        lock: Callable[[], AbstractContextManager[Any]] = nullcontext,
    ) -> None:
        super().__init__(stream_sources)
        self.app = app
        self.streams = streams
        self.sqs = sqs
        self.stage = stage
        self.region = region
        self.lock = lock
        self._shards: dict[tuple[str, str], _Shard] = {}

    def start(self) -> None:
        super().start()
        names = ", ".join(f"{s.handler_name} ({table_of(s.stream_arn)})" for s in self.sources)
        logger.info("DynamoDB stream event sources emulated for %s", names or "no handler")

    def _run(self, source: Source) -> None:
        while not self._stopping.is_set():
            try:
                outcome = self.poll_once(source)
            except Exception:  # the stream itself failed (moto stopping): wait, try again
                if not self._stopping.wait(IDLE_SECONDS * 5):
                    logger.exception("polling %s failed", source.stream_arn)
                continue
            if not outcome.received:
                self._stopping.wait(IDLE_SECONDS)

    def _shard_ids(self, source: Source) -> Iterator[str]:
        description = self.streams.describe_stream(StreamArn=source.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            yield shard["ShardId"]

    def poll_once(self, source: Source) -> Outcome:
        """One batch of each shard (if it has records) and one invocation for it."""
        outcome = Outcome()
        for shard_id in self._shard_ids(source):
            state = self._shards.setdefault((source.stream_arn, shard_id), _Shard())
            position: dict[str, Any] = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": state.after}
                if state.after
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            limit = min(state.limit or source.batch_size, source.batch_size, 1000)
            with self.lock():
                iterator = self.streams.get_shard_iterator(StreamArn=source.stream_arn, ShardId=shard_id, **position)
                records = self.streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=limit)["Records"]
            if records:
                outcome.received += len(records)
                self._invoke(source, shard_id, state, records, outcome)
        return outcome

    def _invoke(
        self, source: Source, shard_id: str, state: _Shard, records: list[dict[str, Any]], outcome: Outcome
    ) -> None:
        function_name = f"{self.app.app_name}-{self.stage}-{source.handler_name}"
        context = LambdaContext(function_name, LAMBDA_MEMORY_MB, LAMBDA_TIMEOUT_SECONDS * 1000)
        sequences = [record["dynamodb"]["SequenceNumber"] for record in records]
        raised = False
        try:
            response = self.app.handler_map[source.handler_name](
                stream_event(records, source.stream_arn, self.region), context
            )
            failures = {
                str(item.get("itemIdentifier"))
                for item in ((response or {}).get("batchItemFailures") or [])
                if isinstance(item, dict)
            }
            # An identifier that names no record of the batch fails the whole batch, as on AWS.
            first = min((sequences.index(s) for s in failures if s in sequences), default=0 if failures else None)
        except Exception:
            logger.exception("%s failed: its batch of %d record(s) is retried", function_name, len(records))
            raised, first = True, 0
        if first is None:
            state.after, state.failing, state.attempts, state.limit = sequences[-1], None, 0, None
            outcome.handled += len(records)
            logger.info("%s handled %d stream record(s)", function_name, len(records))
            return
        if first > 0:
            state.after = sequences[first - 1]  # the records before the first failure are done
            outcome.handled += first
        if state.failing != sequences[first]:
            state.failing, state.attempts = sequences[first], 0
        state.attempts += 1
        if raised and source.bisect_on_error and len(records) > 1:
            state.limit = max(1, len(records) // 2)
        if state.attempts <= source.max_retries:
            return
        given_up = records[first:]
        info = self._give_up(source, shard_id, given_up, state.attempts, function_name, raised)
        outcome.given_up.append(info)
        state.after, state.failing, state.attempts, state.limit = sequences[-1], None, 0, None

    def _give_up(
        self,
        source: Source,
        shard_id: str,
        records: list[dict[str, Any]],
        attempts: int,
        function_name: str,
        raised: bool,
    ) -> dict[str, Any]:
        """Lambda's on-failure record for a stream batch, sent to the failure queue."""
        info = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{self.region}:000000000000:function:{function_name}",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled" if raised else "",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _arrival(records[0]),
                "approximateArrivalOfLastRecord": _arrival(records[-1]),
                "batchSize": len(records),
                "streamArn": source.stream_arn,
            },
        }
        logger.error(
            "%s gave up on %d stream record(s) after %d attempts: sent to the failure queue",
            function_name,
            len(records),
            attempts,
        )
        if source.failure_queue_url:
            self.sqs.send_message(QueueUrl=source.failure_queue_url, MessageBody=json.dumps(info))
        return info
