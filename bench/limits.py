"""The per-user limits (``RATE_LIMIT_*``, ``MAX_CONNECTIONS_PER_USER``; README "Configuration") as the benchmarks set
them: a benchmark sends far faster than any user, and one user holds more sockets than the cap allows.

- ``LIMITS_OFF``: every limit switched off (``0/1``, no cap), for the runs through the dev stack (``bench/load.py``,
  ``bench/stack_bench.py``, ``bench/memory_probe.py``), which time requests, not what a limit costs.
- ``LIMITS_OUT_OF_REACH``: every limit on but never reached, for the in-process run (``bench/environment.py``), which
  counts round trips, items and request units: each request pays for its counter exactly as in production (the
  history, sync, typing and ping UpdateItem; the send's, read's and join's counter inside their transaction), as
  ``tests/integration/test_round_trips.py`` counts them with the production limits.
"""

from __future__ import annotations

RATE_LIMITED_ACTIONS = ("SEND", "CONVERSATION", "PRESIGN", "ROOM", "TYPING", "READ", "PING", "SYNC", "HISTORY")

LIMITS_OFF = {"MAX_CONNECTIONS_PER_USER": "0", **{f"RATE_LIMIT_{action}": "0/1" for action in RATE_LIMITED_ACTIONS}}

# The production windows, with counts no benchmark reaches; the connection cap's condition is evaluated as in
# production (the size of the user's connection set), only far above it.
_WINDOWS = {"SEND": 2, "CONVERSATION": 60, "PRESIGN": 60, "ROOM": 10, "TYPING": 10, "READ": 10, "PING": 60}
LIMITS_OUT_OF_REACH = {
    "MAX_CONNECTIONS_PER_USER": "100000",
    **{f"RATE_LIMIT_{action}": f"1000000000/{_WINDOWS.get(action, 60)}" for action in RATE_LIMITED_ACTIONS},
}

__all__ = ["LIMITS_OFF", "LIMITS_OUT_OF_REACH", "RATE_LIMITED_ACTIONS"]
