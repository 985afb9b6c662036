"""The one error boundary: every exception a use case lets out becomes the documented error, here and only here.

The HTTP route wrapper and the socket dispatcher both call ``to_app_error``. Client mistakes arrive as
``AppError`` already; storage and AWS client failures (DynamoDB through PynamoDB or botocore, S3 through the
file adapter) become a retryable 503 with the failure's class name as its cause, never a bare 500. Anything else
is a bug: logged with its traceback, answered as 500 ``internal_error`` by the caller.
"""

from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from chalicelib.errors import AppError, ErrorCode, FileStorageError, InvalidRequest, ServiceUnavailable

logger = logging.getLogger(__name__)


def to_app_error(exc: Exception) -> AppError | None:
    """The client's answer to ``exc``; None for an unexpected exception (a bug), which the caller re-raises."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, FileStorageError):
        logger.warning("file storage failed", extra={"cause": exc.cause_name})
        return ServiceUnavailable(
            "file storage is unavailable, retry the request",
            code=ErrorCode.STORAGE_UNAVAILABLE,
            details={"cause": exc.cause_name},
        )
    if _refused_as_invalid(exc):
        # DynamoDB refused a key or value our validation let through (its key-size limits): the request's fault,
        # and retrying it would never succeed.
        logger.warning("storage refused the request as invalid", extra={"error_type": type(exc).__name__})
        return InvalidRequest("the request is not valid")
    if isinstance(exc, (PynamoDBException, ClientError, BotoCoreError)):
        cause = getattr(exc, "cause_response_code", None) or type(exc).__name__
        logger.warning("storage failed", extra={"cause": cause, "error_type": type(exc).__name__})
        return ServiceUnavailable("storage is unavailable, retry the request", details={"cause": type(exc).__name__})
    return None


def _refused_as_invalid(exc: BaseException) -> bool:
    """A DynamoDB ``ValidationException``, raised by botocore or wrapped by PynamoDB."""
    for error in (exc, getattr(exc, "cause", None), exc.__cause__):
        if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") == "ValidationException":
            return True
    return False
