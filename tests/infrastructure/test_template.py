"""infrastructure/template.yaml: lints clean, and describes exactly the tables the PynamoDB models define, the
bucket ``ensure_bucket`` sets up locally and the queues ``SqsQueue.ensure`` creates (one source of truth for shapes:
the code; the template must follow)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto import mock_aws
from pynamodb.models import Model

from chalicelib.adapters.files import S3Files
from chalicelib.adapters.queues import (
    SqsQueue,
    digest_queues,
    push_queues,
    stream_failure_queue,
    upload_failure_queues,
    webhook_queues,
)
from chalicelib.settings import get_settings
from infrastructure.deploy import TEMPLATE
from tests.infrastructure.support import (
    STAGES,
    cfn_lint,
    load_template,
    model_short_names,
    resolve,
    stage_parameters,
    template_tables,
)

MODELS = model_short_names()


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def test_the_template_passes_cfn_lint() -> None:
    result = cfn_lint(TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stage", STAGES)
def test_the_template_has_a_table_for_every_model_and_no_other(template: dict[str, Any], stage: str) -> None:
    assert sorted(template_tables(template, stage)) == sorted(MODELS)


def _keys(schema: list[dict[str, str]]) -> dict[str, str]:
    return {key["KeyType"]: key["AttributeName"] for key in schema}


def _projection(projection: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    return projection["ProjectionType"], tuple(sorted(projection.get("NonKeyAttributes", [])))


def model_shape(model: type[Model]) -> dict[str, Any]:
    """What the PynamoDB model says about its table, in CloudFormation's terms."""
    schema = model._get_schema()
    ttl = model._ttl_attribute()
    return {
        "keys": _keys(schema["key_schema"]),
        "attributes": {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]},
        "global_indexes": {
            index["index_name"]: (_keys(index["key_schema"]), _projection(index["projection"]))
            for index in schema["global_secondary_indexes"]
        },
        "local_indexes": {
            index["index_name"]: (_keys(index["key_schema"]), _projection(index["projection"]))
            for index in schema["local_secondary_indexes"]
        },
        "billing_mode": model.Meta.billing_mode,
        "ttl": ttl.attr_name if ttl is not None else None,
    }


def template_shape(table: dict[str, Any]) -> dict[str, Any]:
    ttl = table.get("TimeToLiveSpecification")
    return {
        "keys": _keys(table["KeySchema"]),
        "attributes": {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]},
        "global_indexes": {
            index["IndexName"]: (_keys(index["KeySchema"]), _projection(index["Projection"]))
            for index in table.get("GlobalSecondaryIndexes", [])
        },
        "local_indexes": {
            index["IndexName"]: (_keys(index["KeySchema"]), _projection(index["Projection"]))
            for index in table.get("LocalSecondaryIndexes", [])
        },
        "billing_mode": table["BillingMode"],
        "ttl": ttl["AttributeName"] if ttl and ttl["Enabled"] else None,
    }


@pytest.mark.parametrize("short", sorted(MODELS))
def test_each_table_has_the_models_keys_indexes_projections_and_ttl(template: dict[str, Any], short: str) -> None:
    for stage in STAGES:
        assert template_shape(template_tables(template, stage)[short]) == model_shape(MODELS[short]), stage


def test_the_shape_comparison_sees_a_difference(template: dict[str, Any]) -> None:
    """The comparison above can fail: a changed projection, key type or TTL attribute shows."""
    table = template_tables(template, "dev")["memberships"]
    baseline = template_shape(table)
    table["GlobalSecondaryIndexes"][0]["Projection"] = {"ProjectionType": "KEYS_ONLY"}
    assert template_shape(table) != baseline
    feeds = template_tables(template, "dev")["feeds"]
    feeds["TimeToLiveSpecification"]["AttributeName"] = "ttl"
    assert template_shape(feeds) != model_shape(MODELS["feeds"])


@pytest.mark.parametrize("stage", STAGES)
def test_every_table_is_on_demand_recoverable_streamed_as_its_model_and_protected_in_prod(
    template: dict[str, Any], stage: str
) -> None:
    for short, table in template_tables(template, stage).items():
        assert table["BillingMode"] == "PAY_PER_REQUEST", short
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, short
        view = getattr(MODELS[short].Meta, "stream_view_type", None)
        expected = {"StreamViewType": view} if view else None
        assert table.get("StreamSpecification") == expected, f"{short}: a stream exactly where the model has one"
        assert "ProvisionedThroughput" not in table, short
        assert table["DeletionProtectionEnabled"] is (stage == "prod"), short
        assert table["_resource"]["UpdateReplacePolicy"] == "Retain", short


def canonical_bucket(
    public_access: dict[str, bool], encryption: list[dict[str, Any]], cors: list[dict[str, Any]], lifecycle: list[Any]
) -> dict[str, Any]:
    return {
        "public_access": public_access,
        "encryption": sorted(rule["SSEAlgorithm"] for rule in encryption),
        "cors": [
            {
                "origins": sorted(rule["AllowedOrigins"]),
                "methods": sorted(rule["AllowedMethods"]),
                "headers": sorted(rule.get("AllowedHeaders", [])),
                "expose": sorted(rule.get("ExposeHeaders", [])),
                "max_age": rule.get("MaxAgeSeconds"),
            }
            for rule in cors
        ],
        "lifecycle": sorted(lifecycle, key=repr),
    }


def deployed_bucket(template: dict[str, Any], origins: list[str]) -> dict[str, Any]:
    """The template's bucket, in the shape S3's API returns."""
    bucket = next(r for r in template["Resources"].values() if r["Type"] == "AWS::S3::Bucket")
    properties = resolve(bucket["Properties"], template, {"Stage": "dev", "AllowedOrigins": origins})
    lifecycle = []
    for rule in properties["LifecycleConfiguration"]["Rules"]:
        filters = rule.get("TagFilters", [])
        lifecycle.append(
            (
                rule["Id"],
                rule["Status"],
                tuple((tag["Key"], tag["Value"]) for tag in filters),
                rule.get("Prefix", ""),
                rule.get("ExpirationInDays"),
                rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation"),
            )
        )
    return canonical_bucket(
        properties["PublicAccessBlockConfiguration"],
        [
            r["ServerSideEncryptionByDefault"]
            for r in properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ],
        [
            {
                "AllowedOrigins": rule["AllowedOrigins"],
                "AllowedMethods": rule["AllowedMethods"],
                "AllowedHeaders": rule.get("AllowedHeaders", []),
                "ExposeHeaders": rule.get("ExposedHeaders", []),
                "MaxAgeSeconds": rule.get("MaxAge"),
            }
            for rule in properties["CorsConfiguration"]["CorsRules"]
        ],
        lifecycle,
    )


def local_bucket(origins: list[str]) -> dict[str, Any]:
    """What ``S3Files.ensure_bucket`` sets up (dev stack, tests), read back from moto's S3."""
    with mock_aws():
        files = S3Files(get_settings())
        files.ensure_bucket(tuple(origins))
        client, name = files.client, files.bucket
        lifecycle = []
        for rule in client.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]:
            tag = rule.get("Filter", {}).get("Tag")
            lifecycle.append(
                (
                    rule["ID"],
                    rule["Status"],
                    ((tag["Key"], tag["Value"]),) if tag else (),
                    rule.get("Filter", {}).get("Prefix", ""),
                    rule.get("Expiration", {}).get("Days"),
                    rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation"),
                )
            )
        return canonical_bucket(
            client.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"],
            [
                rule["ApplyServerSideEncryptionByDefault"]
                for rule in client.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
            ],
            client.get_bucket_cors(Bucket=name)["CORSRules"],
            lifecycle,
        )


def test_the_bucket_is_set_up_as_ensure_bucket_sets_it_up_locally(template: dict[str, Any]) -> None:
    origins = list(get_settings().allowed_origins)
    assert deployed_bucket(template, origins) == local_bucket(origins)


def test_the_bucket_cors_origins_come_from_the_parameter(template: dict[str, Any]) -> None:
    origins = stage_parameters("prod")["AllowedOrigins"]
    assert deployed_bucket(template, origins)["cors"][0]["origins"] == sorted(origins)


def test_the_bucket_is_private_owner_enforced_and_tls_only(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    bucket_id, bucket = next((k, r) for k, r in resources.items() if r["Type"] == "AWS::S3::Bucket")
    assert bucket["Properties"]["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert all(bucket["Properties"]["PublicAccessBlockConfiguration"].values())
    assert "VersioningConfiguration" not in bucket["Properties"], "abandoned uploads would survive as old versions"
    policy = next(r for r in resources.values() if r["Type"] == "AWS::S3::BucketPolicy")
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "s3:*" and statement["Principal"] == "*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_parameters_are_the_stage_and_the_allowed_origins(template: dict[str, Any]) -> None:
    assert set(template["Parameters"]) == {"Stage", "AllowedOrigins", "AlarmEmail", "NotifyEmailIdentityName"}
    assert template["Parameters"]["NotifyEmailIdentityName"]["Default"] == ""  # deploy.py passes NOTIFY_EMAIL_FROM
    assert template["Parameters"]["AllowedOrigins"]["Type"] == "CommaDelimitedList"
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""  # optional: deploy.py passes only the first two


# --- the upload-failures queues ----------------------------------------------------------------------------


def template_queues(template: dict[str, Any], stage: str) -> dict[str, dict[str, Any]]:
    """Queue name -> its shape, from the template (for one stage)."""
    parameters = stage_parameters(stage)
    names = {
        logical: resolve(r["Properties"]["QueueName"], template, parameters)
        for logical, r in template["Resources"].items()
        if r["Type"] == "AWS::SQS::Queue"
    }
    queues = {}
    for logical, name in names.items():
        properties = template["Resources"][logical]["Properties"]
        redrive = properties.get("RedrivePolicy")
        queues[name] = {
            "visibility": int(properties["VisibilityTimeout"]),
            "retention": int(properties["MessageRetentionPeriod"]),
            "encrypted": properties.get("SqsManagedSseEnabled") is True,
            "dead_letter": names[redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]] if redrive else None,
            "max_receive_count": int(redrive["maxReceiveCount"]) if redrive else 0,
        }
    return queues


def local_queues(stage: str) -> dict[str, dict[str, Any]]:
    """What ``SqsQueue.ensure(upload_failure_queues(...))`` creates (dev stack, tests), read back from moto's SQS."""
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        patch.setenv("STAGE", stage)
        patch.setenv("UPLOAD_FAILURES_QUEUE", f"crochet-messaging-{stage}-upload-failures")
        patch.setenv("DIGEST_QUEUE", f"crochet-messaging-{stage}-email-digests")
        patch.setenv("WEBHOOK_QUEUE", f"crochet-messaging-{stage}-webhooks")
        patch.setenv("PUSH_QUEUE", f"crochet-messaging-{stage}-push")
        patch.setenv("STREAM_FAILURES_QUEUE", f"crochet-messaging-{stage}-stream-failures")
        get_settings.cache_clear()
        try:
            settings = get_settings()
            queue = SqsQueue(settings, settings.upload_failures_queue)
            queue.ensure(upload_failure_queues(settings))
            SqsQueue(settings, settings.digest_queue, queue.client).ensure(digest_queues(settings))
            SqsQueue(settings, settings.webhook_queue, queue.client).ensure(webhook_queues(settings))
            SqsQueue(settings, settings.push_queue, queue.client).ensure(push_queues(settings))
            SqsQueue(settings, settings.stream_failures_queue, queue.client).ensure(stream_failure_queue(settings))
            client, found = queue.client, {}
            for url in client.list_queues()["QueueUrls"]:
                attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
                redrive = json.loads(attributes.get("RedrivePolicy", "null"))
                found[url.rsplit("/", 1)[1]] = {
                    "visibility": int(attributes["VisibilityTimeout"]),
                    "retention": int(attributes["MessageRetentionPeriod"]),
                    "encrypted": attributes.get("SqsManagedSseEnabled") == "true",
                    "dead_letter": redrive["deadLetterTargetArn"].rsplit(":", 1)[1] if redrive else None,
                    "max_receive_count": int(redrive["maxReceiveCount"]) if redrive else 0,
                }
        finally:
            get_settings.cache_clear()
    get_settings()  # the tests' own settings again
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_the_upload_failure_queues_are_set_up_as_the_dev_stack_sets_them_up(
    template: dict[str, Any], stage: str
) -> None:
    queues = template_queues(template, stage)
    assert queues == local_queues(stage)
    main = queues[f"crochet-messaging-{stage}-upload-failures"]
    assert main["dead_letter"] == f"crochet-messaging-{stage}-upload-failures-dead"
    assert main["max_receive_count"] >= 3 and all(q["encrypted"] for q in queues.values())
    pushes = queues[f"crochet-messaging-{stage}-push"]
    assert pushes["dead_letter"] == f"crochet-messaging-{stage}-push-dead" and pushes["max_receive_count"] == 8


def test_the_stack_outputs_name_the_upload_failure_queues(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["UploadFailuresQueueName"]["Value"] == {"Fn::GetAtt": ["UploadFailuresQueue", "QueueName"]}
    assert outputs["UploadFailuresQueueArn"]["Value"] == {"Fn::GetAtt": ["UploadFailuresQueue", "Arn"]}
    assert {"UploadFailuresQueueUrl", "UploadFailuresDeadLetterQueueArn"} <= set(outputs)
    # Issue 18: what infrastructure/deploy.py checks the stage's DIGEST_QUEUE and WEBHOOK_QUEUE against.
    assert outputs["DigestQueueName"]["Value"] == {"Fn::GetAtt": ["DigestQueue", "QueueName"]}
    assert outputs["WebhookQueueName"]["Value"] == {"Fn::GetAtt": ["WebhookQueue", "QueueName"]}


def test_only_the_messages_table_has_a_stream_and_the_stack_exports_it(template: dict[str, Any]) -> None:
    streamed = [short for short, model in MODELS.items() if getattr(model.Meta, "stream_view_type", None)]
    assert streamed == ["messages"]
    assert MODELS["messages"].Meta.stream_view_type == "NEW_AND_OLD_IMAGES"  # edits need the old words too
    outputs = template["Outputs"]
    assert outputs["MessagesStreamArn"]["Value"] == {"Fn::GetAtt": ["MessagesTable", "StreamArn"]}
    assert outputs["MessagesStreamArn"]["Export"]["Name"] == {
        "Fn::Sub": "crochet-messaging-${Stage}-messages-stream-arn"
    }
    assert outputs["StreamFailuresQueueArn"]["Value"] == {"Fn::GetAtt": ["StreamFailuresQueue", "Arn"]}
    assert outputs["StreamFailuresQueueName"]["Value"] == {"Fn::GetAtt": ["StreamFailuresQueue", "QueueName"]}
