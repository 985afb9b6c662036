"""Creating the tables from the models (dev stack and tests; infrastructure/ mirrors the same shapes)."""

from __future__ import annotations

from chalicelib.adapters.dynamodb import ALL_MODELS


def reset_connections() -> None:
    """Forget PynamoDB's cached per-model clients (after switching endpoints, e.g. between moto setups)."""
    for model in ALL_MODELS:
        model._connection = None


def create_tables() -> list[str]:
    """Create every table that does not exist yet; returns the names created."""
    connection = ALL_MODELS[0]._get_connection().connection
    existing: set[str] = set()
    start = None
    while True:
        page = connection.list_tables(exclusive_start_table_name=start)
        existing.update(page.get("TableNames", []))
        start = page.get("LastEvaluatedTableName")
        if not start:
            break
    created = []
    for model in ALL_MODELS:
        if model.Meta.table_name not in existing:
            model.create_table(wait=True)
            created.append(model.Meta.table_name)
    return created
