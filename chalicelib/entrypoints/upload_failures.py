"""The SQS entry point of the upload-failures queue: uploads whose processing failed for good, and attachments
whose tags a send could not set.

Three message shapes arrive (one per SQS record; the handler takes batches of one):

* Lambda's dead-letter queue for ``on_upload`` (``DeadLetterConfig``): the S3 event itself, after Lambda's
  retries failed or timed out. Its images are rejected (``attachment_ready`` with ``rejected`` to the room);
* the same, wrapped by an asynchronous-invocation ``OnFailure`` destination (``requestPayload``), accepted alike;
* ``{"settle": {"attachmentId": ...}}``: a send committed but tagging its objects failed; they are tagged from the
  attachment's committed record.

Handling is idempotent (a redelivery finds the record settled and changes nothing). A message that cannot be
handled raises: SQS delivers it again, and after the queue's ``maxReceiveCount`` moves it to its own dead-letter
queue for an operator.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_plus

from chalicelib import logs
from chalicelib.bootstrap import preload, services

# This function's init loads the use cases its handlers call (built on first use: bootstrap.preload).
preload("attachments")

logger = logging.getLogger(__name__)

GAVE_UP = "its processing did not finish (it failed or took too long)"


class UnknownFailure(ValueError):
    """A message on the upload-failures queue that is none of the shapes above."""


def on_messages(records: Iterable[dict[str, Any]]) -> None:
    """SQS records (``Records`` of the Lambda event) of the upload-failures queue."""
    logs.clear()
    logs.bind(route="sqs:upload-failures")
    for record in records:
        handle(record.get("body") or "", record.get("messageAttributes") or {})


def handle(body: str, attributes: dict[str, Any]) -> None:
    attachments = services().attachments
    try:
        message = json.loads(body)
    except ValueError:
        raise UnknownFailure("not JSON") from None
    if not isinstance(message, dict):
        raise UnknownFailure("not a JSON object")
    settle = message.get("settle")
    if isinstance(settle, dict) and isinstance(settle.get("attachmentId"), str):
        attachments.on_settle(settle["attachmentId"])
        return
    event = message.get("requestPayload") if isinstance(message.get("requestPayload"), dict) else message
    keys = list(_uploaded_keys(event))
    if not keys:
        raise UnknownFailure("neither an S3 event nor a settle request")
    error = (attributes.get("ErrorMessage") or {}).get("stringValue") or (message.get("responsePayload") or {})
    for key in keys:
        logger.warning("upload processing failed for good: rejecting it", extra={"key": key, "error": str(error)[:300]})
        attachments.on_processing_failed(key, GAVE_UP)


def _uploaded_keys(event: Any) -> Iterable[str]:
    """The object keys of an S3 notification event (URL-encoded as S3 sends them)."""
    for record in event.get("Records") or [] if isinstance(event, dict) else []:
        key = ((record.get("s3") or {}).get("object") or {}).get("key") if isinstance(record, dict) else None
        if isinstance(key, str):
            yield unquote_plus(key)
