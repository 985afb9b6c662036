"""What became of one frame posted to one connection."""

from __future__ import annotations

from enum import Enum


class Outcome(Enum):
    DELIVERED = "delivered"
    GONE = "gone"  # 410: the connection is closed; forget it
    FAILED = "failed"  # anything else (throttled, 5xx): the message is stored, the client catches up
