"""Web Push's pure parts: RFC 8291's own example, the allow-list, the notification's text, the backoff."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.domain import push
from chalicelib.domain.push import b64url, unb64url


def _key(b64: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(unb64url(b64), "big"), ec.SECP256R1())


def test_encryption_matches_rfc_8291_appendix_a() -> None:
    body = push.encrypt(
        b"When I grow up, I want to be a watermelon",
        ua_public=unb64url("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"),
        auth_secret=unb64url("BTBZMqHH6r4Tts7J_aSIgg"),
        as_private=_key("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"),
        salt=unb64url("DGv6ra1nlYgDCS1FRnbzlw"),
    )
    assert b64url(body) == (
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
    )


def test_a_payload_must_fit_one_record() -> None:
    ua = ec.generate_private_key(ec.SECP256R1()).public_key()
    from cryptography.hazmat.primitives import serialization

    raw = ua.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    args = {"ua_public": raw, "auth_secret": b"a" * 16, "salt": b"s" * 16}
    assert len(push.encrypt(b"x" * 4079, as_private=ec.generate_private_key(ec.SECP256R1()), **args)) == 4182
    with pytest.raises(ValueError):
        push.encrypt(b"x" * 4080, as_private=ec.generate_private_key(ec.SECP256R1()), **args)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("fcm.googleapis.com", True),
        ("FCM.googleapis.com.", True),
        ("wns2-par02p.notify.windows.com", True),
        ("notify.windows.com", False),
        ("evilnotify.windows.com", False),
        ("fcm.googleapis.com.evil.example", False),
        ("web.push.apple.com", True),
        ("updates.push.services.mozilla.com", True),
    ],
)
def test_host_allow_list(host: str, allowed: bool) -> None:
    from chalicelib.settings import DEFAULT_PUSH_ALLOWED_HOSTS

    assert push.host_allowed(host, DEFAULT_PUSH_ALLOWED_HOSTS.split(",")) is allowed


def test_endpoint_rules() -> None:
    allowed, insecure = ["fcm.googleapis.com"], ["127.0.0.1"]
    assert push.endpoint_problem("https://fcm.googleapis.com/x", allowed, insecure) is None
    assert push.endpoint_problem("http://127.0.0.1:8005/x", allowed, insecure) is None
    assert push.endpoint_problem("http://127.0.0.1:8005/x", allowed, []) == "the endpoint must be https"
    assert push.endpoint_problem("https://fcm.googleapis.com:abc/x", allowed, insecure) == "the endpoint is not a URL"
    assert push.endpoint_problem("https://fcm.googleapis.com/x#f", allowed, insecure) is not None


def test_subscription_ids_follow_the_endpoint() -> None:
    a, b = push.subscription_id_for("https://x/1"), push.subscription_id_for("https://x/2")
    assert a == push.subscription_id_for("https://x/1") and a != b
    assert push.is_subscription_id(a) and not push.is_subscription_id(a + "x")


def test_the_topic_is_the_conversation() -> None:
    conversation = "conv_rppsem5x76ed76nhd22z3ru7p4"
    assert push.topic_for(conversation) == conversation and len(conversation) <= 32
    odd = push.topic_for("a conversation id that is far too long for a topic")
    assert len(odd) == 32 and set(odd) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_the_notification_text() -> None:
    base = {"conversation_id": "conv_x", "message_id": "msg_x_1", "sender_name": "Bob Stitch", "attachment_kind": None}
    shown = push.notification_for(content="Which  hook\nsize?", show_preview=True, **base)
    assert json.loads(shown.payload()) == {
        "type": "new_message",
        "conversationId": "conv_x",
        "messageId": "msg_x_1",
        "title": "Bob Stitch",
        "body": "Which hook size?",
    }
    hidden = push.notification_for(content="my address is 1 Yarn Lane", show_preview=False, **base)
    assert hidden.body == push.NO_PREVIEW_BODY and "Yarn" not in hidden.payload().decode()
    long = push.notification_for(content="x" * 500, show_preview=True, **base)
    assert len(long.body) == push.PREVIEW_CHARS and long.body.endswith("…")
    photo = push.notification_for(content="", show_preview=True, **{**base, "attachment_kind": "image"})
    assert photo.body == "📷 Photo"


def test_the_decision() -> None:
    yes = {"recipient_in_room": False, "muted": False, "enabled": True, "subscribed": True}
    assert push.should_push(**yes)
    for rule, value in (("recipient_in_room", True), ("muted", True), ("enabled", False), ("subscribed", False)):
        assert not push.should_push(**{**yes, rule: value}), rule


def test_backoff() -> None:
    assert [push.retry_delay(n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 320, 640, 900]
    assert push.retry_delay(1, retry_after=120) == 120
    assert push.retry_delay(1, retry_after=100_000) == 900
