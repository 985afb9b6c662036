"""JWT verification (RFC 8725 practice): one pinned algorithm per key, ``exp`` and ``sub`` required.

PyJWT is imported on first use, not with this module: it loads ``cryptography`` (about 25 ms, a tenth of the
app's import), which only the functions that verify tokens (REST and ``$connect``) ever need; the socket
frame, disconnect and upload functions import this module but never call it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol

from chalicelib.domain import profiles
from chalicelib.domain.ids import is_entity_id
from chalicelib.domain.principal import Principal
from chalicelib.errors import Unauthorized
from chalicelib.settings import Settings, get_settings

logger = logging.getLogger(__name__)

MAX_TOKEN_CHARS = 8192  # well above real tokens; a 100 KB "token" is refused before any parsing


class SigningKeys(Protocol):
    """Where RS256 keys come from: PyJWT's JWKS client, or a test's fake."""

    def get_signing_key_from_jwt(self, token: str) -> Any: ...


@lru_cache(maxsize=1)
def jwks_client(url: str) -> SigningKeys:
    """The identity provider's keys, fetched and cached (an hour) by PyJWT; one client per container."""
    import jwt

    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600)


def _verification_key(token: str, settings: Settings, keys: SigningKeys | None) -> tuple[Any, str]:
    """The key and the single algorithm it may verify, chosen by configuration, never by the token."""
    if settings.jwt_jwks_url:
        source = keys if keys is not None else jwks_client(settings.jwt_jwks_url)
        return source.get_signing_key_from_jwt(token).key, "RS256"
    return settings.jwt_secret, "HS256"


def bearer_token(authorization: str | None) -> str:
    """The token in an ``Authorization: Bearer …`` header value."""
    if not authorization:
        raise Unauthorized("missing bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return token.strip()


def authenticate(token: str | None, settings: Settings | None = None, keys: SigningKeys | None = None) -> Principal:
    """Verify ``token`` and return its principal; raise Unauthorized for anything doubtful. In JWKS mode the keys
    come from ``keys`` when given (tests), else from the configured JWKS URL."""
    settings = settings or get_settings()
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized("invalid token")
    required = ["exp", "sub"]
    if settings.jwt_issuer:
        required.append("iss")
    if settings.jwt_audience:
        required.append("aud")
    import jwt

    try:
        key, algorithm = _verification_key(token, settings, keys)
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[algorithm],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway_seconds,
            options={"require": required, "verify_aud": bool(settings.jwt_audience)},
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise Unauthorized("invalid token") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not is_entity_id(subject):
        raise Unauthorized("invalid token subject")
    role = claims.get("role")
    return Principal(
        user_id=subject,
        role=role if isinstance(role, str) else None,
        name=profile_claim(claims, "name", profiles.display_name),
        picture=profile_claim(claims, "picture", profiles.image_url),
        expires_at=int(claims["exp"]),
    )


def profile_claim(claims: dict[str, Any], name: str, rule: Callable[[str], str]) -> str | None:
    """A profile claim that passes the platform's rule for the same field (``domain.profiles``), else None.

    An invalid claim is dropped, not refused: the token is genuine, only its display data is unfit to show, so
    the user is shown by their platform profile or id instead. The drop is logged (which claim and why, never
    the value).
    """
    value = claims.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        logger.info("profile claim dropped", extra={"claim": name, "reason": "not a string"})
        return None
    try:
        return rule(value)
    except ValueError as exc:
        logger.info("profile claim dropped", extra={"claim": name, "reason": str(exc)})
        return None


def issue_token(
    user_id: str,
    *,
    secret: str,
    ttl_seconds: int = 3600,
    role: str | None = None,
    name: str | None = None,
    now: int | None = None,
) -> str:
    """Mint an HS256 token (dev tools, tests, the dev stack); production tokens come from the IdP."""
    import time

    import jwt

    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {"sub": user_id, "iat": issued, "exp": issued + ttl_seconds}
    if role:
        claims["role"] = role
    if name:
        claims["name"] = name
    settings = get_settings()
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, secret, algorithm="HS256")
