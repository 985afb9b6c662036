"""Settings tuned for the in-process suites (unit, integration), not for a running stack.

tests/conftest.py sets them before the app is imported; the e2e stacks leave them out (tests/e2e/conftest.py), so
they run with the defaults ``make dev`` has.
"""

IN_PROCESS_TUNING = {
    # The suites' connections are milliseconds old when a fault says they are gone: no grace unless a test is
    # about it (test_delivery_faults.py).
    "CONNECT_GRACE_SECONDS": "0",
    # Each test starts on fresh tables with the container's list of suspensions emptied (integration conftest):
    # it is never reloaded within a test unless the test says so (test_moderation.py).
    "SUSPENSION_REFRESH_SECONDS": "3600",
    # The concurrency tests put 4-8 writers on one conversation on a loaded 2-core machine, far beyond a
    # 1:1 chat's real contention; give losers more turns (test_transactions.py proves the give-up path).
    "SEND_MAX_ATTEMPTS": "20",
}

# Off unless a test is about them: suites send far faster than any user (test_rate_limits.py proves each limit
# in-process). The e2e stacks run with them off as well, and say so (tests/e2e/conftest.py).
RATE_LIMITS_OFF = {
    "RATE_LIMIT_SEND": "0/1",
    "RATE_LIMIT_CONVERSATION": "0/1",
    "RATE_LIMIT_PRESIGN": "0/1",
    "RATE_LIMIT_ROOM": "0/1",
    "RATE_LIMIT_TYPING": "0/1",
    "RATE_LIMIT_READ": "0/1",
    "RATE_LIMIT_PING": "0/1",
    "RATE_LIMIT_SYNC": "0/1",
    "RATE_LIMIT_HISTORY": "0/1",
    "RATE_LIMIT_EDIT": "0/1",
    "RATE_LIMIT_REACTION": "0/1",
    "RATE_LIMIT_PRESENCE": "0/1",
    "RATE_LIMIT_SEARCH": "0/1",
    "RATE_LIMIT_SETTINGS": "0/1",
    "RATE_LIMIT_BLOCK": "0/1",
    "RATE_LIMIT_REPORT": "0/1",
}
