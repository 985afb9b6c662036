"""Sending Web Push: the VAPID key pair (RFC 8292) and one POST per notification to a browser's push service.

The payload is encrypted by ``domain.push.encrypt`` (RFC 8291, aes128gcm) with a fresh key and salt per message;
the request carries ``Authorization: vapid t=<ES256 JWT>, k=<public key>``, ``TTL``, ``Urgency`` and ``Topic``.
No pywebpush (it brings aiohttp): ``cryptography`` and PyJWT, already in the package, do all of it, and
``http.client`` posts without following redirects or proxies.

The key pair: ``VAPID_PRIVATE_KEY`` (the raw 32-byte P-256 scalar, base64url) when set (the dev stack keeps one in
its data folder), else the SecureString parameter ``VAPID_PRIVATE_KEY_SSM_PARAMETER`` (the deployed stages; one
GetParameter, on first use, by the functions that push or publish the key only). On the local stages with neither,
a key is made for the process (logged): subscriptions made with it stop working when the process ends.
"""

from __future__ import annotations

import http.client
import logging
import os
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from chalicelib.domain.push import PushResult, PushTarget, b64url, encrypt, endpoint_problem, unb64url
from chalicelib.settings import ConfigurationError, Settings

if TYPE_CHECKING:  # PyJWT and cryptography are imported on first use (the entry module's cold start stays lean)
    from cryptography.hazmat.primitives.asymmetric import ec

logger = logging.getLogger(__name__)

JWT_LIFETIME_SECONDS = 12 * 3600  # RFC 8292: at most 24 hours


@dataclass(frozen=True)
class VapidKey:
    """The application server's key pair; ``public_key`` is what browsers pass to ``PushManager.subscribe``."""

    private_key: ec.EllipticCurvePrivateKey

    @property
    def public_key(self) -> str:
        """The uncompressed P-256 point, base64url (``applicationServerKey``)."""
        from cryptography.hazmat.primitives import serialization

        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(raw)

    def private_value(self) -> str:
        """The raw 32-byte scalar, base64url: how ``VAPID_PRIVATE_KEY`` and the SSM parameter hold it."""
        return b64url(self.private_key.private_numbers().private_value.to_bytes(32, "big"))

    @classmethod
    def from_private_value(cls, value: str) -> VapidKey:
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            raw = unb64url(value.strip())
            if len(raw) != 32:
                raise ValueError("not 32 bytes")
            return cls(ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1()))
        except ValueError as exc:
            raise ConfigurationError(
                "the VAPID private key must be a raw 32-byte P-256 scalar, base64url (43 characters)"
            ) from exc

    @classmethod
    def generate(cls) -> VapidKey:
        from cryptography.hazmat.primitives.asymmetric import ec

        return cls(ec.generate_private_key(ec.SECP256R1()))


def load_vapid_key(settings: Settings) -> VapidKey:
    """The configured key pair (module docstring); ConfigurationError outside the local stages without one."""
    if settings.vapid_private_key:
        return VapidKey.from_private_value(settings.vapid_private_key)
    if settings.vapid_private_key_ssm_parameter:
        import boto3

        response = boto3.client("ssm", region_name=settings.region).get_parameter(
            Name=settings.vapid_private_key_ssm_parameter, WithDecryption=True
        )
        return VapidKey.from_private_value(str(response["Parameter"]["Value"]))
    if not settings.local_stack:
        raise ConfigurationError(
            f"stage {settings.stage!r} has no VAPID key: set VAPID_PRIVATE_KEY_SSM_PARAMETER (an SSM SecureString)"
        )
    logger.warning("no VAPID key configured: this process made one (push subscriptions end with it)")
    return VapidKey.generate()


class WebPushSender:
    """Encrypts, signs and posts notifications; the key pair is loaded on first use."""

    def __init__(self, settings: Settings, key: VapidKey | None = None) -> None:
        self._settings = settings
        self._key = key

    @property
    def key(self) -> VapidKey:
        if self._key is None:
            self._key = load_vapid_key(self._settings)
        return self._key

    def public_key(self) -> str:
        return self.key.public_key

    def vapid_header(self, endpoint: str, now: float | None = None) -> str:
        import jwt

        parts = urlsplit(endpoint)
        claims = {
            "aud": f"{parts.scheme}://{parts.netloc}",
            "exp": int(now if now is not None else time.time()) + JWT_LIFETIME_SECONDS,
            "sub": self._settings.vapid_subject,
        }
        token = jwt.encode(claims, self.key.private_key, algorithm="ES256")
        return f"vapid t={token}, k={self.key.public_key}"

    def send(self, target: PushTarget, payload: bytes, *, ttl: int, urgency: str, topic: str) -> PushResult:
        from cryptography.hazmat.primitives.asymmetric import ec

        settings = self._settings
        problem = endpoint_problem(target.endpoint, settings.push_allowed_hosts, settings.push_insecure_hosts)
        if problem is not None:  # the allow-list changed since the subscription was made
            logger.warning("push endpoint no longer allowed", extra={"reason": problem})
            return PushResult(410)
        body = encrypt(
            payload,
            ua_public=unb64url(target.p256dh),
            auth_secret=unb64url(target.auth),
            as_private=ec.generate_private_key(ec.SECP256R1()),
            salt=os.urandom(16),
        )
        headers = {
            "Authorization": self.vapid_header(target.endpoint),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(ttl),
            "Urgency": urgency,
            "Topic": topic,
        }
        parts = urlsplit(target.endpoint)
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        timeout = settings.push_timeout_seconds
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:  # only hosts of PUSH_INSECURE_HOSTS get here (endpoint_problem)
            connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            retry_after = response.getheader("Retry-After") or ""
            return PushResult(response.status, int(retry_after) if retry_after.isdigit() else None)
        except (OSError, http.client.HTTPException) as exc:
            logger.warning("push service unreachable", extra={"error_type": type(exc).__name__})
            return PushResult(0)
        finally:
            connection.close()
