"""POSTing webhook events to the platform (``urllib``: no HTTP library in the package), and the signing secrets.

The secrets are ``WEBHOOK_SECRET`` when set, else the SSM SecureString ``WEBHOOK_SECRET_SSM_PARAMETER`` (one
GetParameter, on the first delivery of a container: no other function reads it). Comma-separated: the current secret
first, the previous one during a rotation (domain.webhooks).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import boto3

from chalicelib.domain.webhooks import secrets_from
from chalicelib.settings import Settings

USER_AGENT = "crochet-messaging-webhooks/1"


class HttpWebhooks:
    def __init__(self, settings: Settings, ssm: Any = None) -> None:
        self._settings = settings
        self._ssm = ssm
        self._secrets: tuple[bytes, ...] | None = None

    def secrets(self) -> tuple[bytes, ...]:
        if self._secrets is None:
            raw = self._settings.webhook_secret
            if raw is None and self._settings.webhook_secret_ssm_parameter:
                ssm = self._ssm or boto3.client("ssm", region_name=self._settings.region)
                parameter = ssm.get_parameter(Name=self._settings.webhook_secret_ssm_parameter, WithDecryption=True)
                raw = str(parameter["Parameter"]["Value"])
            self._secrets = secrets_from(raw)
        return self._secrets

    def post(self, url: str, body: str, headers: dict[str, str]) -> int:
        if not url.startswith(("https://", "http://")):
            raise ValueError("WEBHOOK_URL must be an http(s) URL")
        request = urllib.request.Request(  # the scheme is checked above
            url,
            data=body.encode(),
            method="POST",
            headers={**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        try:
            timeout = self._settings.webhook_timeout_seconds
            with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec B310 # http(s) checked above
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
