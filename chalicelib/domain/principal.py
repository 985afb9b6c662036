"""The verified identity behind a request."""

from __future__ import annotations

from dataclasses import dataclass

SERVICE_ROLE = "service"
MODERATOR_ROLE = "moderator"


@dataclass(frozen=True)
class Principal:
    """A caller: ``user_id`` is the JWT's ``sub``; name and picture are its profile claims."""

    user_id: str
    role: str | None = None
    name: str | None = None
    picture: str | None = None
    expires_at: int | None = None  # the token's ``exp`` (seconds since the epoch)

    @property
    def is_service(self) -> bool:
        return self.role == SERVICE_ROLE

    @property
    def is_moderator(self) -> bool:
        return self.role == MODERATOR_ROLE
