"""The template created as a stack in moto's CloudFormation: what it creates is what the stage's config names,
and its tables are the ones ``create_tables`` makes from the models (the dev stack's source)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.dynamodb import ALL_MODELS
from chalicelib.adapters.dynamodb.tables import create_tables
from tests.infrastructure.support import STAGES, create_stack, output_key, short_name, stage_environment


@pytest.fixture
def moto() -> Iterator[None]:
    with mock_aws(), warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*AWS::(S3::BucketPolicy|CloudWatch::Alarm).*"
        )  # test_template, test_alarms
        yield


def describe(dynamodb: Any, name: str) -> dict[str, Any]:
    table = dynamodb.describe_table(TableName=name)["Table"]
    return {
        "KeySchema": sorted((key["KeyType"], key["AttributeName"]) for key in table["KeySchema"]),
        "AttributeDefinitions": sorted((a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]),
        "GlobalSecondaryIndexes": sorted(
            (
                index["IndexName"],
                tuple(sorted((key["KeyType"], key["AttributeName"]) for key in index["KeySchema"])),
                index["Projection"]["ProjectionType"],
                tuple(sorted(index["Projection"].get("NonKeyAttributes", []))),
            )
            for index in table.get("GlobalSecondaryIndexes", [])
        ),
        "LocalSecondaryIndexes": sorted(index["IndexName"] for index in table.get("LocalSecondaryIndexes", [])),
        "BillingMode": table["BillingModeSummary"]["BillingMode"],
        "StreamEnabled": table.get("StreamSpecification", {}).get("StreamEnabled", False),
    }


@pytest.mark.parametrize("stage", STAGES)
def test_the_stack_creates_what_the_stage_configuration_names(moto: None, stage: str) -> None:
    outputs = create_stack(boto3.client("cloudformation"), stage)
    environment = stage_environment(stage)

    assert outputs["TablePrefix"] == environment["TABLE_PREFIX"]
    assert outputs["AttachmentsBucketName"] == environment["ATTACHMENTS_BUCKET"]
    assert outputs["AllowedOrigins"] == environment["ALLOWED_ORIGINS"]
    assert outputs["UploadFailuresQueueName"] == environment["UPLOAD_FAILURES_QUEUE"]
    queues = boto3.client("sqs").list_queues()["QueueUrls"]
    assert outputs["StreamFailuresQueueName"] == environment["STREAM_FAILURES_QUEUE"]
    assert sorted(url.rsplit("/", 1)[1] for url in queues) == sorted(
        [
            environment["UPLOAD_FAILURES_QUEUE"],
            environment["UPLOAD_FAILURES_QUEUE"] + "-dead",
            environment["STREAM_FAILURES_QUEUE"],
        ]
    )
    expected = {environment["TABLE_PREFIX"] + short_name(model) for model in ALL_MODELS}
    assert set(boto3.client("dynamodb").list_tables()["TableNames"]) == expected
    assert {outputs[output_key(short_name(model))] for model in ALL_MODELS} == expected
    assert [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]] == [environment["ATTACHMENTS_BUCKET"]]


def test_stack_tables_are_the_tables_create_tables_makes_from_the_models(moto: None) -> None:
    outputs = create_stack(boto3.client("cloudformation"), "dev")
    created = create_tables()
    assert len(created) == len(ALL_MODELS)
    dynamodb = boto3.client("dynamodb")
    for model in ALL_MODELS:
        from_stack = describe(dynamodb, outputs[output_key(short_name(model))])
        from_models = describe(dynamodb, model.Meta.table_name)
        assert from_stack == from_models, short_name(model)


@pytest.mark.parametrize("stage", STAGES)
def test_tables_are_deletion_protected_in_prod_only(moto: None, stage: str) -> None:
    outputs = create_stack(boto3.client("cloudformation"), stage)
    dynamodb = boto3.client("dynamodb")
    for model in ALL_MODELS:
        table = dynamodb.describe_table(TableName=outputs[output_key(short_name(model))])["Table"]
        assert table["DeletionProtectionEnabled"] is (stage == "prod"), short_name(model)
