"""tests/integration/test_send.py, against the tables and bucket the template creates (see conftest)."""

from tests.integration.test_send import *  # noqa: F403
