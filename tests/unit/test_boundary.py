"""The one error boundary: what each kind of failure a use case lets out is answered with."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from pynamodb.exceptions import GetError, QueryError, TransactWriteError

from chalicelib.adapters.dynamodb.batch import BatchIncomplete
from chalicelib.entrypoints.boundary import to_app_error
from chalicelib.errors import ErrorCode, FileStorageError, NotFound, RateLimited

THROTTLED = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "Query")

STORAGE_FAILURES = {
    "query": QueryError("Failed to query items"),
    "get": GetError("Failed to get item"),
    "transaction": TransactWriteError("Failed to write transaction items"),
    "unprocessed batch keys": BatchIncomplete(),
    "throttled": THROTTLED,
    "no endpoint": EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
}


@pytest.mark.parametrize("failure", sorted(STORAGE_FAILURES))
def test_storage_failures_are_a_retryable_503(failure: str) -> None:
    answered = to_app_error(STORAGE_FAILURES[failure])

    assert answered is not None
    assert (answered.status, answered.code) == (503, ErrorCode.TEMPORARILY_UNAVAILABLE)
    assert answered.details == {"cause": type(STORAGE_FAILURES[failure]).__name__}


def test_file_storage_failures_are_storage_unavailable() -> None:
    answered = to_app_error(FileStorageError(NoCredentialsError()))

    assert answered is not None
    assert (answered.status, answered.code, answered.details) == (
        503,
        ErrorCode.STORAGE_UNAVAILABLE,
        {"cause": "NoCredentialsError"},
    )


def test_client_errors_pass_through_unchanged() -> None:
    refused = NotFound("conversation not found")
    limited = RateLimited("slow down", retry_after=3)

    assert to_app_error(refused) is refused
    assert to_app_error(limited) is limited


def test_a_bug_is_not_dressed_up_as_a_client_error() -> None:
    assert to_app_error(KeyError("oops")) is None
