"""The socket protocol: the three handlers on ``app`` call ``dispatcher``."""
