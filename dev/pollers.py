"""One polling thread per event source, as Lambda's event source mappings poll on AWS (SQS queues, streams)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

STOP_TIMEOUT_SECONDS = 10


class SourcePollers:
    """Runs ``_run(source)`` in a daemon thread per source between ``start()`` and ``stop()``."""

    thread_prefix = "poll"

    def __init__(self, sources: Sequence[Any]) -> None:
        self.sources = list(sources)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for source in self.sources:
            thread = threading.Thread(
                target=self._run, args=(source,), name=f"{self.thread_prefix}-{source.handler_name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop polling; a batch being handled finishes first (bounded)."""
        self._stopping.set()
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))

    def _run(self, source: Any) -> None:
        raise NotImplementedError
