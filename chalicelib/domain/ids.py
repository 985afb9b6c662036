"""Identifiers: deterministic conversation ids and message ids that name their conversation."""

from __future__ import annotations

import base64
import hashlib
import json
import re

CONVERSATION_PREFIX = "conv_"
MESSAGE_PREFIX = "msg_"
_DIGEST_CHARS = 26  # 130 bits of SHA-256, base32: collisions are not a practical concern

ENTITY_ID_PATTERN = r"^[A-Za-z0-9_.:@|+-]{1,128}$"
_ENTITY_ID = re.compile(ENTITY_ID_PATTERN)
_CONVERSATION_ID = re.compile(rf"^{CONVERSATION_PREFIX}[a-z2-7]{{{_DIGEST_CHARS}}}$")
_MESSAGE_ID = re.compile(rf"^{MESSAGE_PREFIX}([a-z2-7]{{{_DIGEST_CHARS}}})_([1-9][0-9]{{0,11}})$")


_ATTACHMENT_ID = re.compile(r"^att_[A-Za-z0-9_-]{24}$")


def is_attachment_id(value: str) -> bool:
    """True for an id ``POST /api/attachments`` could have issued."""
    return bool(_ATTACHMENT_ID.fullmatch(value))


def is_entity_id(value: str) -> bool:
    """True for an acceptable user or pattern id (what the platform and JWT issuers use)."""
    return bool(_ENTITY_ID.fullmatch(value))


def conversation_id_for(user_a: str, user_b: str, pattern_id: str | None) -> str:
    """The one conversation id of two users about a pattern (or about nothing).

    Deterministic and order-independent, so get-or-create is a single conditional write and two users
    who send their first message at the same instant land in the same conversation.
    """
    key = json.dumps([sorted([user_a, user_b]), pattern_id or ""], separators=(",", ":"))
    digest = hashlib.sha256(key.encode()).digest()
    return CONVERSATION_PREFIX + base64.b32encode(digest).decode().lower()[:_DIGEST_CHARS]


def is_conversation_id(value: str) -> bool:
    return bool(_CONVERSATION_ID.fullmatch(value))


def message_id_for(conversation_id: str, seq: int) -> str:
    """The id of the ``seq``-th message of a conversation."""
    return f"{MESSAGE_PREFIX}{conversation_id[len(CONVERSATION_PREFIX) :]}_{seq}"


def parse_message_id(message_id: str) -> tuple[str, int] | None:
    """``(conversation_id, seq)`` of a message id, or None when it is not one of ours."""
    match = _MESSAGE_ID.fullmatch(message_id)
    if not match:
        return None
    return CONVERSATION_PREFIX + match.group(1), int(match.group(2))
