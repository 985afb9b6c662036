"""tests/integration/test_attachments.py, against the tables and bucket the template creates (see conftest)."""

from tests.integration.test_attachments import *  # noqa: F403
