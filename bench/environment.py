"""The in-process benchmark's environment, set before anything imports ``chalicelib`` (table names are read then).

Import this module first: it mirrors ``tests/conftest.py`` (fake credentials, a stage of its own) so that moto is the
only AWS the benchmark can reach. The per-user limits are on but out of reach (``bench/limits.py``): a benchmark sends
far faster than any user, and each request still pays for its counter as in production.
"""

from __future__ import annotations

import os

from bench.limits import LIMITS_OUT_OF_REACH

BENCH_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "STAGE": "bench",
    "TABLE_PREFIX": "bench-",
    "JWT_SECRET": "bench-secret-0123456789-0123456789-0123456789",
    # REST handlers deliver through moto's @connections API under mock_aws, as in the integration tests.
    "WEBSOCKET_API_ID": "benchws001",
    "WEBSOCKET_STAGE": "bench",
    **LIMITS_OUT_OF_REACH,
    "LOG_LEVEL": "INFO",
}
UNSET = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_S3",
    "JWT_JWKS_URL",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "CURSOR_SECRET",
    "AWS_PROFILE",
    "WEBSOCKET_MANAGEMENT_URL",
)


def configure() -> None:
    """Point everything at moto (idempotent)."""
    os.environ.update(BENCH_ENVIRONMENT)
    for variable in UNSET:
        os.environ.pop(variable, None)


configure()
