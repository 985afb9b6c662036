"""JWT verification: one pinned algorithm per key, exp and sub required, anything doubtful is a 401."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.auth.tokens import MAX_TOKEN_CHARS, authenticate, bearer_token, issue_token
from chalicelib.domain.principal import Principal
from chalicelib.errors import Unauthorized
from chalicelib.settings import Settings, get_settings

SECRET = "unit-test-secret-0123456789-0123456789-0123"
OTHER_SECRET = "a-different-secret-0123456789-0123456789-01"
ISSUER = "https://issuer.example/"
AUDIENCE = "crochet-messaging"
JWKS_URL = "https://idp.example/.well-known/jwks.json"
LEEWAY = 30


# --- helpers ---------------------------------------------------------------------------------------


def make_settings(**changes: Any) -> Settings:
    """HS256 settings with no issuer/audience/JWKS unless ``changes`` say otherwise."""
    base = {
        "jwt_secret": SECRET,
        "jwt_jwks_url": None,
        "jwt_issuer": None,
        "jwt_audience": None,
        "jwt_leeway_seconds": LEEWAY,
    }
    return dataclasses.replace(get_settings(), **{**base, **changes})


HS = make_settings()


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for ``alice``; an override of ``None`` removes the claim."""
    now = int(time.time())
    values: dict[str, Any] = {"sub": "alice", "iat": now, "exp": now + 600, **overrides}
    return {name: value for name, value in values.items() if value is not None}


def hs256(payload: dict[str, Any], key: str = SECRET) -> str:
    return jwt.encode(payload, key, algorithm="HS256")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unsigned(payload: dict[str, Any], alg: str = "none") -> str:
    """An ``alg: none`` token, built by hand since libraries rightly refuse to make one."""
    return f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(payload)}."


def hmac_by_hand(payload: dict[str, Any], key: bytes, alg: str = "HS256") -> str:
    """An HMAC token signed with arbitrary key bytes (PyJWT refuses PEM keys as HMAC secrets)."""
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    signing_input = f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(payload)}"
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


def assert_refused(token: str | None, settings: Settings = HS, keys: Any = None) -> Unauthorized:
    with pytest.raises(Unauthorized) as caught:
        authenticate(token, settings, keys)
    assert caught.value.status == 401
    assert caught.value.code == "unauthorized"
    return caught.value


# --- valid HS256 tokens ----------------------------------------------------------------------------


def test_valid_token_gives_its_principal() -> None:
    payload = claims(role="service", name="Alice A.", picture="https://cdn.example/a.png")
    assert authenticate(hs256(payload), HS) == Principal(
        user_id="alice", role="service", name="Alice A.", picture="https://cdn.example/a.png", expires_at=payload["exp"]
    )


def identity(principal: Principal) -> Principal:
    """The principal without its token expiry (checked on its own in the test above)."""
    return dataclasses.replace(principal, expires_at=None)


def test_profile_claims_are_optional() -> None:
    assert identity(authenticate(hs256(claims()), HS)) == Principal(user_id="alice")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"role": 7, "name": "Al", "picture": "https://cdn.example/p"},
            Principal("alice", None, "Al", "https://cdn.example/p"),
        ),
        ({"name": "Al\x1b[2J", "picture": "p"}, Principal("alice")),  # as the platform's profile rule (test_profiles)
        ({"role": "user", "name": "   ", "picture": ""}, Principal("alice", "user", None, None)),
        ({"name": ["not", "a", "string"], "picture": {"url": "x"}}, Principal("alice")),
    ],
)
def test_malformed_profile_claims_are_dropped(extra: dict[str, Any], expected: Principal) -> None:
    assert identity(authenticate(hs256(claims(**extra)), HS)) == expected


def test_expiry_within_leeway_is_tolerated() -> None:
    now = int(time.time())
    assert authenticate(hs256(claims(iat=now - 600, exp=now - LEEWAY // 3)), HS).user_id == "alice"


def test_issue_token_is_accepted_by_authenticate() -> None:
    token = issue_token("bob", secret=SECRET, role="user", name="Bob")
    assert identity(authenticate(token, HS)) == Principal(user_id="bob", role="user", name="Bob")


def test_issued_token_expires() -> None:
    token = issue_token("bob", secret=SECRET, ttl_seconds=60, now=int(time.time()) - 3600)
    assert_refused(token)


# --- refused HS256 tokens --------------------------------------------------------------------------


def _now() -> int:
    return int(time.time())


REFUSED: dict[str, Callable[[], str]] = {
    "expired": lambda: hs256(claims(iat=_now() - 7200, exp=_now() - 3600)),
    "expired beyond leeway": lambda: hs256(claims(exp=_now() - LEEWAY - 5)),
    "nbf in the future": lambda: hs256(claims(nbf=_now() + 3600)),
    "wrong secret": lambda: hs256(claims(), OTHER_SECRET),
    "alg none": lambda: unsigned(claims()),
    "alg None": lambda: unsigned(claims(), alg="None"),
    "alg NONE": lambda: unsigned(claims(), alg="NONE"),
    "hs256 by hand with another key": lambda: hmac_by_hand(claims(), OTHER_SECRET.encode()),
    "hs256 with an empty key": lambda: hmac_by_hand(claims(), b""),
    "hs512 with the right secret": lambda: hmac_by_hand(claims(), SECRET.encode(), alg="HS512"),
    "missing sub": lambda: hs256(claims(sub=None)),
    "missing exp": lambda: hs256(claims(exp=None)),
    "non-numeric exp": lambda: hs256(claims(exp="tomorrow")),
    "empty sub": lambda: hs256(claims(sub="")),
    "sub with a space": lambda: hs256(claims(sub="alice smith")),
    "sub with a slash": lambda: hs256(claims(sub="../admin")),
    "sub with a hash": lambda: hs256(claims(sub="alice#bob")),
    "sub too long": lambda: hs256(claims(sub="a" * 129)),
    "sub not a string": lambda: hs256(claims(sub=12345)),
    "garbage": lambda: "not.a.jwt",
    "two segments": lambda: hs256(claims()).rsplit(".", 1)[0],
    "empty signature": lambda: hs256(claims()).rsplit(".", 1)[0] + ".",
}


@pytest.mark.parametrize("make_token", REFUSED.values(), ids=REFUSED.keys())
def test_refused(make_token: Callable[[], str]) -> None:
    assert_refused(make_token())


@pytest.mark.parametrize("token", [None, ""])
def test_no_token_is_refused(token: str | None) -> None:
    assert_refused(token)


def test_tampered_payload_is_refused() -> None:
    header, _, signature = hs256(claims()).split(".")
    forged = f"{header}.{segment(claims(sub='bob', role='service'))}.{signature}"
    assert_refused(forged)


def test_tampered_signature_is_refused() -> None:
    token = hs256(claims())
    last = token[-1]
    assert_refused(token[:-1] + ("A" if last != "A" else "B"))


def test_sub_with_trailing_newline_is_refused() -> None:
    assert_refused(hs256(claims(sub="alice\n")))


def test_oversized_token_is_refused() -> None:
    assert_refused("a" * 100_000)


def test_oversized_token_is_refused_even_when_well_signed() -> None:
    token = hs256(claims(padding="x" * 100_000))
    assert len(token) > MAX_TOKEN_CHARS
    assert_refused(token)


# --- issuer and audience ---------------------------------------------------------------------------

ISS_AUD = make_settings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE)


@pytest.mark.parametrize("aud", [AUDIENCE, ["another-api", AUDIENCE]])
def test_issuer_and_audience_accepted_when_they_match(aud: str | list[str]) -> None:
    assert authenticate(hs256(claims(iss=ISSUER, aud=aud)), ISS_AUD).user_id == "alice"


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://evil.example/", "aud": AUDIENCE},
        {"iss": None, "aud": AUDIENCE},
        {"iss": ISSUER, "aud": "another-api"},
        {"iss": ISSUER, "aud": None},
        {"iss": ISSUER, "aud": ["another-api"]},
    ],
    ids=["wrong iss", "missing iss", "wrong aud", "missing aud", "aud list without ours"],
)
def test_issuer_and_audience_refused_when_configured(overrides: dict[str, Any]) -> None:
    assert_refused(hs256(claims(**overrides)), ISS_AUD)


def test_issuer_alone_is_enforced() -> None:
    settings = make_settings(jwt_issuer=ISSUER)
    assert authenticate(hs256(claims(iss=ISSUER)), settings).user_id == "alice"
    assert_refused(hs256(claims(iss="https://evil.example/")), settings)


def test_audience_alone_is_enforced() -> None:
    settings = make_settings(jwt_audience=AUDIENCE)
    assert authenticate(hs256(claims(aud=AUDIENCE)), settings).user_id == "alice"
    assert_refused(hs256(claims(aud="another-api")), settings)


def test_issuer_and_audience_are_not_checked_when_not_configured() -> None:
    token = hs256(claims(iss="https://anyone.example/", aud="anything"))
    assert authenticate(token, HS).user_id == "alice"


# --- bearer_token ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer abc.def.ghi", "abc.def.ghi"),
        ("BEARER abc", "abc"),
        ("  Bearer   abc  ", "abc"),
    ],
)
def test_bearer_token_extracts_the_token(header: str, token: str) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Basic YWxpY2U6c2VjcmV0",
        "Token abc",
        "Bearerabc",
        "abc.def.ghi",
    ],
    ids=[
        "missing",
        "empty",
        "blank",
        "scheme only",
        "scheme and space",
        "scheme and spaces",
        "basic",
        "token scheme",
        "no separator",
        "bare token",
    ],
)
def test_bearer_token_refuses(header: str | None) -> None:
    with pytest.raises(Unauthorized) as caught:
        bearer_token(header)
    assert caught.value.status == 401


# --- RS256 through a JWKS --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeJwksClient:
    """Stands in for PyJWKClient: always serves one public key, and records what it was asked."""

    def __init__(self, public_key: rsa.RSAPublicKey) -> None:
        self.public_key = public_key
        self.tokens: list[str] = []

    def get_signing_key_from_jwt(self, token: str) -> SimpleNamespace:
        self.tokens.append(token)
        return SimpleNamespace(key=self.public_key)


@pytest.fixture
def jwks(rsa_key: rsa.RSAPrivateKey) -> FakeJwksClient:
    """The identity provider's keys, passed to ``authenticate`` as the JWKS client."""
    return FakeJwksClient(rsa_key.public_key())


RS = make_settings(jwt_jwks_url=JWKS_URL, jwt_secret=None)


def rs256(payload: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "test-key"})


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_rs256_token_signed_by_the_idp_key_is_accepted(jwks: FakeJwksClient, rsa_key: rsa.RSAPrivateKey) -> None:
    token = rs256(claims(name="Alice"), rsa_key)
    assert identity(authenticate(token, RS, jwks)) == Principal(user_id="alice", name="Alice")
    assert jwks.tokens == [token]


def test_rs256_token_signed_by_another_key_is_refused(jwks: FakeJwksClient, other_rsa_key: rsa.RSAPrivateKey) -> None:
    assert_refused(rs256(claims(), other_rsa_key), RS, jwks)


def test_algorithm_confusion_public_pem_as_hmac_secret_is_refused(
    jwks: FakeJwksClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    pem = public_pem(rsa_key)
    assert_refused(hmac_by_hand(claims(), pem), RS, jwks)
    assert_refused(hmac_by_hand(claims(), pem.strip()), RS, jwks)


def test_hs256_with_the_shared_secret_is_refused_in_jwks_mode(jwks: FakeJwksClient) -> None:
    settings = make_settings(jwt_jwks_url=JWKS_URL, jwt_secret=SECRET)
    assert_refused(hs256(claims()), settings, jwks)


def test_alg_none_is_refused_in_jwks_mode(jwks: FakeJwksClient) -> None:
    assert_refused(unsigned(claims()), RS, jwks)


def test_expired_rs256_token_is_refused(jwks: FakeJwksClient, rsa_key: rsa.RSAPrivateKey) -> None:
    assert_refused(rs256(claims(iat=_now() - 7200, exp=_now() - 3600), rsa_key), RS, jwks)


def test_rs256_sub_must_be_an_entity_id(jwks: FakeJwksClient, rsa_key: rsa.RSAPrivateKey) -> None:
    assert_refused(rs256(claims(sub="alice smith"), rsa_key), RS, jwks)


def test_unknown_signing_key_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    class NoKeys:
        def get_signing_key_from_jwt(self, token: str) -> SimpleNamespace:
            raise jwt.PyJWKClientError("Unable to find a signing key that matches")

    assert_refused(rs256(claims(), rsa_key), RS, NoKeys())


def test_rs256_token_is_refused_in_shared_secret_mode(rsa_key: rsa.RSAPrivateKey) -> None:
    assert_refused(rs256(claims(), rsa_key), HS)
