"""Email through SES v2 (``SendEmail`` with raw MIME content, so that ``List-Unsubscribe`` and
``List-Unsubscribe-Post`` reach the recipient as written). ``AWS_ENDPOINT_URL_SESV2`` points it at moto locally.
The client is built on the first mail (no function but the digest consumer ever sends one)."""

from __future__ import annotations

import contextlib
from typing import Any

import boto3

from chalicelib.settings import Settings


class SesMailer:
    def __init__(self, settings: Settings, client: Any = None) -> None:
        self._settings = settings
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("sesv2", region_name=self._settings.region)
        return self._client

    def send_raw(self, sender: str, recipient: str, mime: bytes) -> str:
        response = self.client.send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": [recipient]},
            Content={"Raw": {"Data": mime}},
        )
        return str(response.get("MessageId") or "")

    def ensure_identity(self, address: str) -> None:
        """Create (verify) the sending identity: the dev stack and the tests (infrastructure/ declares it on AWS)."""
        with contextlib.suppress(self.client.exceptions.AlreadyExistsException):
            self.client.create_email_identity(EmailIdentity=address)
