"""What every table model shares: its stage-prefixed name, region and on-demand billing."""

from __future__ import annotations

from typing import Any

from pynamodb.constants import PAY_PER_REQUEST_BILLING_MODE

from chalicelib.settings import get_settings


def table_meta(short_name: str, **extra: Any) -> Any:
    """A PynamoDB ``Meta`` for the table ``short_name`` of the configured stage.

    No ``host``: botocore's ``AWS_ENDPOINT_URL_DYNAMODB`` points PynamoDB at moto locally, so the
    same code runs on AWS and on the dev stack. ``extra``: more of PynamoDB's ``Meta`` (``stream_view_type``).
    """
    settings = get_settings()
    attrs: dict[str, Any] = {
        "table_name": settings.table_name(short_name),
        "region": settings.region,
        "billing_mode": PAY_PER_REQUEST_BILLING_MODE,
        **extra,
    }
    # Any: PynamoDB types ``Meta`` as a protocol a class built at runtime cannot be declared to satisfy.
    return type("Meta", (), attrs)
