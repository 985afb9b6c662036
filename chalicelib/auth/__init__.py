"""Who is calling: JWT verification and the caller's identity."""

from chalicelib.auth.principal import Principal
from chalicelib.auth.tokens import authenticate, bearer_token

__all__ = ["Principal", "authenticate", "bearer_token"]
