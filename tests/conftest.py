"""Test-wide environment: fake AWS credentials and a test stage, set before the app is imported."""

from __future__ import annotations

import os

from tests.tuning import IN_PROCESS_TUNING, RATE_LIMITS_OFF

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
        **IN_PROCESS_TUNING,
        **RATE_LIMITS_OFF,
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
