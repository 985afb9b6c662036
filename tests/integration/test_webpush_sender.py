"""The Web Push sender against a push service on 127.0.0.1 that decrypts with the subscription's private key
(http_ece, RFC 8291) and verifies the VAPID JWT (RFC 8292): what a browser's push service would accept."""

from __future__ import annotations

import dataclasses
import time

from chalicelib.adapters.webpush import VapidKey, WebPushSender
from chalicelib.domain.push import PushTarget
from chalicelib.settings import get_settings
from tests.integration.push_support import Browser, push_service

PAYLOAD = b'{"type":"new_message","conversationId":"conv_x","messageId":"msg_x_1","title":"Bob","body":"hi"}'


def sender(key: VapidKey | None = None) -> WebPushSender:
    settings = dataclasses.replace(get_settings(), push_insecure_hosts=("127.0.0.1",), vapid_subject="mailto:o@x.y")
    return WebPushSender(settings, key or VapidKey.generate())


def target(browser: Browser) -> PushTarget:
    keys = browser.subscription()["keys"]
    return PushTarget(browser.endpoint, keys["p256dh"], keys["auth"])


def test_a_push_decrypts_and_its_vapid_jwt_verifies() -> None:
    key = VapidKey.generate()
    with push_service() as service:
        browser = Browser(service.endpoint("sub-1"))
        result = sender(key).send(target(browser), PAYLOAD, ttl=3600, urgency="high", topic="conv_x")
    assert result.status == 201 and result.delivered
    (received,) = service.received
    assert browser.decrypt(received.body) == {
        "type": "new_message",
        "conversationId": "conv_x",
        "messageId": "msg_x_1",
        "title": "Bob",
        "body": "hi",
    }
    headers = received.headers
    assert (headers["content-encoding"], headers["ttl"], headers["urgency"], headers["topic"]) == (
        "aes128gcm",
        "3600",
        "high",
        "conv_x",
    )
    claims = received.vapid(key.public_key, audience=service.origin)
    assert claims["sub"] == "mailto:o@x.y" and 0 < claims["exp"] - time.time() <= 24 * 3600


def test_each_push_has_its_own_key_and_salt() -> None:
    with push_service() as service:
        browser = Browser(service.endpoint("sub-1"))
        push = sender()
        push.send(target(browser), PAYLOAD, ttl=60, urgency="high", topic="t")
        push.send(target(browser), PAYLOAD, ttl=60, urgency="high", topic="t")
    first, second = (r.body for r in service.received)
    assert first[:16] != second[:16] and first[21:86] != second[21:86]  # salt, then the sender's public key
    assert browser.decrypt(first) == browser.decrypt(second)


def test_the_push_services_answers() -> None:
    with push_service() as service:
        service.statuses = {"/push/gone": [410], "/push/missing": [404], "/push/busy": [429], "/push/down": [503]}
        service.retry_after = "42"
        push = sender()
        results = {
            name: push.send(target(Browser(service.endpoint(name))), PAYLOAD, ttl=60, urgency="high", topic="t")
            for name in ("gone", "missing", "busy", "down")
        }
    assert {name: (r.status, r.gone, r.transient) for name, r in results.items()} == {
        "gone": (410, True, False),
        "missing": (404, True, False),
        "busy": (429, False, True),
        "down": (503, False, True),
    }
    assert results["busy"].retry_after == 42


def test_an_unreachable_service_is_transient_and_the_allow_list_is_checked_again() -> None:
    unreachable = sender().send(
        target(Browser("http://127.0.0.1:9/push/x")), PAYLOAD, ttl=60, urgency="high", topic="t"
    )
    assert unreachable.status == 0 and unreachable.transient
    settings = dataclasses.replace(get_settings(), push_insecure_hosts=())
    refused = WebPushSender(settings, VapidKey.generate()).send(
        target(Browser("http://127.0.0.1:9/push/x")), PAYLOAD, ttl=60, urgency="high", topic="t"
    )
    assert refused.gone  # no longer allowed: forgotten, never posted to


def test_the_key_round_trips_through_its_stored_form() -> None:
    key = VapidKey.generate()
    again = VapidKey.from_private_value(key.private_value())
    assert again.public_key == key.public_key and len(key.private_value()) == 43
