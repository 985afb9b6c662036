"""``/api/push``: the VAPID public key, subscribing (allow-list, keys, one id per endpoint, the cap) and
unsubscribing (the caller's own only)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.adapters.dynamodb import PushSubscription
from chalicelib.adapters.dynamodb.push import COUNT_KEY
from chalicelib.domain.push import b64url, unb64url
from chalicelib.settings import get_settings
from tests.integration.conftest import Api
from tests.integration.push_support import Browser

FCM = "https://fcm.googleapis.com/fcm/send/"


def subscribe(api: Api, user: str, browser: Browser) -> tuple[int, dict]:
    response = api.call("PUT", "/api/push/subscriptions", user, browser.subscription())
    return response.status, response.body


def count_of(user: str) -> int:
    try:
        return int(PushSubscription.get(user, COUNT_KEY, consistent_read=True).subscriptions or 0)
    except PushSubscription.DoesNotExist:
        return 0


def test_the_public_key_is_an_uncompressed_p256_point(api: Api) -> None:
    response = api.call("GET", "/api/push/vapid-public-key", "bob")
    assert response.status == 200
    raw = unb64url(response.body["publicKey"])
    assert len(raw) == 65 and raw[0] == 4
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    assert api.call("GET", "/api/push/vapid-public-key", "alice").body == response.body  # one key for everyone


def test_subscribing_twice_is_the_same_subscription(api: Api) -> None:
    browser = Browser(FCM + "abc")
    status, body = subscribe(api, "bob", browser)
    assert status == 201 and body["id"].startswith("psub_")
    renewed = Browser(browser.endpoint)  # the same endpoint with new keys
    again = api.call("PUT", "/api/push/subscriptions", "bob", renewed.subscription())
    assert (again.status, again.body) == (200, body)
    stored = PushSubscription.get("bob", body["id"], consistent_read=True)
    assert (stored.endpoint, stored.p256dh) == (browser.endpoint, renewed.p256dh)
    assert count_of("bob") == 1
    # Another user with the same browser endpoint has a subscription of their own (same id: the endpoint's).
    assert subscribe(api, "alice", browser)[0] == 201
    assert count_of("bob") == 1 and count_of("alice") == 1


def test_at_most_ten_subscriptions(api: Api) -> None:
    for n in range(10):
        assert subscribe(api, "bob", Browser(f"{FCM}device-{n}"))[0] == 201
    status, body = subscribe(api, "bob", Browser(f"{FCM}device-10"))
    assert status == 409 and body["error"]["code"] == "too_many_push_subscriptions"
    assert subscribe(api, "bob", Browser(f"{FCM}device-3"))[0] == 200  # a known one is still renewed
    assert count_of("bob") == 10
    # Removing one makes room.
    first = subscribe(api, "bob", Browser(f"{FCM}device-0"))[1]["id"]
    assert api.call("DELETE", f"/api/push/subscriptions/{first}", "bob").status == 200
    assert subscribe(api, "bob", Browser(f"{FCM}device-10"))[0] == 201


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/fcm/send/abc",  # not https
        "https://evil.example/push/abc",  # not a push service
        "https://fcm.googleapis.com.evil.example/x",  # a look-alike host
        "https://user:pw@fcm.googleapis.com/fcm/send/abc",  # credentials
        "https://notify.windows.com/x",  # *.notify.windows.com matches subdomains only
        "http://127.0.0.1:9/push/abc",  # a local receiver, not listed in PUSH_INSECURE_HOSTS
        "ftp://fcm.googleapis.com/abc",
        "not a url at all",
    ],
)
def test_endpoints_off_the_allow_list_are_refused(api: Api, endpoint: str) -> None:
    status, body = subscribe(api, "bob", Browser(endpoint))
    assert status == 400 and body["error"]["code"] == "push_endpoint_not_allowed", body
    assert count_of("bob") == 0


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://wns2-par02p.notify.windows.com/w/?token=abc",
        "https://web.push.apple.com/QGuQyavXutnMH",
    ],
)
def test_the_browsers_push_services_are_allowed(api: Api, endpoint: str) -> None:
    assert subscribe(api, "bob", Browser(endpoint))[0] == 201


def test_insecure_hosts_may_use_http(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSH_INSECURE_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    get_settings()
    assert subscribe(api, "bob", Browser("http://127.0.0.1:9/push/abc"))[0] == 201


@pytest.mark.parametrize(
    ("keys", "field"),
    [
        ({"p256dh": b64url(b"\x04" + b"\x01" * 64), "auth": b64url(b"a" * 16)}, "keys.p256dh"),  # not on the curve
        ({"p256dh": b64url(b"\x02" + b"\x01" * 32), "auth": b64url(b"a" * 16)}, "keys.p256dh"),  # compressed
        ({"p256dh": "!" * 87, "auth": b64url(b"a" * 16)}, "keys.p256dh"),  # not base64url
        ({"p256dh": None, "auth": b64url(b"a" * 16)}, "keys.p256dh"),
        ({"auth": b64url(b"a" * 16)}, "keys.p256dh"),
        ({"p256dh": Browser("x").p256dh, "auth": b64url(b"a" * 15)}, "keys.auth"),
        ({"p256dh": Browser("x").p256dh, "auth": b64url(b"a" * 17)}, "keys.auth"),
    ],
)
def test_keys_are_validated(api: Api, keys: dict, field: str) -> None:
    response = api.call("PUT", "/api/push/subscriptions", "bob", {"endpoint": FCM + "abc", "keys": keys})
    assert response.status == 400 and response.body["error"]["code"] == "invalid_request"
    assert field in {detail["field"] for detail in response.body["error"]["details"]}


def test_unknown_fields_are_refused_and_expiration_time_is_accepted(api: Api) -> None:
    body = Browser(FCM + "abc").subscription()
    assert api.call("PUT", "/api/push/subscriptions", "bob", {**body, "userId": "alice"}).status == 400
    assert api.call("PUT", "/api/push/subscriptions", "bob", {**body, "expirationTime": None}).status == 201


def test_only_the_owner_deletes_and_strangers_get_the_missing_answer(api: Api) -> None:
    subscription_id = subscribe(api, "bob", Browser(FCM + "abc"))[1]["id"]
    stranger = api.call("DELETE", f"/api/push/subscriptions/{subscription_id}", "carol")
    missing = api.call("DELETE", "/api/push/subscriptions/psub_aaaaaaaaaaaaaaaaaaaaaaaaaa", "bob")
    malformed = api.call("DELETE", "/api/push/subscriptions/nope", "bob")
    assert stranger.status == 404 and (stranger.body, stranger.status) == (missing.body, missing.status)
    assert (malformed.status, malformed.body) == (missing.status, missing.body)
    assert count_of("bob") == 1
    deleted = api.call("DELETE", f"/api/push/subscriptions/{subscription_id}", "bob")
    assert (deleted.status, deleted.body) == (200, {"id": subscription_id})
    assert count_of("bob") == 0
    assert api.call("DELETE", f"/api/push/subscriptions/{subscription_id}", "bob").status == 404
    assert count_of("bob") == 0


def test_the_service_role_and_anonymous_callers_are_refused(api: Api) -> None:
    assert api.call("GET", "/api/push/vapid-public-key").status == 401
    response = api.service("PUT", "/api/push/subscriptions", Browser(FCM + "abc").subscription())
    assert response.status == 403 and response.body["error"]["code"] == "user_token_required"
