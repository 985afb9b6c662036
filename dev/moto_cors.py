"""Give moto's S3 the CORS behaviour of real S3, so the browser client exercises the bucket's CORS rule.

By default moto's server answers every request with ``Access-Control-Allow-Origin`` for any origin (flask-cors on
the whole server): a bucket whose CORS rule lacks the frontend's origin would still work locally and fail on AWS.
With ``MOTO_DISABLE_GLOBAL_CORS`` set, moto applies the bucket's own rules (preflight and GET/PUT responses),
except on one response: the browser upload, a presigned POST to the bucket, which then carries no CORS headers
at all. ``enforce_bucket_cors`` adds the bucket rule's headers there, as S3 does.
"""

from __future__ import annotations

import functools
from collections.abc import MutableMapping
from typing import Any

DISABLE_GLOBAL_CORS_ENV = "MOTO_DISABLE_GLOBAL_CORS"  # read by moto.settings when moto is first imported
_MARKER = "_wrapped_by_dev_moto_cors"


def disable_global_cors(environ: MutableMapping[str, str]) -> None:
    """Turn moto's allow-everything CORS off (before moto is imported)."""
    environ[DISABLE_GLOBAL_CORS_ENV] = "true"


def enforce_bucket_cors() -> None:
    """Answer browser uploads (POST to a bucket) with the headers of the bucket's matching CORS rule."""
    from moto import settings
    from moto.s3.responses import S3Response

    if not settings.DISABLE_GLOBAL_CORS:
        raise RuntimeError(f"moto was imported before {DISABLE_GLOBAL_CORS_ENV} was set: it allows every origin")
    original = S3Response._bucket_response_post
    if getattr(original, _MARKER, False):
        return

    @functools.wraps(original)
    def bucket_response_post(self: S3Response, request: Any, bucket_name: str) -> Any:
        response = original(self, request, bucket_name)
        if not isinstance(response, tuple):
            return response
        status, headers, body = response
        # Empty unless the request's Origin matches one of the bucket's rules (then that rule's headers).
        return status, {**self._get_cors_headers_other(), **headers}, body

    setattr(bucket_response_post, _MARKER, True)
    S3Response._bucket_response_post = bucket_response_post  # type: ignore[method-assign]
