"""The wire format: pydantic models with camelCase JSON names."""
