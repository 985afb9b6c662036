"""Creating the tables from the models (dev stack and tests; infrastructure/ mirrors the same shapes)."""

from __future__ import annotations

from chalicelib.models import ALL_MODELS


def reset_connections() -> None:
    """Forget PynamoDB's cached per-model clients (after switching endpoints, e.g. between moto setups)."""
    for model in ALL_MODELS:
        model._connection = None


def create_tables() -> list[str]:
    """Create every table that does not exist yet; returns the names created."""
    created = []
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=True)
            created.append(model.Meta.table_name)
    return created
