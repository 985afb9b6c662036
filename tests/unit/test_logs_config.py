"""logs.configure: the libraries that log payloads stay quiet at every LOG_LEVEL."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from chalicelib import logs


@pytest.fixture(autouse=True)
def _restore(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    logs.configure()
    root.setLevel(level)


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING"])
def test_payload_logging_libraries_stay_at_warning(monkeypatch: pytest.MonkeyPatch, level: str) -> None:
    monkeypatch.setenv("LOG_LEVEL", level)
    logs.configure()

    assert logging.getLogger().level == getattr(logging, level)
    for name in ("pynamodb.connection.base", "pynamodb.models", "botocore.endpoint", "botocore.parsers", "urllib3"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        assert logging.getLogger(name).isEnabledFor(logging.WARNING), name
    assert logging.getLogger("chalicelib.services.messaging").isEnabledFor(getattr(logging, level))


def test_a_stricter_log_level_applies_to_the_libraries_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    logs.configure()

    assert not logging.getLogger("botocore.credentials").isEnabledFor(logging.WARNING)
    assert logging.getLogger("botocore.credentials").isEnabledFor(logging.ERROR)
