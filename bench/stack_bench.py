"""``make bench``'s stack section: send, list, detail and sync through ``make dev``'s HTTP API, small data vs large.

Two dev stacks run side by side (``python -m dev.stack``, moto with ``dev/moto_patches.py``, as ``make dev`` runs
it), both seeded by ``DEV_SEED=large`` with the same code, one small and one at the realistic size
(``dev/seed.py``: alice with 10,000 conversations, 100,000 messages in her blanket conversation with bob). Each
operation is timed over real HTTP, one request at a time, alternating between the two stacks (so a noisy moment
of this shared machine hits both), and the report gives each operation's p50 at both sizes and their ratio, the
stacks' seeding time and resident memory. No data folder is kept (``DEV_DATA_DIR=off``).

- send: ``POST /api/messages`` from bob into the blanket conversation;
- list: ``GET /api/messages/conversations`` as alice (her first page, with ``totalUnread``);
- detail: ``GET /api/messages?conversationId=`` as alice (the conversation and its newest 50 messages);
- sync: ``GET /api/messages/sync?since=`` as alice, from a cursor taken before the sends: the same full page of
  50 (the first messages the sends added) at both sizes.

The four run in turn (send, list, detail, sync, then again), so every read follows a write: moto's patched
indexes and key orders are updated per write, and this shows they stay flat when they are.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import stack_process
from bench.machine import percentile, process_memory
from chalicelib.auth.tokens import issue_token
from chalicelib.domain.ids import conversation_id_for
from dev.seed import ALICE, BOB, GRANNY_SQUARE

ROOT = Path(__file__).resolve().parent.parent
JWT_SECRET = "bench-stack-secret-0123456789-0123456789-01"
READY_TIMEOUT_SECONDS = 300
STOP_TIMEOUT_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 30
RATIO_TARGET = 1.3
OPERATIONS = ("send", "list", "detail", "sync")
CHAT = conversation_id_for(BOB, ALICE, GRANNY_SQUARE)
SYNC_PAGE = 50


@dataclass(frozen=True)
class StackSize:
    label: str
    conversations: int
    messages: int


SIZES = (StackSize("small", 25, 100), StackSize("large", 10_000, 100_000))


@dataclass
class RunningStack:
    size: StackSize
    process: subprocess.Popen[bytes]
    ready: dict[str, Any]
    log: Path
    started_s: float  # from launch to ready
    memory_after_seed: dict[str, float] = field(default_factory=dict)
    memory_after_run: dict[str, float] = field(default_factory=dict)

    @property
    def api_port(self) -> int:
        return int(self.ready["apiUrl"].rsplit(":", 1)[1])

    def stop(self) -> int:
        return stack_process.stop(self.process, STOP_TIMEOUT_SECONDS)


def launch(size: StackSize, workdir: Path) -> tuple[subprocess.Popen[bytes], Path, Path, float]:
    ready_file, log = workdir / f"{size.label}-ready.json", workdir / f"{size.label}-stack.log"
    env = stack_process.stack_environment(
        JWT_SECRET,
        {
            "DEV_SEED": "large",
            "DEV_SEED_CONVERSATIONS": str(size.conversations),
            "DEV_SEED_MESSAGES": str(size.messages),
        },
    )
    process = stack_process.launch(env, ready_file, log)
    return process, ready_file, log, time.monotonic()


def wait_ready(
    size: StackSize, process: subprocess.Popen[bytes], ready_file: Path, log: Path, t0: float
) -> RunningStack:
    deadline = t0 + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if ready_file.exists():
            stack = RunningStack(size, process, json.loads(ready_file.read_text()), log, time.monotonic() - t0)
            stack.memory_after_seed = process_memory(process.pid)
            return stack
        if process.poll() is not None:
            raise RuntimeError(f"the {size.label} stack exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the {size.label} stack was not ready after {READY_TIMEOUT_SECONDS} s")


def token(user: str) -> str:
    return issue_token(user, secret=JWT_SECRET, ttl_seconds=4 * 3600)


def call(stack: RunningStack, method: str, path: str, user: str, body: Any = None) -> tuple[float, Any]:
    """One timed request (ms) and its JSON body; anything but 200/201 fails the run.

    A new connection per request: on a kept-alive connection Chalice's local server and the client's delayed
    ACKs add ~40 ms to every request (the same at every size, but noise next to a 10 ms request).
    """
    headers = {"Authorization": f"Bearer {token(user)}", "Content-Type": "application/json"}
    payload = None if body is None else json.dumps(body)
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", stack.api_port, timeout=HTTP_TIMEOUT_SECONDS)
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status not in (200, 201):
        raise RuntimeError(f"{stack.size.label}: {method} {path} -> {response.status} {data[:300]!r}")
    return elapsed, json.loads(data)


@dataclass
class StackResults:
    sizes: list[StackSize]
    reps: int
    p50_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # operation -> size label -> p50
    p99_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    seeded: dict[str, dict[str, Any]] = field(default_factory=dict)  # size label -> ready file's seed, RSS, start
    page_sizes: dict[str, dict[str, int]] = field(default_factory=dict)  # operation -> size -> items returned
    error: str | None = None

    def ratio(self, operation: str) -> float:
        values = self.p50_ms[operation]
        return values["large"] / values["small"]

    def to_json(self) -> dict[str, Any]:
        return {
            "sizes": [size.__dict__ for size in self.sizes],
            "reps": self.reps,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "ratios": {op: round(self.ratio(op), 3) for op in self.p50_ms},
            "seeded": self.seeded,
            "page_sizes": self.page_sizes,
            "error": self.error,
        }


def _operations(cursors: dict[str, str]) -> dict[str, Callable[[RunningStack], tuple[float, Any]]]:
    return {
        "send": lambda s: call(s, "POST", "/api/messages", BOB, {"conversationId": CHAT, "content": "bench send"}),
        "list": lambda s: call(s, "GET", "/api/messages/conversations", ALICE),
        "detail": lambda s: call(s, "GET", f"/api/messages?conversationId={CHAT}", ALICE),
        "sync": lambda s: call(s, "GET", f"/api/messages/sync?since={cursors[s.size.label]}&limit=50", ALICE),
    }


def _returned(operation: str, body: Any) -> int:
    key = {"send": None, "list": "conversations", "detail": "messages", "sync": "messages"}[operation]
    return 1 if key is None else len(body[key])


def measure(reps: int = 100, warmup: int = 5, say: Callable[[str], None] = print) -> StackResults:
    """Start both stacks (seeding in parallel), time the operations alternating between them, stop them."""
    results = StackResults(list(SIZES), reps)
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as tmp:
        launched = [launch(size, Path(tmp)) for size in SIZES]
        stacks: list[RunningStack] = []
        try:
            for size, (process, ready_file, log, t0) in zip(SIZES, launched, strict=True):
                stacks.append(wait_ready(size, process, ready_file, log, t0))
                say(f"[stack {size.label}] ready in {stacks[-1].started_s:.0f} s")
            cursors = {s.size.label: call(s, "GET", "/api/messages/sync", ALICE)[1]["nextCursor"] for s in stacks}
            operations = _operations(cursors)
            # Untimed: enough sends that the sync page is full from the first timed request on, and every code
            # path warm.
            for _ in range(max(warmup, SYNC_PAGE)):
                for stack in stacks:
                    operations["send"](stack)
            for stack in stacks:
                for request in operations.values():
                    request(stack)
            # Timed: the operations in turn (a list follows a send, as when a user sends then looks at the inbox),
            # each on both stacks, in alternating order.
            samples: dict[str, dict[str, list[float]]] = {op: {s.size.label: [] for s in stacks} for op in OPERATIONS}
            for index in range(reps):
                order = stacks if index % 2 == 0 else list(reversed(stacks))
                for operation, request in operations.items():
                    for stack in order:
                        elapsed, body = request(stack)
                        samples[operation][stack.size.label].append(elapsed)
                        results.page_sizes.setdefault(operation, {})[stack.size.label] = _returned(operation, body)
            for operation, by_size in samples.items():
                results.p50_ms[operation] = {k: round(percentile(v, 50), 2) for k, v in by_size.items()}
                results.p99_ms[operation] = {k: round(percentile(v, 99), 2) for k, v in by_size.items()}
                say(f"[stack] {operation}: " + ", ".join(f"{k} {v} ms" for k, v in results.p50_ms[operation].items()))
            for stack in stacks:
                stack.memory_after_run = process_memory(stack.process.pid)
        except Exception as exc:  # a failed stack must not take the rest of make bench down
            results.error = f"{type(exc).__name__}: {exc}"[:500]
        finally:
            for stack in stacks:
                code = stack.stop()
                results.seeded[stack.size.label] = {
                    **stack.ready.get("seed", {}),
                    "ready_s": round(stack.started_s, 1),
                    "memory_after_seed": stack.memory_after_seed,
                    "memory_after_run": stack.memory_after_run,
                    "exit_code": code,
                    "tracebacks": stack.log.read_text(errors="replace").count("Traceback"),
                }
            for process, *_ in launched[len(stacks) :]:
                process.kill()
                process.wait()
    return results
