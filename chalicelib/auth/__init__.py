"""Who is calling: JWT verification into the caller's identity (``domain.principal.Principal``)."""

from chalicelib.auth.tokens import authenticate, bearer_token

__all__ = ["authenticate", "bearer_token"]
