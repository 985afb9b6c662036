"""WebSocket entry points: the three handlers on ``app`` call into this package."""
