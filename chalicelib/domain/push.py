"""Web Push as rules and pure computation: which subscriptions are acceptable, when a message is pushed, what the
notification says, and the message encryption of RFC 8291 (aes128gcm, RFC 8188) with its inputs passed in.

Nothing here does I/O: the sender (``adapters.webpush``) draws the ephemeral key and salt, signs VAPID (RFC 8292)
and posts; the use cases (``services.push``) read and write the subscriptions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # cryptography is imported on first use: most functions never push (cold starts)
    from cryptography.hazmat.primitives.asymmetric import ec

SUBSCRIPTION_PREFIX = "psub_"
_DIGEST_CHARS = 26
_SUBSCRIPTION_ID = re.compile(rf"^{SUBSCRIPTION_PREFIX}[a-z2-7]{{{_DIGEST_CHARS}}}$")
ENDPOINT_MAX_CHARS = 1024
RECORD_SIZE = 4096  # the aes128gcm record size: one record holds every payload a push service accepts
PREVIEW_CHARS = 140  # of a message's text in the notification (as in conversation previews)
NO_PREVIEW_BODY = "New message"
ATTACHMENT_BODY = {"image": "📷 Photo", "file": "📎 File"}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Base64url with or without padding; ValueError for anything else."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))


def subscription_id_for(endpoint: str) -> str:
    """A user's subscription id is its endpoint's digest: the same endpoint again is the same subscription."""
    digest = hashlib.sha256(endpoint.encode()).digest()
    return SUBSCRIPTION_PREFIX + base64.b32encode(digest).decode().lower()[:_DIGEST_CHARS]


def is_subscription_id(value: str) -> bool:
    return bool(_SUBSCRIPTION_ID.fullmatch(value))


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """``host`` is one of ``allowed`` (exactly, or a subdomain of a ``*.domain`` entry)."""
    host = host.lower().rstrip(".")
    for pattern in allowed:
        pattern = pattern.lower().strip()
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def endpoint_problem(endpoint: str, allowed_hosts: Iterable[str], insecure_hosts: Iterable[str]) -> str | None:
    """Why an endpoint is refused (None: acceptable): https on an allowed push service, or http(s) on an
    ``insecure_hosts`` entry (a local receiver); never credentials, never a fragment."""
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        parts.port  # noqa: B018 # raises for a port that is not a number
    except ValueError:
        return "the endpoint is not a URL"
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        return "the endpoint is not a push service URL"
    insecure = [h for h in insecure_hosts if h]
    if host_allowed(host, insecure):
        return None if parts.scheme in ("http", "https") else "the endpoint must be http or https"
    if parts.scheme != "https":
        return "the endpoint must be https"
    if not host_allowed(host, allowed_hosts):
        return "the endpoint is not on a known push service"
    return None


def p256_point_problem(value: str) -> str | None:
    """Why a ``p256dh`` key is refused (None: a valid uncompressed P-256 point, base64url)."""
    try:
        raw = unb64url(value)
    except ValueError:
        return "p256dh is not base64url"
    if len(raw) != 65 or raw[0] != 4:
        return "p256dh must be an uncompressed P-256 point (65 bytes)"
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        return "p256dh is not a point on P-256"
    return None


def auth_secret_problem(value: str) -> str | None:
    try:
        raw = unb64url(value)
    except ValueError:
        return "auth is not base64url"
    return None if len(raw) == 16 else "auth must be 16 bytes"


def should_push(*, recipient_in_room: bool, muted: bool, enabled: bool, subscribed: bool) -> bool:
    """A new message is pushed when its recipient is not watching the conversation, has not muted it, wants push
    and has a browser to push to."""
    return subscribed and enabled and not muted and not recipient_in_room


def topic_for(conversation_id: str) -> str:
    """RFC 8030's ``Topic`` (at most 32 base64url characters): a conversation's new notification replaces the one
    the push service still holds for it. Conversation ids already fit (``conv_`` + 26 base32 characters)."""
    if re.fullmatch(r"[A-Za-z0-9_-]{1,32}", conversation_id):
        return conversation_id
    return b64url(hashlib.sha256(conversation_id.encode()).digest())[:32]


@dataclass(frozen=True)
class PushTarget:
    """Where one notification goes: a subscription's endpoint and keys."""

    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class PushResult:
    """The push service's answer: its status (0: not reached) and ``Retry-After`` seconds, when it said."""

    status: int
    retry_after: int | None = None

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        """The subscription expired or was withdrawn (RFC 8030 section 7.3): forget it."""
        return self.status in (404, 410)

    @property
    def transient(self) -> bool:
        """Worth trying again later: throttled, the service failing, or not reached at all."""
        return self.status in (0, 429) or self.status >= 500


@dataclass(frozen=True)
class Notification:
    """What the service worker receives (``payload``): the wire shape the browser client documents."""

    conversation_id: str
    message_id: str
    title: str
    body: str

    def payload(self) -> bytes:
        return json.dumps(
            {
                "type": "new_message",
                "conversationId": self.conversation_id,
                "messageId": self.message_id,
                "title": self.title,
                "body": self.body,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()


def notification_for(
    *,
    conversation_id: str,
    message_id: str,
    sender_name: str,
    content: str,
    attachment_kind: str | None,
    show_preview: bool,
) -> Notification:
    """The title is who wrote; the body previews the message, or says only that one came (``showPreview`` off)."""
    if not show_preview:
        body = NO_PREVIEW_BODY
    elif content.strip():
        text = " ".join(content.split())
        body = text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
    else:
        body = ATTACHMENT_BODY.get(attachment_kind or "", NO_PREVIEW_BODY)
    return Notification(conversation_id, message_id, sender_name[:100], body)


def retry_delay(receive_count: int, retry_after: int | None = None, *, base: int = 10, cap: int = 900) -> int:
    """Seconds before a push the service refused for now (429, 5xx, unreachable) is tried again: the service's
    ``Retry-After`` when it gave one, else exponential from ``base``; at most ``cap`` (SQS's visibility limit is
    12 hours, but past 15 minutes a chat notification is better late than retried later still)."""
    if retry_after is not None and retry_after > 0:
        return min(retry_after, cap)
    return int(min(base * 2 ** max(receive_count - 1, 0), cap))


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def encrypt(
    plaintext: bytes,
    *,
    ua_public: bytes,
    auth_secret: bytes,
    as_private: ec.EllipticCurvePrivateKey,
    salt: bytes,
) -> bytes:
    """RFC 8291 message encryption: the body of the push request (``Content-Encoding: aes128gcm``).

    ``ua_public`` is the subscription's ``p256dh`` (65 bytes), ``auth_secret`` its ``auth``; ``as_private`` a fresh
    P-256 key and ``salt`` 16 random bytes per message (the sender draws them; tests pass RFC 8291's).
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(salt) != 16:
        raise ValueError("the salt is 16 bytes")
    ua_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ua_public)
    as_public = as_private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    ecdh_secret = as_private.exchange(ec.ECDH(), ua_key)
    # HKDF-SHA-256 with one output block each, as RFC 8291 section 3.4 writes it.
    prk_key = _hmac(auth_secret, ecdh_secret)
    ikm = _hmac(prk_key, b"WebPush: info\x00" + ua_public + as_public + b"\x01")
    prk = _hmac(salt, ikm)
    cek = _hmac(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
    nonce = _hmac(prk, b"Content-Encoding: nonce\x00\x01")[:12]
    if len(plaintext) + 1 + 16 > RECORD_SIZE:
        raise ValueError("the payload does not fit one record")
    ciphertext = AESGCM(cek).encrypt(nonce, plaintext + b"\x02", None)  # 0x02: the last (only) record
    header = salt + struct.pack("!IB", RECORD_SIZE, len(as_public)) + as_public
    return header + ciphertext
