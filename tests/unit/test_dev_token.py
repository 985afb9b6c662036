"""``make token USER=… TTL=…``: short-lived dev tokens for trying expiry."""

from __future__ import annotations

import jwt
import pytest

from chalicelib.settings import get_settings
from dev.token import main, ttl_seconds


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("5m", 300), ("2h", 7200), ("1d", 86400)])
def test_ttl_takes_seconds_or_a_unit(text: str, seconds: int) -> None:
    assert ttl_seconds(text) == seconds


@pytest.mark.parametrize("text", ["0", "-5", "5 minutes", "1.5h", ""])
def test_a_ttl_that_is_not_a_positive_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="positive number of seconds"):
        ttl_seconds(text)


def test_the_token_expires_after_its_ttl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bob", "--ttl", "60"]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, get_settings().jwt_secret, algorithms=["HS256"])
    assert claims["sub"] == "bob"
    assert claims["exp"] - claims["iat"] == 60


def test_a_bad_ttl_fails_without_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bob", "--ttl", "soon"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "--ttl 'soon'" in captured.err
