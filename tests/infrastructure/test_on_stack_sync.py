"""tests/integration/test_sync.py, against the tables and bucket the template creates (see conftest)."""

from tests.integration.test_sync import *  # noqa: F403
