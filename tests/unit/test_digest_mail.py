"""The digest's mail (chalicelib.domain.digests): parts, RFC 8058 headers, escaping, previews."""

from __future__ import annotations

import email
from datetime import UTC, datetime

from chalicelib.domain.digests import Digest, DigestEntry, digest_mime, subject_of

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
UNSUBSCRIBE = "https://api.example/api/notifications/unsubscribe?token=" + "A" * 120


def mail(*entries: DigestEntry, more: int = 0) -> email.message.Message:
    raw = digest_mime(
        sender="notify@crochet.example",
        recipient="alice@example.com",
        digest=Digest(entries, more),
        app_url="https://crochet.example",
        unsubscribe_url=UNSUBSCRIBE,
        now=NOW,
    )
    raw.decode("ascii")  # 7-bit: whatever names and previews hold
    return email.message_from_bytes(raw)


def bodies(message: email.message.Message) -> dict[str, str]:
    return {
        p.get_content_type(): p.get_payload(decode=True).decode()  # type: ignore[union-attr]
        for p in message.walk()
        if not p.is_multipart()
    }


def test_headers_and_parts() -> None:
    message = mail(DigestEntry("conv_a", "Bob", "Granny Square", 2, "hello"))
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"  # one line: no encoded words
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert list(bodies(message)) == ["text/plain", "text/html"]
    assert "https://crochet.example/messages/conv_a" in bodies(message)["text/plain"]


def test_names_and_previews_are_escaped_in_html() -> None:
    message = mail(DigestEntry("conv_a", "<script>x</script>", "<b>Hat</b>", 1, "<img src=x onerror=alert(1)>"))
    html = bodies(message)["text/html"]
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html


def test_no_preview_when_off_and_deleted_messages_show_as_deleted() -> None:
    off = bodies(mail(DigestEntry("conv_a", "Bob", None, 1, None)))["text/plain"]
    assert "\u201c" not in off
    deleted = bodies(mail(DigestEntry("conv_a", "Bob", None, 1, "", "deleted")))["text/plain"]
    assert "(this message was deleted)" in deleted


def test_subjects_and_the_rest_counted() -> None:
    assert subject_of(Digest((DigestEntry("c", "Bob", None, 1, "x"),))) == "Bob sent you a new message"
    two = Digest((DigestEntry("c", "Bob", None, 1, "x"),), more=1)
    assert subject_of(two) == "You have unread messages in 2 conversations"
    assert "and 1 more conversation." in bodies(mail(*two.entries, more=1))["text/plain"]
