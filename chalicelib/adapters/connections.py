"""Posting frames to WebSocket connections through API Gateway's ``@connections`` management API.

The endpoint comes from configuration (so REST handlers can deliver too, Chalice issues #1357/#1991); inside
socket handlers, before the stage's API id is configured (the very first deploy), the socket event's own API id
and stage are learnt instead.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.delivery import Outcome
from chalicelib.settings import Settings

logger = logging.getLogger(__name__)

_POST_WORKERS = 32


def management_url(settings: Settings, api_id: str | None = None, stage: str | None = None) -> str | None:
    """The management API endpoint: configured explicitly, from the configured API id, or from a socket event's."""
    if settings.websocket_management_url:
        return settings.websocket_management_url.rstrip("/")
    api_id, stage = settings.websocket_api_id or api_id, settings.websocket_stage or stage
    if not api_id or not stage:
        return None
    # Built from the API id, not the event's domain name: custom domains break the signature (Chalice #1503).
    suffix = "amazonaws.com.cn" if settings.region.startswith("cn-") else "amazonaws.com"
    return f"https://{api_id}.execute-api.{settings.region}.{suffix}/{stage}"


class ConnectionsClient:
    """Sends frames to connections; never raises for a connection's failure. One per container (bootstrap)."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self._settings = settings
        self.url = management_url(settings)
        self._client = client
        self._warned = False

    def learn_endpoint(self, api_id: str | None, stage: str | None) -> None:
        """Inside a socket handler: use the event's API when configuration names none."""
        if self.url is None:
            self.url = management_url(self._settings, api_id, stage)

    @property
    def client(self) -> Any:
        if self._client is None and self.url is not None:
            config = Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=_POST_WORKERS)
            self._client = boto3.client(
                "apigatewaymanagementapi", endpoint_url=self.url, region_name=self._settings.region, config=config
            )
        return self._client

    @cached_property
    def _pool(self) -> ThreadPoolExecutor:
        """One pool per container: starting threads per delivery cost more than the posts themselves."""
        return ThreadPoolExecutor(max_workers=_POST_WORKERS, thread_name_prefix="post")

    def post(self, connection_id: str, frame: bytes) -> Outcome:
        return self._call("post_to_connection", connection_id, Data=frame)

    def close(self, connection_id: str) -> Outcome:
        """DeleteConnection (API Gateway then runs ``$disconnect``)."""
        return self._call("delete_connection", connection_id)

    def probe(self, connection_id: str) -> Outcome:
        """GetConnection: whether the socket is still open."""
        return self._call("get_connection", connection_id)

    def _call(self, operation: str, connection_id: str, **arguments: Any) -> Outcome:
        """One ``@connections`` call; its failure is an outcome, never an exception."""
        client = self.client
        if client is None:
            if not self._warned:
                self._warned = True
                logger.warning("no WebSocket management endpoint configured (WEBSOCKET_MANAGEMENT_URL): not delivered")
            return Outcome.FAILED
        try:
            getattr(client, operation)(ConnectionId=connection_id, **arguments)
            return Outcome.DELIVERED
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "GoneException" or status == 410:
                return Outcome.GONE
            logger.warning(f"{operation} failed", extra={"connection_id": connection_id, "code": code})
            return Outcome.FAILED
        except BotoCoreError as exc:
            logger.warning(f"{operation} failed", extra={"connection_id": connection_id, "error": str(exc)})
            return Outcome.FAILED

    def post_many(self, connection_ids: list[str], frame: bytes) -> dict[str, Outcome]:
        """One PostToConnection per connection, in parallel; each outcome independent of the others."""
        unique = list(dict.fromkeys(connection_ids))
        if len(unique) <= 1:
            return {cid: self.post(cid, frame) for cid in unique}
        return dict(zip(unique, self._pool.map(lambda cid: self.post(cid, frame), unique), strict=True))
