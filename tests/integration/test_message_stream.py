"""The messages table's stream, end to end on moto: real stream records (GetRecords), read by the dev stack's
poller (dev/streams.py, the same one ``make dev`` runs), handed to the app's ``on_message_stream`` handler, which
fans them out to the registered consumers with partial batch responses; redelivery, bisecting, a poison record
reaching the stream-failures queue, and the cancelled-transaction trap of moto's streams."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
import pytest
from botocore.config import Config

from chalicelib.adapters.dynamodb import Message
from chalicelib.adapters.queues import SqsQueue, stream_failure_queue
from chalicelib.entrypoints import message_stream
from chalicelib.services.message_stream import MessageChange
from chalicelib.settings import get_settings
from dev.moto_isolation import serialized
from dev.streams import Source, StreamPoller, sources, table_of
from infrastructure.deploy import STREAM_SOURCES


class Recorder:
    """A consumer that records what it saw and fails the records the test tells it to (``fail``: how often each)."""

    def __init__(self) -> None:
        self.seen: list[MessageChange] = []
        self.fail: dict[int, int] = {}  # message seq -> how many more deliveries to fail

    def __call__(self, changes: Sequence[MessageChange]) -> list[str]:
        failed = []
        for change in changes:
            self.seen.append(change)
            left = self.fail.get(change.message.seq, 0)
            if left:
                self.fail[change.message.seq] = left - 1
                failed.append(change.sequence_number)
        return failed

    def seqs(self) -> list[tuple[str, int]]:
        return [(change.event_name, change.message.seq) for change in self.seen]


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recording = Recorder()
    monkeypatch.setattr(message_stream, "CONSUMERS", [("recorder", recording)])
    return recording


@pytest.fixture
def failures_url(aws: None) -> str:
    settings = get_settings()
    return SqsQueue(settings, settings.stream_failures_queue).ensure(stream_failure_queue(settings))


@pytest.fixture
def poller(aws: None, failures_url: str) -> Iterator[tuple[StreamPoller, Source]]:
    from app import app

    region = get_settings().region
    found = sources(app, boto3.client("dynamodb", region_name=region), failure_queue_url=failures_url)
    streams = boto3.client("dynamodbstreams", region_name=region, config=Config(account_id_endpoint_mode="disabled"))
    poller = StreamPoller(
        app,
        found,
        streams=streams,
        sqs=boto3.client("sqs", region_name=region),
        stage="test",
        region=region,
        lock=serialized,
    )
    yield poller, found[0]


def _message(seq: int, content: str = "hello", conversation: str = "conv_stream") -> Message:
    return Message(
        conversation,
        seq,
        id=f"msg_{conversation}_{seq}",
        sender_id="bob",
        recipient_id="alice",
        recipient_receipt=seq,
        content=content,
        sent_at=f"2026-12-01T10:00:{seq:02d}.000Z",
        version=1,
    )


def _failures(url: str) -> list[dict[str, Any]]:
    client = boto3.client("sqs", region_name=get_settings().region)
    received = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in received]


def test_the_app_registers_one_stream_handler_on_the_messages_table(poller: tuple[StreamPoller, Source]) -> None:
    from app import app

    _, source = poller
    assert table_of(source.stream_arn) == Message.Meta.table_name
    assert "/stream/" in source.stream_arn and source.handler_name == "on_message_stream"
    settings = STREAM_SOURCES["on_message_stream"]
    assert (source.max_retries, source.bisect_on_error) == (settings.max_retries, settings.bisect_on_error)
    assert [name for name, _ in app.handler_map.items() if name == "on_message_stream"]


def test_inserts_edits_and_deletions_reach_the_consumers_decoded_in_order(
    poller: tuple[StreamPoller, Source], recorder: Recorder
) -> None:
    stream, source = poller
    message = _message(1, "Which hook size?")
    message.save()
    message.update(actions=[Message.content.set("Which hook for the border?"), Message.version.set(2)])
    message.delete()
    outcome = stream.poll_once(source)
    assert (outcome.received, outcome.handled, outcome.given_up) == (3, 3, [])
    assert recorder.seqs() == [("INSERT", 1), ("MODIFY", 1), ("REMOVE", 1)]
    insert, edit, removal = recorder.seen
    assert insert.old is None and insert.new is not None and insert.new.content == "Which hook size?"
    assert edit.old is not None and edit.old.content == "Which hook size?"
    assert edit.new is not None and (edit.new.content, edit.new.version) == ("Which hook for the border?", 2)
    assert removal.new is None and removal.old is not None
    assert stream.poll_once(source).received == 0  # nothing is handed over twice once handled


def test_a_record_a_consumer_fails_is_redelivered_with_the_records_after_it(
    poller: tuple[StreamPoller, Source], recorder: Recorder
) -> None:
    stream, source = poller
    recorder.fail[2] = 1  # message 2 fails once
    for seq in (1, 2, 3):
        _message(seq).save()
    first = stream.poll_once(source)
    assert (first.received, first.handled) == (3, 1)
    second = stream.poll_once(source)
    assert (second.received, second.handled) == (2, 2)
    # 1 once; 2 and 3 twice (3 had succeeded, and comes again with the batch: consumers are idempotent)
    assert recorder.seqs() == [("INSERT", 1), ("INSERT", 2), ("INSERT", 3), ("INSERT", 2), ("INSERT", 3)]
    assert stream.poll_once(source).received == 0


def test_a_handler_that_raises_is_retried_with_half_the_batch(
    poller: tuple[StreamPoller, Source], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consumer that raises fails its records (the others still run); a handler that raises (a timeout, a crash)
    fails the invocation, and the batch is bisected."""
    stream, source = poller
    handle = message_stream.on_records
    crashes = [1]

    def crashing(records: Any) -> Any:
        if crashes:
            crashes.pop()
            raise MemoryError("the function crashed")
        return handle(records)

    monkeypatch.setattr(message_stream, "on_records", crashing)
    for seq in range(1, 5):
        _message(seq).save()
    assert stream.poll_once(source).handled == 0
    retried = stream.poll_once(source)
    assert (retried.received, retried.handled) == (2, 2)  # bisected: half of the batch of 4
    assert stream.poll_once(source).handled == 2
    assert sorted({seq for _, seq in recorder.seqs()}) == [1, 2, 3, 4]


def test_a_poison_record_goes_to_the_failure_queue_and_the_stream_moves_on(
    poller: tuple[StreamPoller, Source], recorder: Recorder, failures_url: str
) -> None:
    stream, source = poller
    _message(1).save()
    client = boto3.client("dynamodb", region_name=get_settings().region)
    # An item no model reads (content is a number): what a bad migration or a hand edit could leave.
    client.put_item(
        TableName=Message.Meta.table_name,
        Item={"conversation_id": {"S": "conv_stream"}, "seq": {"N": "2"}, "content": {"N": "7"}},
    )
    _message(3).save()
    polls = [stream.poll_once(source) for _ in range(source.max_retries + 1)]
    given_up = [info for outcome in polls for info in outcome.given_up]
    assert len(given_up) == 1
    assert stream.poll_once(source).received == 0  # past it: the shard is not blocked
    queued = _failures(failures_url)
    assert queued == given_up
    batch = queued[0]["DDBStreamBatchInfo"]
    records = _records(source)
    poison = records[1]["dynamodb"]["SequenceNumber"]
    assert batch["startSequenceNumber"] == poison and batch["streamArn"] == source.stream_arn
    assert queued[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert queued[0]["requestContext"]["approximateInvokeCount"] == source.max_retries + 1
    # the good records around it reached the consumer (3 with every retry of the batch that starts at the poison)
    assert {seq for _, seq in recorder.seqs()} == {1, 3}


def _records(source: Source) -> list[dict[str, Any]]:
    streams = boto3.client(
        "dynamodbstreams", region_name=get_settings().region, config=Config(account_id_endpoint_mode="disabled")
    )
    shard = streams.describe_stream(StreamArn=source.stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=source.stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return list(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])


def test_a_cancelled_transaction_leaves_no_record_and_later_writes_arrive(
    poller: tuple[StreamPoller, Source], recorder: Recorder
) -> None:
    from pynamodb.exceptions import TransactWriteError
    from pynamodb.transactions import TransactWrite

    stream, source = poller
    _message(1).save()
    assert stream.poll_once(source).handled == 1
    with (
        pytest.raises(TransactWriteError),
        TransactWrite(connection=Message._get_connection().connection) as transaction,
    ):
        transaction.save(_message(2, "PHANTOM"))
        transaction.save(_message(1), condition=Message.seq.does_not_exist())
    _message(3, "after the cancelled transaction").save()
    assert stream.poll_once(source).handled == 1
    assert recorder.seqs() == [("INSERT", 1), ("INSERT", 3)]


def test_the_partial_batch_response_names_the_failed_records(aws: None, recorder: Recorder) -> None:
    """What Lambda receives: ``batchItemFailures`` with the failed records' sequence numbers, in stream order; an
    unreadable record fails without reaching the consumers."""
    from chalice.test import Client

    from app import app

    recorder.fail[2] = 1
    image = {
        "conversation_id": {"S": "conv_x"},
        "seq": {"N": "2"},
        "id": {"S": "msg_conv_x_2"},
        "sender_id": {"S": "bob"},
        "recipient_id": {"S": "alice"},
        "recipient_receipt": {"N": "1"},
        "content": {"S": "hi"},
        "sent_at": {"S": "2026-12-01T10:00:00.000Z"},
    }
    records = [
        {
            "eventID": "1",
            "eventName": "INSERT",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x",
            "dynamodb": {
                "SequenceNumber": "100",
                "NewImage": {**image, "seq": {"N": "1"}},
                "SizeBytes": 1,
                "ApproximateCreationDateTime": 1.0,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
        },
        {
            "eventID": "2",
            "eventName": "INSERT",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x",
            "dynamodb": {
                "SequenceNumber": "200",
                "NewImage": image,
                "SizeBytes": 1,
                "ApproximateCreationDateTime": 1.0,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
        },
        {
            "eventID": "3",
            "eventName": "INSERT",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x",
            "dynamodb": {
                "SequenceNumber": "300",
                "NewImage": {"content": {"N": "1"}},
                "SizeBytes": 1,
                "ApproximateCreationDateTime": 1.0,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
        },
    ]
    with Client(app) as client:
        response = client.lambda_.invoke("on_message_stream", {"Records": records})
    assert response.payload == {"batchItemFailures": [{"itemIdentifier": "200"}, {"itemIdentifier": "300"}]}
    assert recorder.seqs() == [("INSERT", 1), ("INSERT", 2)]
