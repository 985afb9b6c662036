"""Print a dev token: ``python -m dev.token USER [--role ROLE] [--ttl SECONDS]`` (``make token USER=alice``).

Signed with ``JWT_SECRET`` from the environment, else the documented dev secret: what the dev stack accepts.
"""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_TTL_SECONDS = 12 * 3600


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dev.token", description=__doc__.splitlines()[0])
    parser.add_argument("user", help="the token's subject (user id), e.g. alice")
    parser.add_argument("--role", help='a role claim, e.g. "service" for /api/internal')
    parser.add_argument("--ttl", type=int, default=DEFAULT_TTL_SECONDS, help="seconds until it expires (default 12 h)")
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
    if args.ttl <= 0:
        return fail("--ttl must be a positive number of seconds")
    # Settings already resolve JWT_SECRET-or-dev-default: the same secret the app verifies with.
    print(issue_token(args.user, secret=get_settings().jwt_secret, role=args.role, ttl_seconds=args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
