"""The mail the app sent through SES v2 on the dev stack's moto, for ``http://127.0.0.1:8004/outbox``.

moto keeps every raw message SES accepted (``ses_backends[account][region].sent_messages``; moto runs in the stack's
own process). ``/outbox`` lists them newest first (sender, recipient, subject, the RFC 8058 headers, the text part,
a link to the HTML part); ``/outbox.json`` is the same as JSON (the e2e test reads it); ``/outbox/<n>.html`` shows
message n's HTML part in a sandbox with no scripts. Dev only: anyone who can reach the port reads the mail.
"""

from __future__ import annotations

import email
import html
from email.message import Message
from typing import Any

OUTBOX_PATH = "/outbox"
HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


def sent_mail(region: str) -> list[dict[str, Any]]:
    """Every raw message moto's SES accepted, oldest first, parsed."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    found = []
    for number, raw in enumerate(
        m for m in ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages if hasattr(m, "raw_data")
    ):
        message = email.message_from_string(raw.raw_data)
        found.append(
            {
                "number": number,
                "messageId": raw.id,
                "from": message["From"],
                "to": message["To"],
                "subject": message["Subject"],
                "date": message["Date"],
                "listUnsubscribe": message["List-Unsubscribe"],
                "listUnsubscribePost": message["List-Unsubscribe-Post"],
                "text": _part(message, "text/plain"),
                "html": _part(message, "text/html"),
            }
        )
    return found


def _part(message: Message, content_type: str) -> str | None:
    for part in message.walk():
        if part.get_content_type() == content_type and not part.is_multipart():
            payload = part.get_payload(decode=True)
            return (
                payload.decode(part.get_content_charset() or "utf-8", "replace") if isinstance(payload, bytes) else None
            )
    return None


def page(mail: list[dict[str, Any]]) -> str:
    """The outbox as an HTML page (no scripts, no inline styles: the web server's CSP applies)."""
    e = html.escape
    items = []
    for m in reversed(mail):
        items.append(
            "<article>"
            f"<h2>{e(m['subject'] or '(no subject)')}</h2>"
            f"<p>From {e(m['from'] or '')} to {e(m['to'] or '')}, {e(m['date'] or '')}</p>"
            f"<p>List-Unsubscribe: <code>{e(m['listUnsubscribe'] or '-')}</code> "
            f"List-Unsubscribe-Post: <code>{e(m['listUnsubscribePost'] or '-')}</code></p>"
            f"<pre>{e(m['text'] or '')}</pre>"
            + (f'<p><a href="{OUTBOX_PATH}/{m["number"]}.html">the HTML part</a></p>' if m["html"] else "")
            + "</article><hr>"
        )
    body = "".join(items) or "<p>No mail sent yet. Digests go out when a message stays unread past its delay.</p>"
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Outbox</title></head><body>'
        f'<h1>Outbox ({len(mail)})</h1><p>What the app sent through SES (moto). <a href="{OUTBOX_PATH}.json">JSON</a>'
        f"</p>{body}</body></html>"
    )
