"""The dev stack's Web Push: the VAPID key kept in the data folder, and the local push service decrypting and
checking what the app's sender posts."""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from pathlib import Path

from chalicelib.adapters.webpush import VapidKey, WebPushSender
from chalicelib.domain.push import PushTarget
from chalicelib.settings import get_settings
from dev.push_receiver import LocalPushService, configure_push_environment


def test_the_key_is_made_once_and_kept_in_the_data_folder(tmp_path: Path) -> None:
    first: dict[str, str] = {}
    key = configure_push_environment(first, tmp_path)
    assert first["PUSH_INSECURE_HOSTS"] == "127.0.0.1"
    assert (tmp_path / "vapid-key").stat().st_mode & 0o077 == 0
    again: dict[str, str] = {}
    assert configure_push_environment(again, tmp_path).public_key == key.public_key
    assert again["VAPID_PRIVATE_KEY"] == first["VAPID_PRIVATE_KEY"]
    chosen = VapidKey.generate()
    assert configure_push_environment({"VAPID_PRIVATE_KEY": chosen.private_value()}, tmp_path).public_key == (
        chosen.public_key
    )
    assert configure_push_environment({}, None).public_key != key.public_key  # DEV_DATA_DIR=off: this run's own


def test_the_local_push_service_decrypts_and_checks_vapid() -> None:
    key = VapidKey.generate()
    service = LocalPushService(0, key.public_key)
    service.start()
    try:
        request = urllib.request.Request(f"{service.url}/subscriptions", data=b'{"name": "laptop"}', method="POST")
        with urllib.request.urlopen(request) as response:  # the local service
            subscription = json.loads(response.read())
        settings = dataclasses.replace(get_settings(), push_insecure_hosts=("127.0.0.1",))
        target = PushTarget(subscription["endpoint"], subscription["keys"]["p256dh"], subscription["keys"]["auth"])
        payload = b'{"type":"new_message","title":"Alice","body":"hi"}'
        assert WebPushSender(settings, key).send(target, payload, ttl=60, urgency="high", topic="c").status == 201
        stranger = WebPushSender(settings, VapidKey.generate()).send(target, payload, ttl=60, urgency="high", topic="c")
        assert stranger.status == 401  # signed with another key
    finally:
        service.stop()
    first, second = service.received
    assert first["payload"] == {"type": "new_message", "title": "Alice", "body": "hi"}
    assert first["headers"]["topic"] == "c" and first["vapid"]["aud"] == service.url
    assert "payload" not in second and second["error"].startswith("VAPID")
