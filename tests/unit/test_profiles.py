"""One rule for names and avatar URLs shown to others: the platform's profiles and the JWT's claims alike."""

from __future__ import annotations

import time

import jwt
import pytest
from pydantic import ValidationError

from chalicelib.auth.tokens import authenticate
from chalicelib.domain import profiles
from chalicelib.schemas.requests import UpsertPatternRequest, UpsertUserRequest
from tests.unit.test_tokens import HS, SECRET

GOOD_NAMES = ["Alice Loops", "Zoë Ürgüp-Đặng", "山田 花子", "María 🧶", "👩\u200d👩\u200d👧 crochet family", "x" * 200]
BAD_NAMES = {
    "terminal escape": "Alice \x1b[31mLoops",
    "newline": "Alice\nLoops",
    "NUL": "Alice\x00",
    "C1 control": "Alice\x9bLoops",
    "right-to-left override": "Alice Loops \u202e(official)\u202c",
    "isolate": "Alice\u2066Loops\u2069",
    "zero-width space": "Alice\u200bLoops",
    "invisible tag characters": "Alice\U000e0041\U000e0042",
    "line separator": "Alice\u2028Loops",
    "private use": "Alice\ue000",
    "201 characters": "x" * 201,
    "blank": "   ",
}
GOOD_URLS = ["https://cdn.example/avatars/alice.png", "https://cdn.example:8443/a?size=64#x"]
BAD_URLS = {
    "javascript": "javascript:alert(document.cookie)",
    "plain http": "http://cdn.example/a.png",
    "data": "data:image/svg+xml;base64,PHN2Zz4=",
    "no host": "https:///a.png",
    "credentials": "https://user:pass@cdn.example/a.png",
    "space": "https://cdn.example/a b.png",
    "newline": "https://cdn.example/a.png\n",
    "bidi": "https://cdn.example/\u202egnp.exe",
    "2049 characters": "https://cdn.example/" + "a" * 2029,
    "not a port": "https://cdn.example:99999/a.png",
}


def token(**claims: object) -> str:
    return jwt.encode({"sub": "mallory", "exp": int(time.time()) + 600, **claims}, SECRET, algorithm="HS256")


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_a_real_name_is_shown_whichever_way_it_came(name: str) -> None:
    assert profiles.display_name(name) == name
    assert UpsertUserRequest.model_validate({"name": name}).name == name
    assert authenticate(token(name=name), HS).name == name


def test_names_are_trimmed_both_ways() -> None:
    assert UpsertUserRequest.model_validate({"name": "  Alice  "}).name == "Alice"
    assert authenticate(token(name="  Alice  "), HS).name == "Alice"


@pytest.mark.parametrize("case", list(BAD_NAMES))
def test_a_name_the_platform_refuses_is_dropped_from_a_token(case: str) -> None:
    with pytest.raises(ValidationError):
        UpsertUserRequest.model_validate({"name": BAD_NAMES[case]})

    principal = authenticate(token(name=BAD_NAMES[case]), HS)

    assert principal.user_id == "mallory" and principal.name is None  # the token is still good


@pytest.mark.parametrize("url", GOOD_URLS)
def test_an_https_image_url_is_kept_whichever_way_it_came(url: str) -> None:
    assert UpsertUserRequest.model_validate({"name": "A", "avatarUrl": url}).avatar_url == url
    assert UpsertPatternRequest.model_validate({"creatorId": "a", "title": "T", "thumbnailUrl": url}).thumbnail_url
    assert authenticate(token(picture=url), HS).picture == url


@pytest.mark.parametrize("case", list(BAD_URLS))
def test_a_url_the_platform_refuses_is_dropped_from_a_token(case: str) -> None:
    url = BAD_URLS[case]
    with pytest.raises(ValidationError):
        UpsertUserRequest.model_validate({"name": "A", "avatarUrl": url})
    with pytest.raises(ValidationError):
        UpsertPatternRequest.model_validate({"creatorId": "a", "title": "T", "thumbnailUrl": url})

    assert authenticate(token(picture=url), HS).picture is None


@pytest.mark.parametrize("value", [42, ["Alice"], {"name": "Alice"}, True])
def test_a_claim_that_is_not_a_string_is_dropped(value: object) -> None:
    principal = authenticate(token(name=value, picture=value), HS)
    assert (principal.name, principal.picture) == (None, None)


def test_dropping_a_claim_is_logged_without_its_value(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="chalicelib.auth.tokens")

    authenticate(token(name="evil\x1b[2J", picture="javascript:alert(1)"), HS)

    dropped = [record for record in caplog.records if record.getMessage() == "profile claim dropped"]
    assert sorted(record.__dict__["claim"] for record in dropped) == ["name", "picture"]
    assert not any("\x1b" in str(record.__dict__) or "javascript" in str(record.__dict__) for record in dropped)
