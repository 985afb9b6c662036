"""The S3 ``ObjectCreated`` entry point: an original upload landed."""

from __future__ import annotations

from urllib.parse import unquote_plus

from chalicelib import logs, metrics
from chalicelib.bootstrap import preload, services
from chalicelib.settings import get_settings

# This function's init loads the use cases its handlers call (built on first use: bootstrap.preload).
preload("attachments")


def on_uploaded(bucket: str, key: str) -> None:
    """Process an upload (keys arrive URL-encoded); a message already using it is brought up to date, live.

    A failure is raised (S3's asynchronous invocation retries it) and counted as a handler error.
    """
    logs.clear()
    logs.bind(route="s3:ObjectCreated", bucket=bucket)
    metrics.begin()
    metrics.count(metrics.INVOCATIONS)
    try:
        services().attachments.on_uploaded(unquote_plus(key))
    except Exception:
        metrics.count(metrics.HANDLER_ERRORS)
        raise
    finally:
        metrics.flush(get_settings().stage)
