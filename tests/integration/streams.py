"""The messages table's stream on moto, read the way the stream's event source gets it (GetRecords' records), and
handed to the app's one stream entry point (``message_stream.on_records``, every registered consumer). A fresh
``AFTER_SEQUENCE_NUMBER`` iterator on each read (moto swaps the table after a cancelled transaction: following
``NextShardIterator`` would miss records).
"""

from __future__ import annotations

import os
from typing import Any

import boto3

from chalicelib.adapters.dynamodb import Message
from chalicelib.settings import get_settings

# In-process, botocore would send stream calls to an account-based endpoint moto does not answer.
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")


class MessageStream:
    """``enable()`` once the tables exist; ``read()``: the records written since the last read."""

    def __init__(self) -> None:
        self._streams: Any = None
        self._arn = ""
        self._last: dict[str, str] = {}

    def enable(self) -> MessageStream:
        region = get_settings().region
        dynamodb = boto3.client("dynamodb", region_name=region)
        table = Message.Meta.table_name
        description = dynamodb.describe_table(TableName=table)["Table"]
        if not description.get("StreamSpecification", {}).get("StreamEnabled"):
            dynamodb.update_table(
                TableName=table, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
            )
            description = dynamodb.describe_table(TableName=table)["Table"]
        self._arn = description["LatestStreamArn"]
        self._streams = boto3.client("dynamodbstreams", region_name=region)
        self.read()  # start after what is there
        return self

    def read(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            after = self._last.get(shard_id)
            iterator = self._streams.get_shard_iterator(
                StreamArn=self._arn,
                ShardId=shard_id,
                **(
                    {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
                    if after
                    else {"ShardIteratorType": "TRIM_HORIZON"}
                ),
            )["ShardIterator"]
            got = self._streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
            if got:
                self._last[shard_id] = got[-1]["dynamodb"]["SequenceNumber"]
                records.extend(got)
        return records


def consume(records: list[dict[str, Any]]) -> None:
    """What ``on_message_stream`` does with a batch: every consumer; none may report a failure."""
    from chalicelib.entrypoints.message_stream import on_records

    assert on_records(records) == {"batchItemFailures": []}
