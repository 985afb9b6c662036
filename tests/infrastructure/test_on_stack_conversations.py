"""tests/integration/test_conversations.py, against the tables and bucket the template creates (see conftest)."""

from tests.integration.test_conversations import *  # noqa: F403
