"""``python -m bench.memory_probe [--conversations 600] [--messages 300] [--raw-moto]``: the dev stack's memory and
latency as a user's data grows through its API, the black-box check that found the stack at 7 GB.

It starts ``python -m dev.stack`` (no data folder), creates ``--conversations`` partners who each write alice a
first message over REST, then ``--messages`` more messages in one of those conversations, and prints at each
checkpoint the p50 of 10 sends and 10 inbox lists and the stack's resident memory. ``--raw-moto`` runs the stack
with ``DEV_MOTO_PATCHES=off`` (moto as it ships). Not part of ``make bench`` (as shipped, moto takes minutes).

What it showed (bench/RESULTS.md, analysis): on moto as it ships memory grows with every request, not with the
data: moto's ``BaseModel.__new__`` keeps every DynamoDB item and table it ever creates in ``instances_tracked``
(for its dashboard), and each transaction deep-copies whole tables, each update and Query copies items.
``dev/moto_patches.py``'s ``untracked_items`` ends that.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import stack_process
from bench.machine import percentile, process_memory
from chalicelib.auth.tokens import issue_token
from chalicelib.domain.ids import conversation_id_for

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-probe-secret-0123456789-0123456789-0"
CHECKPOINTS = (10, 100, 300, 600, 1000, 3000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_probe", description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=600)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--raw-moto", action="store_true", help="DEV_MOTO_PATCHES=off")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmp:
        ready = Path(tmp) / "ready.json"
        env = stack_process.stack_environment(SECRET, {"DEV_MOTO_PATCHES": "off" if args.raw_moto else "on"})
        process = stack_process.launch(env, ready, Path(tmp) / "stack.log")
        try:
            while not ready.exists():
                if process.poll() is not None:
                    print((Path(tmp) / "stack.log").read_text()[-3000:], file=sys.stderr)
                    return 1
                time.sleep(0.2)
            port = int(env["DEV_API_PORT"])

            def call(method: str, path: str, user: str, body: Any = None, role: str | None = None) -> float:
                token = issue_token(user, secret=SECRET, role=role, ttl_seconds=3600)
                started = time.perf_counter()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                connection.request(
                    method, path, body=None if body is None else json.dumps(body),
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                )  # fmt: skip
                response = connection.getresponse()
                data = response.read()
                connection.close()
                if response.status not in (200, 201):
                    raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
                return (time.perf_counter() - started) * 1000

            mode = "moto as it ships" if args.raw_moto else "moto with dev/moto_patches.py"
            print(f"{mode}: resident memory at start {process_memory(process.pid).get('rss_mb', 0):,.0f} MB")
            first = "u0"
            for index in range(args.conversations):
                user = f"u{index}"
                call("PUT", f"/api/internal/users/{user}", "platform", {"name": user}, role="service")
                call("POST", "/api/messages", user, {"recipientId": "alice", "content": "hi"})
                if index + 1 in CHECKPOINTS or index + 1 == args.conversations:
                    chat = conversation_id_for(first, "alice", None)
                    sends = [
                        call("POST", "/api/messages", first, {"conversationId": chat, "content": "x"})
                        for _ in range(10)
                    ]
                    lists = [call("GET", "/api/messages/conversations", "alice") for _ in range(10)]
                    memory = process_memory(process.pid).get("rss_mb", 0)
                    print(
                        f"{index + 1:>5} conversations: send p50 {percentile(sends, 50):6.0f} ms, list p50 "
                        f"{percentile(lists, 50):5.0f} ms, memory {memory:,.0f} MB",
                        flush=True,
                    )
            chat = conversation_id_for(first, "alice", None)
            for index in range(args.messages):
                call("POST", "/api/messages", first, {"conversationId": chat, "content": f"m{index}"})
            details = [call("GET", f"/api/messages?conversationId={chat}", "alice") for _ in range(10)]
            print(
                f"after {args.messages} more messages: detail p50 {percentile(details, 50):.0f} ms, memory "
                f"{process_memory(process.pid).get('rss_mb', 0):,.0f} MB (peak "
                f"{process_memory(process.pid).get('peak_rss_mb', 0):,.0f} MB)"
            )
        finally:
            stack_process.stop(process, 300)
    return 0


if __name__ == "__main__":
    sys.exit(main())
