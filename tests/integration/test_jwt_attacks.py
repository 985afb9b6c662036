"""Forged, stale and confused JWTs at the doors they would be used on: REST and the socket's ``$connect``.

``tests/unit/test_tokens.py`` checks ``authenticate`` itself and ``test_auth.py`` that every route answers
401; here each attack goes through the real handlers, under the configuration it targets (shared secret,
issuer and audience, JWKS), and must be refused the same way everywhere with nothing stored.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib import bootstrap
from chalicelib.adapters.dynamodb import Connection, Conversation, Message, UserProfile
from chalicelib.settings import get_settings
from tests.integration.conftest import Api, Response
from tests.integration.sockets import Sockets

ISSUER = "https://issuer.example/"
AUDIENCE = "crochet-messaging"
JWKS_URL = "https://idp.example/.well-known/jwks.json"
OTHER_SECRET = "an-attackers-secret-0123456789-0123456789-0123"

SHARED, ISSUER_AUDIENCE, JWKS = "shared secret", "issuer and audience", "jwks"

LIST, SEND, CONNECT = "GET /api/messages/conversations", "POST /api/messages", "$connect"


# --- keys and tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    idp: rsa.RSAPrivateKey  # the identity provider's key, published in the (fake) JWKS
    other: rsa.RSAPrivateKey  # anyone else's

    @property
    def public_pem(self) -> bytes:
        return self.idp.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@pytest.fixture(scope="module")
def keys() -> Keys:
    def generate() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    return Keys(generate(), generate())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for bob under the current configuration; an override of ``None`` removes a claim."""
    settings = get_settings()
    now = int(time.time())
    values: dict[str, Any] = {"sub": "bob", "iat": now, "exp": now + 600}
    if settings.jwt_issuer:
        values["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        values["aud"] = settings.jwt_audience
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def hs256(payload: dict[str, Any], secret: str | None = None) -> str:
    return jwt.encode(payload, secret or get_settings().jwt_secret, algorithm="HS256")


def unsigned(payload: dict[str, Any], alg: str = "none") -> str:
    """An unsecured JWT, built by hand (libraries rightly refuse to make one)."""
    return f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(payload)}."


def hmac_signed(payload: dict[str, Any], key: bytes, alg: str = "HS256") -> str:
    """An HMAC token with arbitrary key bytes: PyJWT refuses a PEM public key as an HMAC secret (and warns
    about short HS512 keys); an attacker does neither."""
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    signing_input = f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(payload)}"
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


def tampered(payload_change: dict[str, Any]) -> str:
    """A valid token whose payload was rewritten, its signature kept."""
    header, _, signature = hs256(claims()).split(".")
    return f"{header}.{segment(claims(**payload_change))}.{signature}"


def rs256(payload: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    return jwt.encode(payload, key, algorithm="RS256")


# --- configuration -----------------------------------------------------------------------------------


class FakeJwksClient:
    """Stands in for PyJWKClient: whatever the token, the signing key is the IdP's public key."""

    def __init__(self, public_key: rsa.RSAPublicKey) -> None:
        self.public_key = public_key

    def get_signing_key_from_jwt(self, token: str) -> SimpleNamespace:
        return SimpleNamespace(key=self.public_key)


@pytest.fixture
def configure(keys: Keys) -> Iterator[Callable[[str], None]]:
    """Switch token verification to a mode for the rest of the test (settings rebuilt, restored after)."""
    with pytest.MonkeyPatch.context() as patch:

        def apply(mode: str) -> None:
            if mode == ISSUER_AUDIENCE:
                patch.setenv("JWT_ISSUER", ISSUER)
                patch.setenv("JWT_AUDIENCE", AUDIENCE)
            elif mode == JWKS:
                # JWKS mode refuses to start without an audience (settings.ConfigurationError).
                patch.setenv("JWT_JWKS_URL", JWKS_URL)
                patch.setenv("JWT_AUDIENCE", AUDIENCE)
            get_settings.cache_clear()
            # The app runs on these settings, with the IdP's keys as its JWKS source (bootstrap.build).
            bootstrap.install(bootstrap.build(signing_keys=FakeJwksClient(keys.idp.public_key())))

        yield apply
    get_settings.cache_clear()
    bootstrap.install(None)


@pytest.fixture
def doors(api: Api, sockets: Sockets) -> Doors:
    api.user("alice")  # someone bob may message (written before the mode changes: a shared-secret service token)
    return Doors(api, sockets)


class Doors:
    """The places a token is presented: a read, a write, and the socket's upgrade."""

    def __init__(self, api: Api, sockets: Sockets) -> None:
        self.api, self.sockets = api, sockets

    @staticmethod
    def _rest(response: Response) -> tuple[int, str | None, str | None]:
        code = response.body["error"]["code"] if response.status >= 400 else None
        challenge = response.headers.get("WWW-Authenticate", "").split(" ")[0] or None
        return response.status, code, challenge

    def try_token(self, token: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        listed = self.api.call("GET", "/api/messages/conversations", headers=headers)
        sent = self.api.call("POST", "/api/messages", body={"recipientId": "alice", "content": "hi"}, headers=headers)
        return {LIST: self._rest(listed), SEND: self._rest(sent), CONNECT: self.sockets.connect_status(token)}


REFUSED = {LIST: (401, "unauthorized", "Bearer"), SEND: (401, "unauthorized", "Bearer"), CONNECT: 401}
ACCEPTED = {LIST: (200, None, None), SEND: (201, None, None), CONNECT: 200}


def assert_nothing_stored() -> None:
    assert (Message.count(), Conversation.count(), Connection.count()) == (0, 0, 0)
    for user in ("bob", "alice"):
        with contextlib.suppress(UserProfile.DoesNotExist):
            assert not UserProfile.get(user).connection_ids


# --- the attacks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attack:
    mode: str
    token: Callable[[Keys], str]  # built once the mode is configured


def _now() -> int:
    return int(time.time())


ATTACKS: dict[str, Attack] = {
    "alg none": Attack(SHARED, lambda k: unsigned(claims())),
    "alg NONE": Attack(SHARED, lambda k: unsigned(claims(), alg="NONE")),
    "expired": Attack(SHARED, lambda k: hs256(claims(iat=_now() - 7200, exp=_now() - 3600))),
    "nbf in the future": Attack(SHARED, lambda k: hs256(claims(nbf=_now() + 3600))),
    "signed with another secret": Attack(SHARED, lambda k: hs256(claims(), OTHER_SECRET)),
    "HS512 with the shared secret": Attack(
        SHARED, lambda k: hmac_signed(claims(), get_settings().jwt_secret.encode(), alg="HS512")
    ),
    "payload tampered, signature kept": Attack(SHARED, lambda k: tampered({"sub": "alice"})),
    "role tampered, signature kept": Attack(SHARED, lambda k: tampered({"role": "service"})),
    "missing sub": Attack(SHARED, lambda k: hs256(claims(sub=None))),
    "empty sub": Attack(SHARED, lambda k: hs256(claims(sub=""))),
    "sub with a trailing newline": Attack(SHARED, lambda k: hs256(claims(sub="bob\n"))),
    "sub with a space": Attack(SHARED, lambda k: hs256(claims(sub="bob alice"))),
    "sub with a path": Attack(SHARED, lambda k: hs256(claims(sub="../alice"))),
    "sub with a NUL": Attack(SHARED, lambda k: hs256(claims(sub="bob\x00"))),
    "sub not a string": Attack(SHARED, lambda k: hs256(claims(sub=42))),
    "100 KB token, well signed": Attack(SHARED, lambda k: hs256(claims(padding="x" * 100_000))),
    "wrong iss": Attack(ISSUER_AUDIENCE, lambda k: hs256(claims(iss="https://evil.example/"))),
    "wrong aud": Attack(ISSUER_AUDIENCE, lambda k: hs256(claims(aud="another-service"))),
    "missing iss": Attack(ISSUER_AUDIENCE, lambda k: hs256(claims(iss=None))),
    "missing aud": Attack(ISSUER_AUDIENCE, lambda k: hs256(claims(aud=None))),
    "jwks: HS256 keyed with the IdP's public PEM": Attack(JWKS, lambda k: hmac_signed(claims(), k.public_pem)),
    "jwks: RS256 from another private key": Attack(JWKS, lambda k: rs256(claims(), k.other)),
    "jwks: HS256 with the shared secret": Attack(JWKS, lambda k: hs256(claims())),
    # Signed by the IdP itself, but for another of its applications (finding 13): the audience is required.
    "jwks: the IdP's token for another audience": Attack(JWKS, lambda k: rs256(claims(aud="other-app"), k.idp)),
    "jwks: the IdP's token without aud": Attack(JWKS, lambda k: rs256(claims(aud=None), k.idp)),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_is_refused_on_rest_and_connect(
    doors: Doors, configure: Callable[[str], None], keys: Keys, name: str
) -> None:
    attack = ATTACKS[name]
    configure(attack.mode)

    observed = doors.try_token(attack.token(keys))

    assert observed == REFUSED
    assert_nothing_stored()


VALID = {
    SHARED: lambda k: hs256(claims()),
    ISSUER_AUDIENCE: lambda k: hs256(claims()),  # with the configured iss and aud
    JWKS: lambda k: rs256(claims(), k.idp),
}


@pytest.mark.parametrize("mode", list(VALID))
def test_a_valid_token_of_each_mode_is_accepted(
    doors: Doors, configure: Callable[[str], None], keys: Keys, mode: str
) -> None:
    configure(mode)

    observed = doors.try_token(VALID[mode](keys))

    assert observed == ACCEPTED
    assert [c.user_id for c in Connection.scan()] == ["bob"]
    assert Message.count() == 1
