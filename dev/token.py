"""Print a dev token: ``python -m dev.token USER [--role ROLE] [--ttl 90|90s|5m|2h]`` (``make token USER=alice``).

Signed with ``JWT_SECRET`` from the environment, else the documented dev secret: what the dev stack accepts.
A short ``--ttl`` (``make token USER=bob TTL=60``) is for trying expiry: the app accepts a token up to
``JWT_LEEWAY_SECONDS`` (30 s by default) after its ``exp``, as it tolerates clock skew.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

DEFAULT_TTL_SECONDS = 12 * 3600
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def ttl_seconds(text: str) -> int:
    """``90``, ``90s``, ``5m``, ``2h`` or ``1d`` as seconds; ValueError for anything else (or not positive)."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text.lower())
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"--ttl {text!r}: a positive number of seconds, or with s, m, h or d (90, 5m, 2h)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dev.token", description=__doc__.splitlines()[0])
    parser.add_argument("user", help="the token's subject (user id), e.g. alice")
    parser.add_argument("--role", help='a role claim, e.g. "service" for /api/internal')
    parser.add_argument(
        "--ttl", default=str(DEFAULT_TTL_SECONDS), help="until it expires: seconds, or 90s, 5m, 2h, 1d (default 12 h)"
    )
    return parser.parse_args(argv)


def fail(message: str) -> int:
    print(f"dev.token: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.environ.get("JWT_JWKS_URL"):
        return fail("JWT_JWKS_URL is set, so tokens come from the identity provider, not from here")
    from chalicelib.auth.tokens import issue_token
    from chalicelib.domain.ids import is_entity_id
    from chalicelib.settings import get_settings

    if not is_entity_id(args.user):
        return fail(f"{args.user!r} is not a valid user id (letters, digits, _.:@|+-)")
    try:
        ttl = ttl_seconds(args.ttl)
    except ValueError as exc:
        return fail(str(exc))
    # Settings already resolve JWT_SECRET-or-dev-default: the same secret the app verifies with.
    print(issue_token(args.user, secret=get_settings().jwt_secret, role=args.role, ttl_seconds=ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
