"""``/api/me/notification-preferences``, the email field of ``PUT /api/internal/users`` and the one-click
unsubscribe (issue 18)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamodb import UserProfile
from chalicelib.domain.notifications import unsubscribe_token
from chalicelib.settings import get_settings
from tests.integration.conftest import Api

PATH = "/api/me/notification-preferences"
DEFAULTS = {
    "email": {"enabled": True, "delayMinutes": 10},
    "push": {"enabled": True, "showPreview": True},
    "quietHours": None,
}


def test_defaults_until_set(api: Api) -> None:
    response = api.call("GET", PATH, "newcomer")
    assert (response.status, response.body) == (200, DEFAULTS)


def test_put_replaces_and_get_reads_it_back(api: Api) -> None:
    wanted = {
        "email": {"enabled": False, "delayMinutes": 1440},
        "push": {"enabled": True, "showPreview": False},
        "quietHours": {"start": "22:00", "end": "07:00", "timeZone": "Europe/Paris"},
    }
    put = api.call("PUT", PATH, "alice", wanted)
    assert (put.status, put.body) == (200, wanted)
    assert api.call("GET", PATH, "alice").body == wanted
    # What a PUT leaves out takes its default (a PUT replaces the whole set).
    assert api.call("PUT", PATH, "alice", {"email": {"delayMinutes": 5}}).body == {
        **DEFAULTS,
        "email": {"enabled": True, "delayMinutes": 5},
    }
    assert api.call("GET", PATH, "alice").body["quietHours"] is None


def test_preferences_are_the_callers_own(api: Api) -> None:
    api.call("PUT", PATH, "alice", {"email": {"enabled": False}})
    assert api.call("GET", PATH, "bob").body == DEFAULTS


@pytest.mark.parametrize(
    "body",
    [
        {"email": {"delayMinutes": 0}},
        {"email": {"delayMinutes": 1441}},
        {"email": {"delayMinutes": "10"}},
        {"email": {"delayMinutes": 10.5}},
        {"email": {"enabled": "yes"}},
        {"push": {"showPreview": 1}},
        {"quietHours": {"start": "22:00", "end": "07:00", "timeZone": "Mars/Olympus"}},
        {"quietHours": {"start": "22:00", "end": "07:00", "timeZone": "../../etc/passwd"}},
        {"quietHours": {"start": "24:00", "end": "07:00", "timeZone": "UTC"}},
        {"quietHours": {"start": "7:00", "end": "08:00", "timeZone": "UTC"}},
        {"quietHours": {"start": "08:00", "end": "08:00", "timeZone": "UTC"}},
        {"quietHours": {"start": "22:00", "end": "07:00"}},
        {"email": {"enabled": True, "sendAll": True}},
        {"sms": {"enabled": True}},
        [],
    ],
)
def test_invalid_preferences_are_a_400_naming_the_rule(api: Api, body: Any) -> None:
    api.call("PUT", PATH, "alice", {"email": {"enabled": False}})
    response = api.call("PUT", PATH, "alice", body)
    assert response.status == 400
    assert response.body["error"]["code"] == "invalid_request"
    assert api.call("GET", PATH, "alice").body["email"]["enabled"] is False  # nothing changed


@pytest.mark.parametrize("body", [None, b"", b"  \n"])
def test_a_put_without_a_body_is_a_400_and_resets_nothing(api: Api, body: bytes | None) -> None:
    """A lost body must not reset every preference to its default; ``{}`` is the way to ask for the defaults."""
    api.call("PUT", PATH, "alice", {"email": {"enabled": False}})
    response = api.call("PUT", PATH, "alice", body)
    assert (response.status, response.body["error"]["code"]) == (400, "invalid_request")
    assert response.body["error"]["details"][0]["field"] == "body"
    assert api.call("GET", PATH, "alice").body["email"]["enabled"] is False
    assert api.call("PUT", PATH, "alice", {}).body == DEFAULTS


def test_the_service_role_has_no_preferences(api: Api) -> None:
    response = api.service("GET", PATH)
    assert (response.status, response.body["error"]["code"]) == (403, "user_token_required")


# --- the email field ---------------------------------------------------------------------------------------


def test_the_platform_stores_an_email_that_no_other_user_sees(marketplace: Api) -> None:
    stored = marketplace.service("PUT", "/api/internal/users/alice", {"name": "Alice", "email": "Alice@Example.COM"})
    assert (stored.status, stored.body["email"]) == (200, "Alice@example.com")
    assert UserProfile.get("alice").email == "Alice@example.com"
    marketplace.send("bob", recipientId="alice", patternId="p1", content="hi")
    for user in ("alice", "bob"):
        for path in ("/api/messages/conversations", "/api/messages"):
            assert "example.com" not in str(marketplace.call("GET", path, user).body).lower()
    # Left out of the next PUT (the platform's PUT is the whole profile): removed.
    marketplace.service("PUT", "/api/internal/users/alice", {"name": "Alice"})
    assert UserProfile.get("alice").email is None


@pytest.mark.parametrize(
    "email",
    [
        "no-at-sign",
        "a@b",
        "@example.com",
        "a@-example.com",
        "a b@example.com",
        "a..b@example.com",
        "a@exa_mple.com",
        "x" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
        "a@example.com\nBcc: x@y.com",
        42,
    ],
)
def test_an_invalid_email_is_a_400(marketplace: Api, email: Any) -> None:
    response = marketplace.service("PUT", "/api/internal/users/alice", {"name": "Alice", "email": email})
    assert (response.status, response.body["error"]["code"]) == (400, "invalid_request")


# --- one-click unsubscribe -----------------------------------------------------------------------------------


def _unsubscribe(api: Api, token: str) -> Any:
    # As a mail client sends it (RFC 8058): a form body, no Authorization header.
    return api.client.http.post(
        f"/api/notifications/unsubscribe?token={token}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body="List-Unsubscribe=One-Click",
    )


def test_unsubscribe_turns_email_off_without_a_login_and_is_idempotent(marketplace: Api) -> None:
    token = unsubscribe_token("alice", get_settings().cursor_secret)
    marketplace.call("PUT", PATH, "alice", {"email": {"delayMinutes": 30}, "push": {"showPreview": False}})
    for _ in range(2):
        response = _unsubscribe(marketplace, token)
        assert response.status_code == 200, response.body
    prefs = marketplace.call("GET", PATH, "alice").body
    assert prefs["email"] == {"enabled": False, "delayMinutes": 30}
    assert prefs["push"] == {"enabled": True, "showPreview": False}  # only email is turned off


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", unsubscribe_token("alice", "another-secret-0123456789")])
def test_a_forged_unsubscribe_token_is_refused_and_changes_nothing(marketplace: Api, token: str) -> None:
    response = _unsubscribe(marketplace, token)
    assert response.status_code == 400
    assert marketplace.call("GET", PATH, "alice").body["email"]["enabled"] is True


def test_a_token_for_another_user_is_not_for_alice(marketplace: Api) -> None:
    alices = unsubscribe_token("alice", get_settings().cursor_secret)
    _, mac = alices.split(".")
    bobs_body = unsubscribe_token("bob", get_settings().cursor_secret).split(".")[0]
    assert _unsubscribe(marketplace, f"{bobs_body}.{mac}").status_code == 400
    assert marketplace.call("GET", PATH, "bob").body["email"]["enabled"] is True


def test_unsubscribing_a_user_who_is_gone_stores_nothing(marketplace: Api) -> None:
    token = unsubscribe_token("ghost", get_settings().cursor_secret)
    assert _unsubscribe(marketplace, token).status_code == 200
    with pytest.raises(UserProfile.DoesNotExist):
        UserProfile.get("ghost")
