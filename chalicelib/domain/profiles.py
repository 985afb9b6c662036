"""What a displayed name and an avatar URL may be: one rule for the platform's profiles and the JWT's claims.

``PUT /api/internal/users`` and ``/patterns`` (``schemas.requests``) refuse a value that breaks it (400); the
token's ``name`` / ``picture`` claims are dropped when they break it (``auth.tokens``), so a user whose identity
provider lets them edit their profile cannot show another participant terminal escapes, right-to-left overrides,
invisible padding, a 500-character "name" or a ``javascript:`` avatar.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

NAME_MAX_CHARS = 200
URL_MAX_CHARS = 2048

# Unicode's Bidi_Control characters: they reorder what follows them ("evil\u202egpj.exe" shows as "evilexe.jpg").
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Refused categories: controls (ESC, newlines, DEL, C1), formats (zero-width and bidi marks, the invisible tag
# characters), surrogates, private use, unassigned, and the line / paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# The one format character names need: the zero-width joiner of emoji sequences (a family, a flag with a rainbow).
_ALLOWED_FORMATS = frozenset("\u200d")


def _refused(ch: str) -> bool:
    return ch in _BIDI_CONTROLS or (unicodedata.category(ch) in _REFUSED_CATEGORIES and ch not in _ALLOWED_FORMATS)


def display_name(value: str) -> str:
    """``value`` trimmed, when it is a name fit to show others; ValueError says what is wrong otherwise."""
    value = value.strip()
    if not value:
        raise ValueError("a name must not be empty")
    if len(value) > NAME_MAX_CHARS:
        raise ValueError(f"a name must be at most {NAME_MAX_CHARS} characters")
    if any(_refused(ch) for ch in value):
        raise ValueError("a name must not contain control, formatting or bidirectional characters")
    return value


def image_url(value: str) -> str:
    """``value`` when it is an ``https:`` URL of a host (no credentials, spaces or controls); ValueError otherwise."""
    if len(value) > URL_MAX_CHARS:
        raise ValueError(f"a URL must be at most {URL_MAX_CHARS} characters")
    if any(ch.isspace() or _refused(ch) for ch in value):
        raise ValueError("a URL must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port  # the port is parsed (and checked) on access
    except ValueError as exc:
        raise ValueError("not a valid URL") from exc
    if parts.scheme != "https" or not host:
        raise ValueError("an image URL must be https://<host>/...")
    if "@" in parts.netloc:
        raise ValueError("an image URL must not carry credentials")
    return value


EMAIL_MAX_CHARS = 254  # RFC 5321's path limit minus the angle brackets
# A mailbox SES can send to: a dot-atom local part (the quoted forms no platform hands out) at a DNS host name.
_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~.")
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def email_address(value: str) -> str:
    """``value`` trimmed, its domain lowercased, when it is an address to mail; ValueError says why not."""
    value = value.strip()
    if len(value) > EMAIL_MAX_CHARS:
        raise ValueError(f"an email address must be at most {EMAIL_MAX_CHARS} characters")
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise ValueError("an email address needs a local part, @ and a domain")
    if (
        len(local) > 64
        or any(ch not in _EMAIL_LOCAL for ch in local)
        or ".." in local
        or local[0] == "."
        or local[-1] == "."
    ):
        raise ValueError("the part before @ must be letters, digits and !#$%&'*+-/=?^_`{|}~ with single inner dots")
    domain = domain.lower().rstrip(".")
    labels = domain.split(".")
    if len(labels) < 2 or any(
        not label or len(label) > 63 or label[0] == "-" or label[-1] == "-" or set(label) - _LABEL_CHARS
        for label in labels
    ):
        raise ValueError("the domain must be a host name such as example.com")
    return f"{local}@{domain}"
