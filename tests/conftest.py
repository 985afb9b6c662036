"""Test-wide environment: fake AWS credentials and a test stage, set before the app is imported."""

from __future__ import annotations

import os

# PynamoDB reads table names at class creation and moto must never reach real AWS: set all of this
# before anything imports chalicelib.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        # botocore sends ARN-bearing DynamoDB Streams calls to an account-based endpoint moto does not answer.
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "STAGE": "test",
        "TABLE_PREFIX": "test-",
        "JWT_SECRET": "test-secret-0123456789-0123456789-0123456789",
        # Where REST handlers deliver socket frames: moto's @connections API under mock_aws.
        "WEBSOCKET_API_ID": "testws0001",
        "WEBSOCKET_STAGE": "test",
        # The suites' connections are milliseconds old when a fault says they are gone: no grace unless a test is
        # about it (test_delivery_faults.py).
        "CONNECT_GRACE_SECONDS": "0",
        # Off unless a test is about them: suites send far faster than any user (see test_rate_limits.py).
        "RATE_LIMIT_SEND": "0/1",
        "RATE_LIMIT_CONVERSATION": "0/1",
        "RATE_LIMIT_PRESIGN": "0/1",
        "RATE_LIMIT_ROOM": "0/1",
        "RATE_LIMIT_TYPING": "0/1",
        "RATE_LIMIT_READ": "0/1",
        "RATE_LIMIT_PING": "0/1",
        "RATE_LIMIT_SYNC": "0/1",
        "RATE_LIMIT_HISTORY": "0/1",
        "RATE_LIMIT_EDIT": "0/1",
        "RATE_LIMIT_REACTION": "0/1",
        "RATE_LIMIT_PRESENCE": "0/1",
        "RATE_LIMIT_SEARCH": "0/1",
        "RATE_LIMIT_SETTINGS": "0/1",
        "RATE_LIMIT_BLOCK": "0/1",
        "RATE_LIMIT_REPORT": "0/1",
        # Each test starts on fresh tables with the container's list of suspensions emptied (integration conftest):
        # it is never reloaded within a test unless the test says so (test_moderation.py).
        "SUSPENSION_REFRESH_SECONDS": "3600",
        # The concurrency tests put 4-8 writers on one conversation on a loaded 2-core machine, far beyond a
        # 1:1 chat's real contention; give losers more turns (test_transactions.py proves the give-up path).
        "SEND_MAX_ATTEMPTS": "20",
    }
)
for variable in (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
    "JWT_JWKS_URL",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "CURSOR_SECRET",
    "AWS_PROFILE",
):
    os.environ.pop(variable, None)
