"""The email digest: what it lists and how the mail is written (text and HTML parts, RFC 8058 one-click unsubscribe).

Pure. The digest worker (services.digests) reads the user's unread conversations when the digest is sent (never a
queued copy: an edited message is mailed as edited, a deleted one as deleted) and hands them here.

Links: each conversation is ``NOTIFY_APP_URL + /messages/<conversationId>`` (CONVERSATION_PATH), the preferences page
``NOTIFY_APP_URL + /settings/notifications`` (SETTINGS_PATH); the one-click unsubscribe is
``NOTIFY_API_URL + /api/notifications/unsubscribe?token=<signed token>`` (UNSUBSCRIBE_PATH).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from urllib.parse import quote

CONVERSATION_PATH = "/messages/{conversation_id}"
SETTINGS_PATH = "/settings/notifications"
UNSUBSCRIBE_PATH = "/api/notifications/unsubscribe?token={token}"
MAX_LISTED = 20  # conversations named in one digest; the rest are counted
PREVIEW_CHARS = 140


@dataclass(frozen=True)
class DigestEntry:
    """One unread conversation as the digest shows it."""

    conversation_id: str
    sender_name: str  # who wrote
    pattern_title: str | None
    unread: int
    preview: str | None  # None: previews are off; "" for a message without text
    preview_state: str = ""  # "deleted", "attachment", or ""


@dataclass(frozen=True)
class Digest:
    entries: tuple[DigestEntry, ...]
    more: int = 0  # unread conversations beyond those listed

    @property
    def unread_messages(self) -> int:
        return sum(entry.unread for entry in self.entries)


def conversation_link(app_url: str, conversation_id: str) -> str:
    return app_url + CONVERSATION_PATH.format(conversation_id=quote(conversation_id, safe=""))


def unsubscribe_link(api_url: str, token: str) -> str:
    return api_url + UNSUBSCRIBE_PATH.format(token=quote(token, safe=""))


def subject_of(digest: Digest) -> str:
    conversations = len(digest.entries) + digest.more
    if conversations == 1:
        entry = digest.entries[0]
        count = "a new message" if entry.unread == 1 else f"{entry.unread} new messages"
        return f"{entry.sender_name} sent you {count}"
    return f"You have unread messages in {conversations} conversations"


def _preview_text(entry: DigestEntry) -> str | None:
    if entry.preview is None:
        return None
    if entry.preview_state == "deleted":
        return "(this message was deleted)"
    if entry.preview_state == "attachment" and not entry.preview:
        return "(an attachment)"
    text = " ".join(entry.preview.split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def render_text(digest: Digest, app_url: str, unsubscribe_url: str) -> str:
    lines = ["You have unread messages on the crochet marketplace:", ""]
    for entry in digest.entries:
        about = f" about {entry.pattern_title}" if entry.pattern_title else ""
        count = "1 unread message" if entry.unread == 1 else f"{entry.unread} unread messages"
        lines.append(f"* {entry.sender_name}{about}: {count}")
        preview = _preview_text(entry)
        if preview:
            lines.append(f"  \u201c{preview}\u201d")
        lines.append(f"  {conversation_link(app_url, entry.conversation_id)}")
        lines.append("")
    if digest.more:
        lines += [f"... and {digest.more} more conversation{'s' if digest.more > 1 else ''}.", ""]
    lines += [
        "You get this email because messages waited unread for you.",
        f"Notification settings: {app_url}{SETTINGS_PATH}",
        f"Unsubscribe from these emails: {unsubscribe_url}",
    ]
    return "\n".join(lines) + "\n"


def render_html(digest: Digest, app_url: str, unsubscribe_url: str) -> str:
    e = html.escape
    items = []
    for entry in digest.entries:
        about = f" about <em>{e(entry.pattern_title)}</em>" if entry.pattern_title else ""
        count = "1 unread message" if entry.unread == 1 else f"{entry.unread} unread messages"
        preview = _preview_text(entry)
        quoted = f'<br><span style="color:#555">\u201c{e(preview)}\u201d</span>' if preview else ""
        link = e(conversation_link(app_url, entry.conversation_id))
        items.append(
            f'<li style="margin-bottom:12px"><strong>{e(entry.sender_name)}</strong>{about}: {count}{quoted}'
            f'<br><a href="{link}">Open the conversation</a></li>'
        )
    more = f"<p>… and {digest.more} more conversation{'s' if digest.more > 1 else ''}.</p>" if digest.more else ""
    return (
        '<!doctype html><html><body style="font-family:sans-serif">'
        "<p>You have unread messages on the crochet marketplace:</p>"
        f"<ul>{''.join(items)}</ul>{more}"
        '<p style="color:#777;font-size:12px">You get this email because messages waited unread for you. '
        f'<a href="{e(app_url + SETTINGS_PATH)}">Notification settings</a> · '
        f'<a href="{e(unsubscribe_url)}">Unsubscribe</a></p>'
        "</body></html>"
    )


def digest_mime(
    *, sender: str, recipient: str, digest: Digest, app_url: str, unsubscribe_url: str, now: datetime
) -> bytes:
    """The raw MIME message: multipart/alternative (text, then HTML), with RFC 8058's one-click unsubscribe."""
    # Lines up to RFC 5322's 998: a long List-Unsubscribe URL has no space to fold at, and the default 78 would
    # turn it into RFC 2047 encoded words no mail client reads as a URL.
    message = EmailMessage(policy=SMTP.clone(max_line_length=998))
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject_of(digest)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    # Quoted-printable: the raw message stays 7-bit ASCII whatever the names and previews hold.
    message.set_content(render_text(digest, app_url, unsubscribe_url), cte="quoted-printable")
    message.add_alternative(render_html(digest, app_url, unsubscribe_url), subtype="html", cte="quoted-printable")
    return message.as_bytes()
