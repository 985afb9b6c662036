"""tests/integration/test_websocket.py, against the tables and bucket the template creates (see conftest)."""

from tests.integration.test_websocket import *  # noqa: F403
