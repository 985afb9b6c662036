"""Posting frames to WebSocket connections through API Gateway's ``@connections`` management API.

The endpoint comes from configuration (so REST handlers can deliver too, Chalice issues #1357/#1991),
falling back to the WebSocket event's own API id and stage inside socket handlers.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)

_POST_WORKERS = 32


class Outcome(Enum):
    DELIVERED = "delivered"
    GONE = "gone"  # 410: the connection is closed; forget it
    FAILED = "failed"  # anything else (throttled, 5xx): the message is stored, the client catches up


def endpoint_url(event_context: dict[str, Any] | None = None) -> str | None:
    """The management API endpoint: configured explicitly, from the API id, or from the socket event."""
    settings = get_settings()
    if settings.websocket_management_url:
        return settings.websocket_management_url.rstrip("/")
    api_id, stage = settings.websocket_api_id, settings.websocket_stage
    if not api_id and event_context:
        api_id, stage = event_context.get("apiId"), event_context.get("stage")
    if not api_id or not stage:
        return None
    # Built from the API id, not the event's domain name: custom domains break the signature (Chalice #1503).
    suffix = "amazonaws.com.cn" if settings.region.startswith("cn-") else "amazonaws.com"
    return f"https://{api_id}.execute-api.{settings.region}.{suffix}/{stage}"


@lru_cache(maxsize=8)
def _client(url: str) -> Any:
    config = Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=_POST_WORKERS)
    return boto3.client("apigatewaymanagementapi", endpoint_url=url, region_name=get_settings().region, config=config)


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    """One pool per container: starting threads per delivery cost more than the posts themselves."""
    return ThreadPoolExecutor(max_workers=_POST_WORKERS, thread_name_prefix="post")


def encode(event: str, data: dict[str, Any]) -> bytes:
    """A server frame: ``{"event": NAME, "data": {...}}``."""
    return json.dumps({"event": event, "data": data}, separators=(",", ":")).encode()


@lru_cache(maxsize=1)
def _warn_unconfigured() -> None:
    logger.warning("no WebSocket management endpoint configured (WEBSOCKET_MANAGEMENT_URL): frames are not delivered")


class Gateway:
    """Sends frames to connections; never raises for a connection's failure."""

    def __init__(self, url: str | None) -> None:
        self.url = url

    def post(self, connection_id: str, frame: bytes) -> Outcome:
        if self.url is None:
            _warn_unconfigured()
            return Outcome.FAILED
        try:
            _client(self.url).post_to_connection(ConnectionId=connection_id, Data=frame)
            return Outcome.DELIVERED
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "GoneException" or status == 410:
                return Outcome.GONE
            logger.warning("post_to_connection failed", extra={"connection_id": connection_id, "code": code})
            return Outcome.FAILED
        except BotoCoreError as exc:
            logger.warning("post_to_connection failed", extra={"connection_id": connection_id, "error": str(exc)})
            return Outcome.FAILED

    def post_many(self, connection_ids: list[str], frame: bytes) -> dict[str, Outcome]:
        """One PostToConnection per connection, in parallel; each outcome independent of the others."""
        unique = list(dict.fromkeys(connection_ids))
        if len(unique) <= 1:
            return {cid: self.post(cid, frame) for cid in unique}
        return dict(zip(unique, _pool().map(lambda cid: self.post(cid, frame), unique), strict=True))
