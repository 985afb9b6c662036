"""HTTP entry points: Chalice blueprints, one per resource family."""
