"""Uploads requested through ``POST /api/attachments``, from presign to the message that uses them."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.adapters.dynamodb.base import table_meta
from chalicelib.domain.uploads import PENDING


class Attachment(Model):
    """One upload: who may attach it where, what was declared, what the server found.

    ``status``: ``pending`` (signed, maybe uploaded), ``ready`` (an image processed: metadata stripped,
    thumbnail made) or ``rejected`` (not what it claimed to be, over the image limits, or its processing
    failed). ``message_id`` is set once, by the send that uses it; an unused record expires with ``expires_at``.
    """

    Meta = table_meta("attachments")

    id = UnicodeAttribute(hash_key=True)
    conversation_id = UnicodeAttribute()
    uploader_id = UnicodeAttribute()
    key = UnicodeAttribute()  # the original upload
    kind = UnicodeAttribute()  # "image" | "file"
    content_type = UnicodeAttribute()
    file_name = UnicodeAttribute()
    declared_size = NumberAttribute()
    status = UnicodeAttribute(default=PENDING)
    reason = UnicodeAttribute(null=True)
    size = NumberAttribute(null=True)  # the stored object's real size, once verified (or processed)
    width = NumberAttribute(null=True)
    height = NumberAttribute(null=True)
    display_key = UnicodeAttribute(null=True)  # the re-encoded image that is served
    thumbnail_key = UnicodeAttribute(null=True)
    message_id = UnicodeAttribute(null=True)
    verified_key = UnicodeAttribute(null=True)  # a file: the server's copy of the verified original (served)
    verified_etag = UnicodeAttribute(null=True)  # the original's ETag when the server first read or checked it
    # Its message was deleted: the upload is gone for everyone (its objects are tagged for the lifecycle rule).
    deleted_at = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)
