"""Fakes of the adapters use cases are given (``chalicelib.services.ports``), for tests that need no AWS."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.delivery import Outcome


@dataclass
class RecordingConnections:
    """``@connections`` that records every frame; ``outcomes`` says what a connection answers (default delivered)."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    posted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)  # DeleteConnection calls, in order
    endpoint: tuple[str | None, str | None] | None = None

    def post(self, connection_id: str, frame: bytes) -> Outcome:
        self.posted.append((connection_id, json.loads(frame)))
        return self.outcomes.get(connection_id, Outcome.DELIVERED)

    def post_many(self, connection_ids: list[str], frame: bytes) -> dict[str, Outcome]:
        return {cid: self.post(cid, frame) for cid in dict.fromkeys(connection_ids)}

    def close(self, connection_id: str) -> Outcome:
        self.closed.append(connection_id)
        return self.outcomes.get(connection_id, Outcome.DELIVERED)

    def probe(self, connection_id: str) -> Outcome:
        return Outcome.GONE if connection_id in self.closed else self.outcomes.get(connection_id, Outcome.DELIVERED)

    def learn_endpoint(self, api_id: str | None, stage: str | None) -> None:
        self.endpoint = (api_id, stage)

    def received(self, connection_id: str) -> list[tuple[str, dict[str, Any]]]:
        """(event, data) of every frame posted to one connection, in order."""
        return [(frame["event"], frame["data"]) for cid, frame in self.posted if cid == connection_id]

    def events(self) -> dict[str, list[str]]:
        """event name -> the connections it was posted to, sorted."""
        found: dict[str, list[str]] = {}
        for cid, frame in self.posted:
            found.setdefault(frame["event"], []).append(cid)
        return {name: sorted(cids) for name, cids in found.items()}
