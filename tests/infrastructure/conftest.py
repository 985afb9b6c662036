"""Infrastructure checks. The ``test_on_stack_*`` modules rerun integration test modules against the tables and
the bucket that the CloudFormation template creates on moto (this ``aws`` fixture), not ``create_tables``'s."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from functools import cache
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib import bootstrap
from chalicelib.adapters.dynamodb import ALL_MODELS
from chalicelib.adapters.dynamodb.tables import reset_connections
from chalicelib.settings import get_settings
from tests.infrastructure.support import create_stack, output_key, short_name, stage_environment
from tests.integration.conftest import (  # noqa: F401 (fixtures)
    api,
    client,
    dynamo_calls,
    install_services,
    marketplace,
    sockets,
    uploads,
)

ON_STACK_STAGE = "dev"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "package: runs `chalice package` (PyPI access; ~2 minutes on a cold cache)")


@cache
def _client(service: str) -> Any:
    """One client per service for the session: clients made once are intercepted by every later mock_aws."""
    return boto3.client(service)


def _table_names() -> set[str]:
    return set(_client("dynamodb").list_tables()["TableNames"])


def _create_stack() -> dict[str, str]:
    with warnings.catch_warnings():
        # moto's CloudFormation skips bucket policies and alarms: test_template and test_alarms check them.
        warnings.filterwarnings("ignore", message=".*AWS::(S3::BucketPolicy|CloudWatch::Alarm).*")
        return create_stack(_client("cloudformation"), ON_STACK_STAGE)


@pytest.fixture(scope="module")
def stack_outputs() -> Iterator[dict[str, str]]:
    """The app pointed at the dev stage's stack, for a whole module (switching models' clients is slow).

    The models take their table names from the stack's outputs, the settings the stack's TABLE_PREFIX and
    bucket; at the end everything is put back.
    """
    with mock_aws():
        outputs = _create_stack()
    environment = stage_environment(ON_STACK_STAGE)
    assert outputs["TablePrefix"] == environment["TABLE_PREFIX"]
    assert outputs["AttachmentsBucketName"] == environment["ATTACHMENTS_BUCKET"]
    before = {model: model.Meta.table_name for model in ALL_MODELS}
    names = {model: outputs[output_key(short_name(model))] for model in ALL_MODELS}
    saved = {name: os.environ.get(name) for name in ("TABLE_PREFIX", "ATTACHMENTS_BUCKET")}
    try:
        for model, name in names.items():
            model.Meta.table_name = name
        os.environ["TABLE_PREFIX"] = outputs["TablePrefix"]
        os.environ["ATTACHMENTS_BUCKET"] = outputs["AttachmentsBucketName"]
        get_settings.cache_clear()
        reset_connections()
        bootstrap.install(None)  # adapters are built from the settings: the stack's bucket from now on
        yield outputs
    finally:
        for model, name in before.items():
            model.Meta.table_name = name
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
        reset_connections()
        bootstrap.install(None)


def _without_stream_labels(outputs: dict[str, str]) -> dict[str, str]:
    return {key: value.rsplit("/stream/", 1)[0] for key, value in outputs.items()}


@pytest.fixture
def aws(stack_outputs: dict[str, str]) -> Iterator[dict[str, str]]:
    """moto with a fresh stack from infrastructure/template.yaml: its tables and bucket are the only ones."""
    with mock_aws():
        outputs = _create_stack()
        # A stream's ARN ends in the time its table was created: the same stack, another label.
        assert _without_stream_labels(outputs) == _without_stream_labels(stack_outputs)
        tables = {value for key, value in stack_outputs.items() if key.endswith("TableName")}
        assert _table_names() == tables
        assert {model.Meta.table_name for model in ALL_MODELS} == tables
        yield stack_outputs
        assert _table_names() == tables, "a table was created outside the stack"
        buckets = [bucket["Name"] for bucket in _client("s3").list_buckets()["Buckets"]]
        assert buckets == [stack_outputs["AttachmentsBucketName"]], "a bucket was created outside the stack"
