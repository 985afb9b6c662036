"""Standard Webhooks signatures, rotation, the retry schedule, the events of a change (chalicelib.domain.webhooks)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.messages import MessageRecord
from chalicelib.domain.webhooks import (
    DEFAULT_RETRY_SECONDS,
    InvalidSignature,
    event_id,
    events_for,
    max_attempts,
    retry_delay,
    secrets_from,
    signed_headers,
    verify,
)
from dev.webhook_receiver import check, keys_of

# The example of the Standard Webhooks specification's reference libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_of_the_specifications_example() -> None:
    headers = signed_headers(secrets_from(SPEC_SECRET), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert headers == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    verify(secrets_from(SPEC_SECRET), headers, SPEC_BODY, now=SPEC_TIMESTAMP + 10)
    assert check(keys_of(SPEC_SECRET), headers, SPEC_BODY.encode(), now=SPEC_TIMESTAMP) is None


def test_during_a_rotation_either_secret_verifies() -> None:
    headers = signed_headers(secrets_from("new-secret, old-secret"), "evt_1", 100, "{}")
    assert len(headers["webhook-signature"].split()) == 2
    for receiver_secret in ("new-secret", "old-secret"):
        verify(secrets_from(receiver_secret), headers, "{}", now=100)
    with pytest.raises(InvalidSignature):
        verify(secrets_from("another"), headers, "{}", now=100)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b + " "),
        lambda h, b: ({**h, "webhook-id": "evt_2"}, b),
        lambda h, b: ({**h, "webhook-timestamp": "101"}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
    ],
)
def test_a_tampered_delivery_does_not_verify(tamper: object) -> None:
    headers = signed_headers(secrets_from("s3cret"), "evt_1", 100, "{}")
    changed_headers, changed_body = tamper(headers, "{}")  # type: ignore[operator]
    with pytest.raises(InvalidSignature):
        verify(secrets_from("s3cret"), changed_headers, changed_body, now=100)


def test_an_old_timestamp_is_refused() -> None:
    headers = signed_headers(secrets_from("s3cret"), "evt_1", 100, "{}")
    with pytest.raises(InvalidSignature):
        verify(secrets_from("s3cret"), headers, "{}", now=100 + 301)


def test_retries_last_at_least_a_day_then_the_dead_letters() -> None:
    waits = [retry_delay(n) for n in range(1, max_attempts() + 1)]
    assert waits[-1] is None  # the last attempt: the redrive takes it
    assert sum(w for w in waits if w is not None) >= 24 * 3600
    assert all(w is None or w <= 12 * 3600 for w in waits)  # SQS's visibility limit
    assert max_attempts() == len(DEFAULT_RETRY_SECONDS) + 1
    assert [retry_delay(n) for n in (1, 2, 3)] == [5, 300, 1800]


MESSAGE = MessageRecord("conv_x", 1, "msg_x_1", "bob", "alice", 1, "hello", "2026-12-02T10:00:00.000Z")


def test_events_of_a_first_message_an_edit_a_reaction_and_a_deletion() -> None:
    created = events_for("rec-1", "INSERT", MESSAGE, None, {"patternId": "p1"})
    assert [e.type for e in created] == ["conversation.created", "message.created"]
    assert created[0].data["patternId"] == "p1"
    edited = replace(MESSAGE, content="hi", edited_at="2026-12-02T10:01:00.000Z", version=2)
    assert [e.type for e in events_for("rec-2", "MODIFY", edited, MESSAGE)] == ["message.updated"]
    reacted = replace(edited, version=3)
    assert events_for("rec-3", "MODIFY", reacted, edited) == []
    deleted = replace(reacted, content="", deleted_at="2026-12-02T10:02:00.000Z", version=4)
    [gone] = events_for("rec-4", "MODIFY", deleted, reacted)
    assert gone.type == "message.deleted" and "content" not in gone.data
    second = replace(MESSAGE, seq=2, id="msg_x_2")
    assert [e.type for e in events_for("rec-5", "INSERT", second, None)] == ["message.created"]


def test_event_ids_are_stable_per_record_and_type() -> None:
    assert event_id("rec-1", "message.created") == event_id("rec-1", "message.created")
    assert event_id("rec-1", "message.created") != event_id("rec-1", "conversation.created")
    assert event_id("rec-1", "message.created") != event_id("rec-2", "message.created")
    body = events_for("rec-1", "INSERT", MESSAGE, None)[1].body()
    assert body == events_for("rec-1", "INSERT", MESSAGE, None)[1].body()


REPORT = {
    "id": "rpt_1",
    "reason": "spam",
    "reporterId": "alice",
    "status": "open",
    "createdAt": "2026-12-02T10:05:00.000Z",
}
RESOLVED = REPORT | {"status": "resolved", "resolvedAt": "2026-12-02T11:00:00.000Z", "action": "delete_message"}


def test_a_report_and_its_resolution_are_events_a_reaction_on_a_reported_message_is_not() -> None:
    reported = replace(MESSAGE, report=REPORT)
    [event] = events_for("rec-6", "MODIFY", reported, MESSAGE)
    assert (event.type, event.created_at) == ("message.reported", REPORT["createdAt"])
    assert {k: event.data[k] for k in ("reportId", "reason", "reporterId", "status")} == {
        "reportId": "rpt_1",
        "reason": "spam",
        "reporterId": "alice",
        "status": "open",
    }
    assert event.data["message"]["messageId"] == MESSAGE.id and "resolvedAt" not in event.data
    assert events_for("rec-7", "MODIFY", replace(reported, version=2), reported) == []
    # The moderator's deletion resolves it: one record, both events.
    removed = replace(reported, content="", deleted_at="2026-12-02T11:00:00.000Z", version=3, report=RESOLVED)
    deleted, resolved = events_for("rec-8", "MODIFY", removed, reported)
    assert (deleted.type, resolved.type) == ("message.deleted", "report.resolved")
    assert resolved.data["action"] == "delete_message" and "content" not in resolved.data["message"]
    # Filed and resolved before the stream read the record: both, reported first; ids differ by type.
    both = events_for("rec-9", "MODIFY", replace(MESSAGE, report=RESOLVED), MESSAGE)
    assert [e.type for e in both] == ["message.reported", "report.resolved"] and both[0].id != both[1].id
    assert (
        events_for("rec-10", "MODIFY", replace(MESSAGE, report=RESOLVED, version=2), replace(MESSAGE, report=RESOLVED))
        == []
    )
