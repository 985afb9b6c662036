"""The S3 ``ObjectCreated`` entry point: an original upload landed."""

from __future__ import annotations

from urllib.parse import unquote_plus

from chalicelib import logs
from chalicelib.bootstrap import services


def on_uploaded(bucket: str, key: str) -> None:
    """Process an upload (keys arrive URL-encoded); a message already using it is brought up to date, live."""
    logs.clear()
    logs.bind(route="s3:ObjectCreated", bucket=bucket)
    services().attachments.on_uploaded(unquote_plus(key))
