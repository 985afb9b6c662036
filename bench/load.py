"""``make bench-load``: N WebSocket clients over M conversations send K messages through the local stack.

Usage: ``python -m bench.load [--clients N] [--conversations M] [--messages K] [--concurrency W] [--raw-moto]
[--deadline SECONDS] [--no-write]`` (or ``BENCH_LOAD_CLIENTS`` / ``_CONVERSATIONS`` / ``_MESSAGES`` /
``_CONCURRENCY`` / ``_DEADLINE_SECONDS``). Defaults: 200 clients, 50 conversations, 5,000 messages.

It starts the dev stack (``dev.stack``) as a subprocess on free loopback ports with the per-user limits off
(``bench/limits.py``), creates the users through the platform's service endpoint and opens each conversation with a
REST message, connects every client (``websockets`` asyncio client) and joins it to its user's conversation, then
sends the messages as ``new_message`` frames with at most W awaiting their ``message_sent``. Every frame every
client receives is recorded, and at the end each message must have reached exactly the connections that should get
it, exactly once:

- the sending connection: ``message_sent`` (its answer);
- every other connection in the room (the sender's other tabs, the recipient's): ``message_received``;
- every connection of the recipient: ``new_message_notification``;
- no other connection: nothing about that message.

Latency is from just before a frame is sent to the moment a client reads the frame (one clock: every client
lives in this process). The run is a bounded loop on loopback: it stops sending at the deadline, waits a
bounded time for deliveries to drain, closes every client and stops the stack with SIGTERM.

The stack is ``make dev``'s (``python -m dev.stack``, moto with ``dev/moto_patches.py``, keeping no data folder);
``--raw-moto`` runs it with ``DEV_MOTO_PATCHES=off``: moto as it ships copies every table a transaction touches,
so each send gets slower as the run adds messages. The stack's resident memory is read before it stops.

**Search probe** (issue 17: the index is written asynchronously by the messages stream's consumer). Under load, one
message in ``--search-every`` (50) carries a unique word (ten letters, so its 8-character index bucket holds it
alone); once its ``message_sent`` arrives, ``GET /api/messages/search?q=<word>`` is polled by its recipient and its
sender in turn, ``--search-poll`` seconds (0.5) apart at first, each wait ``SEARCH_POLL_GROWTH`` times the one
before up to ``SEARCH_POLL_MAX_SECONDS``, until the message is among the results or ``SEARCH_BOUND_SECONDS`` pass (a
miss, reported). The lag is from the send's ``message_sent`` to the answer that found it (so it overstates by up to
one wait). After the sends the misses are searched again (``SEARCH_RECHECK_SECONDS``), which tells an index that
trails far behind from a message never indexed. The stack runs the production search limit
(``RATE_LIMIT_SEARCH``, 30 a minute per user: ``bench/limits.py`` leaves it on): a conversation has at most one
probed message at a time, and each user's polls are held to ``SEARCH_POLLS_PER_MINUTE`` (20) in any 60 seconds, so
no search is refused (a 429 would be counted and reported). The probe's own requests are counted and reported next
to the send rate (a few percent of the stack's requests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench import stack_process
from bench.machine import machine, percentile, process_memory
from bench.report import PREAMBLE, write_section
from chalicelib.auth.tokens import issue_token

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
OUT = ROOT / "bench" / "out"
JWT_SECRET = "bench-load-secret-0123456789-0123456789-0123"
READY_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 120  # after SIGTERM the stack still runs every closed socket's $disconnect
HTTP_TIMEOUT_SECONDS = 30
OPEN_TIMEOUT_SECONDS = 30
CLOSE_TIMEOUT_SECONDS = 5
ACK_TIMEOUT_SECONDS = 30
DRAIN_QUIET_SECONDS = 5
DRAIN_MAX_SECONDS = 60
SETUP_PARALLELISM = 8
PROBE = "unloaded (one message at a time)"
LOADED = "under load"
MESSAGE_EVENTS = ("message_sent", "message_received", "new_message_notification")
TOKEN_TTL_SECONDS = 4 * 3600
SEARCH_BOUND_SECONDS = 60.0  # a probed message not found this long after its message_sent is a miss
SEARCH_POLL_GROWTH = 1.5  # each search of a probed message waits this much longer than the one before ...
SEARCH_POLL_MAX_SECONDS = 2.0  # ... up to this
SEARCH_RECHECK_SECONDS = 180.0  # after the sends, the misses are searched again this long ...
SEARCH_RECHECK_EVERY_SECONDS = 5.0  # ... this often
SEARCH_POLLS_PER_MINUTE = 20  # per user, under RATE_LIMIT_SEARCH's production 30 per 60 s
SEARCH_WORD_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=_env_int("BENCH_LOAD_CLIENTS", 200), help="connections (200)")
    parser.add_argument(
        "--conversations", type=int, default=_env_int("BENCH_LOAD_CONVERSATIONS", 50), help="conversations (50)"
    )
    parser.add_argument(
        "--messages", type=int, default=_env_int("BENCH_LOAD_MESSAGES", 5000), help="messages in all (5000)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=_env_int("BENCH_LOAD_CONCURRENCY", 16),
        help="messages awaiting their message_sent at once (16)",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=_env_int("BENCH_LOAD_DEADLINE_SECONDS", 900),
        help="stop sending after this many seconds (900)",
    )
    parser.add_argument(
        "--probe",
        type=int,
        default=_env_int("BENCH_LOAD_PROBE", 200),
        help="messages sent one at a time before the load, for latency without queueing (200)",
    )
    parser.add_argument(
        "--search-every",
        type=int,
        default=_env_int("BENCH_LOAD_SEARCH_EVERY", 50),
        help="under load, probe the search index with one message in this many (50; 0: no probe)",
    )
    parser.add_argument(
        "--search-poll", type=float, default=0.5, help="seconds before a probed message's second search (0.5)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed for who sends when (7)")
    parser.add_argument("--raw-moto", action="store_true", help="run dev.stack on moto as it ships")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args(argv)
    if args.clients < 2 * args.conversations:
        parser.error("--clients must be at least twice --conversations (each participant needs a connection)")
    return args


# --- the stack ------------------------------------------------------------------------------------------------


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    ready: dict[str, Any]
    log: Path

    def stop(self) -> int:
        return stack_process.stop(self.process, STOP_TIMEOUT_SECONDS)


def start_stack(workdir: Path, raw_moto: bool) -> Stack:
    ready_file, log = workdir / "ready.json", workdir / "stack.log"
    env = stack_process.stack_environment(JWT_SECRET, {"DEV_MOTO_PATCHES": "off" if raw_moto else "on"})
    process = stack_process.launch(env, ready_file, log)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if ready_file.exists():
            return Stack(process, json.loads(ready_file.read_text()), log)
        if process.poll() is not None:
            raise RuntimeError(f"the stack exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    Stack(process, {}, log).stop()
    raise RuntimeError(f"the stack was not ready after {READY_TIMEOUT_SECONDS} s:\n{log.read_text()[-3000:]}")


# --- the clients ----------------------------------------------------------------------------------------------


@dataclass
class Client:
    """One connection of one user, joined to that user's conversation."""

    index: int
    user: str
    conversation_id: str
    socket: ClientConnection | None = None
    frames: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    closed_early: bool = False


@dataclass
class Sent:
    index: int
    client: int
    conversation_id: str
    at: float
    acked_at: float | None = None
    message_id: str | None = None
    error: str | None = None


@dataclass
class Plan:
    """Who is in which conversation, with which connections."""

    conversations: dict[str, tuple[str, str]]  # conversation id -> (user a, user b)
    clients: list[Client]

    def connections_of(self, user: str) -> list[int]:
        return [c.index for c in self.clients if c.user == user]


def build_users(clients: int, conversations: int) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Pairs of users (one pair per conversation) and how many connections each user gets (round-robin)."""
    pairs = [(f"load-{i:03d}-a", f"load-{i:03d}-b") for i in range(conversations)]
    users = [u for pair in pairs for u in pair]
    per_user = Counter(users[i % len(users)] for i in range(clients))
    return pairs, dict(per_user)


def setup_conversations(api_url: str, pairs: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Profiles through the platform's endpoint; each conversation opened by a first REST message (a→b)."""
    from concurrent.futures import ThreadPoolExecutor

    service = issue_token("platform", secret=JWT_SECRET, role="service")
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=SETUP_PARALLELISM, pool_maxsize=SETUP_PARALLELISM)
    session.mount("http://", adapter)

    def call(method: str, path: str, token: str, body: Any = None) -> dict[str, Any]:
        response = session.request(
            method,
            api_url + path,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def open_pair(pair: tuple[str, str]) -> tuple[str, tuple[str, str]]:
        a, b = pair
        for user in pair:
            call("PUT", f"/api/internal/users/{user}", service, {"name": user.title()})
        token = issue_token(a, secret=JWT_SECRET, ttl_seconds=TOKEN_TTL_SECONDS)
        body = call("POST", "/api/messages", token, {"recipientId": b, "content": "opening the conversation"})
        return body["message"]["conversationId"], pair

    with ThreadPoolExecutor(SETUP_PARALLELISM) as pool:
        return dict(pool.map(open_pair, pairs))


async def _reader(client: Client, acks: dict[str, asyncio.Future[dict[str, Any]]]) -> None:
    assert client.socket is not None
    try:
        async for raw in client.socket:
            received = time.monotonic()
            frame = json.loads(raw)
            client.frames.append((received, frame))
            if frame.get("event") == "message_sent":
                key = (frame.get("data") or {}).get("clientMessageId")
                future = acks.pop(key, None)
                if future is not None and not future.done():
                    future.set_result(frame["data"])
            elif frame.get("event") == "error":
                key = (frame.get("data") or {}).get("requestId")
                future = acks.pop(key, None)
                if future is not None and not future.done():
                    future.set_exception(RuntimeError(f"error frame: {frame['data']}"))
    except ConnectionClosed:
        client.closed_early = True


async def _connect(ws_url: str, client: Client, limit: asyncio.Semaphore) -> None:
    token = issue_token(client.user, secret=JWT_SECRET, ttl_seconds=TOKEN_TTL_SECONDS)
    async with limit:
        client.socket = await connect(
            f"{ws_url}/?token={token}",
            open_timeout=OPEN_TIMEOUT_SECONDS,
            close_timeout=CLOSE_TIMEOUT_SECONDS,
            ping_interval=None,
            max_queue=None,
        )


async def _join(client: Client, acks: dict[str, asyncio.Future[dict[str, Any]]], limit: asyncio.Semaphore) -> None:
    assert client.socket is not None
    async with limit:
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        request_id = f"join-{client.index}"
        acks[request_id] = waiter
        await client.socket.send(
            json.dumps(
                {"action": "join_conversation", "conversationId": client.conversation_id, "requestId": request_id}
            )
        )
        deadline = time.monotonic() + ACK_TIMEOUT_SECONDS
        while time.monotonic() < deadline:  # conversation_joined carries the requestId
            if any(
                f.get("event") == "conversation_joined" and (f.get("data") or {}).get("requestId") == request_id
                for _, f in client.frames
            ):
                acks.pop(request_id, None)
                return
            if waiter.done():
                waiter.result()
            await asyncio.sleep(0.02)
        raise RuntimeError(f"client {client.index} was not joined within {ACK_TIMEOUT_SECONDS} s")


# --- the search probe -----------------------------------------------------------------------------------------


@dataclass
class Probed:
    """A message that carries a unique word, and when a search first found it."""

    index: int
    conversation_id: str
    word: str
    acked_at: float | None = None
    found_at: float | None = None
    searches: int = 0
    unsent: bool = False  # its send failed: nothing to find
    late: bool = False  # found after the bound: counted as a miss
    found_late_at: float | None = None  # a miss found by the re-checks after the sends (indexed late, not lost)
    message_id: str | None = None
    recipient: str | None = None

    @property
    def lag_ms(self) -> float | None:
        if self.acked_at is None or self.found_at is None or self.late:
            return None
        return (self.found_at - self.acked_at) * 1000


class SearchProbe:
    """Polls ``GET /api/messages/search`` for a sample of the sent messages (module docstring, "Search probe")."""

    def __init__(self, api_url: str, plan: Plan, *, every: int, poll_s: float, seed: int) -> None:
        self.api_url, self.plan, self.every, self.poll_s = api_url, plan, every, poll_s
        self.rng = random.Random(seed)
        self.started = time.monotonic()
        self.busy: set[str] = set()  # conversations with a probed message in flight
        self.probed: list[Probed] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.polls: dict[str, deque[float]] = defaultdict(deque)  # user -> times of its searches, last 60 s
        self.searches = 0
        self.refused = 0  # 429 rate_limited: must stay 0
        self.failures: Counter[str] = Counter()
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=SETUP_PARALLELISM, pool_maxsize=SETUP_PARALLELISM)
        self.session.mount("http://", adapter)
        self.tokens = {
            user: issue_token(user, secret=JWT_SECRET, ttl_seconds=TOKEN_TTL_SECONDS)
            for pair in plan.conversations.values()
            for user in pair
        }

    def word_for(self, index: int, client: Client) -> Probed | None:
        """The probe for message ``index`` if it is sampled (one in ``every``, its conversation not busy)."""
        if self.every <= 0 or index % self.every or client.conversation_id in self.busy:
            return None
        self.busy.add(client.conversation_id)
        word = "".join(self.rng.choice(SEARCH_WORD_LETTERS) for _ in range(10))
        probed = Probed(index, client.conversation_id, word)
        self.probed.append(probed)
        return probed

    def start(self, probed: Probed, record: Sent, sender: str) -> None:
        """After the send's answer: poll until found (or give up on a failed send)."""
        if record.message_id is None or record.acked_at is None:
            probed.unsent = True
            self.busy.discard(probed.conversation_id)
            return
        probed.acked_at = record.acked_at
        a, b = self.plan.conversations[probed.conversation_id]
        recipient = b if sender == a else a
        probed.message_id, probed.recipient = record.message_id, recipient
        self.tasks.append(asyncio.create_task(self._poll(probed, record.message_id, (recipient, sender))))

    async def finish(self) -> float:
        """Wait for the probes still polling (each bounded by ``SEARCH_BOUND_SECONDS``); the seconds waited."""
        started = time.monotonic()
        await asyncio.gather(*self.tasks)
        await self._recheck_misses()
        self.session.close()
        return time.monotonic() - started

    async def _recheck_misses(self) -> None:
        """The misses searched again by their recipients every ``SEARCH_RECHECK_EVERY_SECONDS`` for up to
        ``SEARCH_RECHECK_SECONDS``: tells an index that trails far behind from a message never indexed."""
        deadline = time.monotonic() + SEARCH_RECHECK_SECONDS
        while time.monotonic() < deadline:
            left = [p for p in self.probed if p.acked_at is not None and p.lag_ms is None and p.found_late_at is None]
            if not left:
                return
            for probed in left:
                assert probed.recipient is not None and probed.message_id is not None
                await self._within_limit(probed.recipient)
                probed.searches += 1
                if await asyncio.to_thread(self._search, probed.recipient, probed.word, probed.message_id):
                    probed.found_late_at = time.monotonic()
            await asyncio.sleep(SEARCH_RECHECK_EVERY_SECONDS)

    async def _poll(self, probed: Probed, message_id: str, users: tuple[str, str]) -> None:
        assert probed.acked_at is not None
        deadline = probed.acked_at + SEARCH_BOUND_SECONDS
        try:
            turn, wait = 0, self.poll_s
            while time.monotonic() < deadline:
                user = users[turn % 2]
                turn += 1
                await self._within_limit(user)
                if time.monotonic() >= deadline:
                    break
                probed.searches += 1
                if await asyncio.to_thread(self._search, user, probed.word, message_id):
                    probed.found_at = time.monotonic()
                    if probed.found_at > deadline:  # found, but past the bound: a miss
                        probed.late = True
                    return
                await asyncio.sleep(wait)
                wait = min(wait * SEARCH_POLL_GROWTH, SEARCH_POLL_MAX_SECONDS)
        finally:
            self.busy.discard(probed.conversation_id)

    async def _within_limit(self, user: str) -> None:
        """Hold ``user`` to ``SEARCH_POLLS_PER_MINUTE`` searches in any 60 s (the stack's limit is 30)."""
        window = self.polls[user]
        while True:
            now = time.monotonic()
            while window and now - window[0] >= 60:
                window.popleft()
            if len(window) < SEARCH_POLLS_PER_MINUTE:
                window.append(now)
                return
            await asyncio.sleep(60 - (now - window[0]) + 0.01)

    def _search(self, user: str, word: str, message_id: str) -> bool:
        self.searches += 1
        try:
            response = self.session.get(
                self.api_url + "/api/messages/search",
                params={"q": word},
                headers={"Authorization": f"Bearer {self.tokens[user]}"},
                timeout=HTTP_TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            self.failures[type(exc).__name__] += 1
            return False
        if response.status_code == 429:
            self.refused += 1
            return False
        if response.status_code != 200:
            self.failures[str(response.status_code)] += 1
            return False
        return any(r["message"]["id"] == message_id for r in response.json()["results"])

    def summary(self, send_seconds: float) -> dict[str, Any]:
        probed = [p for p in self.probed if not p.unsent]
        lags = [lag for p in probed if (lag := p.lag_ms) is not None]
        return {
            "every": self.every,
            "poll_s": self.poll_s,
            "bound_s": SEARCH_BOUND_SECONDS,
            "polls_per_minute_per_user": SEARCH_POLLS_PER_MINUTE,
            "probed": len(probed),
            "unsent": sum(1 for p in self.probed if p.unsent),
            "found": len(lags),
            "missed": [
                f"message {p.index} ({p.word}, {p.searches} searches" + (", found past the bound)" if p.late else ")")
                for p in probed
                if p.lag_ms is None
            ],
            "probes": [
                {
                    "index": p.index,
                    "acked_s": round(p.acked_at - self.started, 2) if p.acked_at is not None else None,
                    "lag_ms": round(p.lag_ms, 1) if p.lag_ms is not None else None,
                    "searches": p.searches,
                }
                for p in probed
            ],
            "found_late": [
                round(p.found_late_at - p.acked_at, 1)
                for p in probed
                if p.found_late_at is not None and p.acked_at is not None
            ],
            "never_found": sum(1 for p in probed if p.lag_ms is None and p.found_late_at is None),
            "recheck_s": SEARCH_RECHECK_SECONDS,
            "searches": self.searches,
            "searches_per_s": round(self.searches / send_seconds, 2) if send_seconds else 0.0,
            "searches_per_message": round(statistics.fmean(p.searches for p in probed), 1) if probed else 0.0,
            "refused_429": self.refused,
            "failures": dict(self.failures),
            "lag_ms": _stats(lags),
        }


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(max(values), 1),
        "mean": round(statistics.fmean(values), 1),
    }


@dataclass
class Outcome:
    sent: list[Sent]
    send_seconds: float
    stopped_by_deadline: bool


async def _send_all(
    plan: Plan,
    acks: dict[str, asyncio.Future[dict[str, Any]]],
    *,
    messages: int,
    concurrency: int,
    deadline_s: float,
    seed: int,
    first_index: int = 0,
    search: SearchProbe | None = None,
) -> Outcome:
    """Send ``messages`` frames (indices from ``first_index``), at most ``concurrency`` awaiting their answer."""
    rng = random.Random(seed)
    order = [rng.randrange(len(plan.clients)) for _ in range(messages)]
    window = asyncio.Semaphore(concurrency)
    busy: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)  # one frame in flight per connection, like a UI
    sent: list[Sent] = []
    started = time.monotonic()
    deadline = started + deadline_s
    stopped = False

    async def one(index: int, client: Client) -> None:
        key = f"L{index}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        acks[key] = future
        probed = search.word_for(index, client) if search is not None else None
        content = f"load message {index} from {client.user}" + (f" {probed.word}" if probed else "")
        frame = {
            "action": "new_message",
            "conversationId": client.conversation_id,
            "content": content,
            "clientMessageId": key,
            "requestId": key,
        }
        record = Sent(index, client.index, client.conversation_id, time.monotonic())
        sent.append(record)
        try:
            assert client.socket is not None
            record.at = time.monotonic()
            await client.socket.send(json.dumps(frame))
            data = await asyncio.wait_for(future, ACK_TIMEOUT_SECONDS)
            record.acked_at = time.monotonic()
            record.message_id = data["message"]["id"]
        except (TimeoutError, RuntimeError, ConnectionClosed) as exc:
            record.error = f"{type(exc).__name__}: {exc}"[:200]
            acks.pop(key, None)
        if probed is not None and search is not None:
            search.start(probed, record, client.user)

    async def guarded(index: int, client: Client) -> None:
        async with busy[client.index]:
            try:
                await one(index, client)
            finally:
                window.release()

    tasks = []
    for index, client_index in enumerate(order, start=first_index):
        await window.acquire()
        if time.monotonic() > deadline:
            window.release()
            stopped = True
            break
        tasks.append(asyncio.create_task(guarded(index, plan.clients[client_index])))
    await asyncio.gather(*tasks)
    return Outcome(sent, time.monotonic() - started, stopped)


async def _drain(plan: Plan, expected_frames: int) -> float:
    """Wait until every expected frame arrived, or nothing arrived for a while (bounded either way)."""
    started = time.monotonic()
    last_count, last_change = -1, time.monotonic()
    while time.monotonic() - started < DRAIN_MAX_SECONDS:
        count = sum(1 for c in plan.clients for _, f in c.frames if f.get("event") in MESSAGE_EVENTS)
        if count >= expected_frames:
            break
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > DRAIN_QUIET_SECONDS:
            break
        await asyncio.sleep(0.1)
    return time.monotonic() - started


# --- verification ---------------------------------------------------------------------------------------------


@dataclass
class Verdict:
    messages_acked: int
    expected: int  # (message, connection, event) deliveries that should happen
    delivered_once: int
    missing: int
    duplicated: int
    misdelivered: int  # frames about a message to a connection that should not get it
    latencies_ms: dict[str, dict[str, list[float]]]  # phase -> event -> ms
    examples: list[str]


def verify(plan: Plan, sent: list[Sent], phase_of: Callable[[int], str]) -> Verdict:
    by_index = {s.index: s for s in sent}
    expected: set[tuple[int, int, str]] = set()
    for record in sent:
        if record.message_id is None:
            continue
        sender = plan.clients[record.client]
        a, b = plan.conversations[record.conversation_id]
        recipient = b if sender.user == a else a
        expected.add((record.index, record.client, "message_sent"))
        for other in plan.clients:
            if other.conversation_id != record.conversation_id or other.index == record.client:
                continue
            expected.add((record.index, other.index, "message_received"))
            if other.user == recipient:
                expected.add((record.index, other.index, "new_message_notification"))
    seen: Counter[tuple[int, int, str]] = Counter()
    latencies: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for client in plan.clients:
        for received, frame in client.frames:
            event, data = frame.get("event"), frame.get("data") or {}
            if event not in MESSAGE_EVENTS:
                continue
            text = (data.get("message") or {}).get("content") if event == "message_sent" else None
            text = text or data.get("content") or data.get("preview") or ""
            if not text.startswith("load message "):
                continue  # the opening messages of the setup
            index = int(text.split()[2])
            key = (index, client.index, event)
            seen[key] += 1
            record = by_index.get(index)
            if record is not None and seen[key] == 1:
                latencies[phase_of(index)][event].append((received - record.at) * 1000)
    delivered_once = sum(1 for key in expected if seen[key] == 1)
    missing = sum(1 for key in expected if seen[key] == 0)
    duplicated = sum(count - 1 for key, count in seen.items() if count > 1)
    misdelivered = sum(count for key, count in seen.items() if key not in expected)
    examples = [f"missing {k}" for k in sorted(k for k in expected if seen[k] == 0)[:5]]
    examples += [f"unexpected {k}" for k in sorted(k for k in seen if k not in expected)[:5]]
    return Verdict(
        sum(1 for s in sent if s.message_id), len(expected), delivered_once, missing, duplicated, misdelivered,
        {phase: dict(events) for phase, events in latencies.items()}, examples,
    )  # fmt: skip


# --- the run --------------------------------------------------------------------------------------------------


async def drive(
    stack: Stack, args: argparse.Namespace, pairs: list[tuple[str, str]], per_user: dict[str, int]
) -> dict[str, Any]:
    phases: dict[str, float] = {}
    started = time.monotonic()
    conversations = await asyncio.to_thread(setup_conversations, stack.ready["apiUrl"], pairs)
    phases["create users and conversations (REST)"] = time.monotonic() - started
    conversation_of = {user: cid for cid, pair in conversations.items() for user in pair}
    clients = []
    for user, count in per_user.items():
        for _ in range(count):
            clients.append(Client(len(clients), user, conversation_of[user]))
    plan = Plan(conversations, clients)
    search = SearchProbe(
        stack.ready["apiUrl"], plan, every=args.search_every, poll_s=args.search_poll, seed=args.seed + 2
    )
    acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
    limit = asyncio.Semaphore(SETUP_PARALLELISM)
    readers: list[asyncio.Task[None]] = []
    try:
        started = time.monotonic()
        await asyncio.gather(*(_connect(stack.ready["wsUrl"], c, limit) for c in clients))
        readers = [asyncio.create_task(_reader(c, acks)) for c in clients]
        await asyncio.gather(*(_join(c, acks, limit) for c in clients))
        phases["connect and join"] = time.monotonic() - started
        probe = await _send_all(
            plan, acks, messages=args.probe, concurrency=1, deadline_s=args.deadline, seed=args.seed + 1
        )
        phases["unloaded probe (one at a time)"] = probe.send_seconds
        outcome = await _send_all(
            plan,
            acks,
            messages=args.messages,
            concurrency=args.concurrency,
            deadline_s=args.deadline,
            seed=args.seed,
            first_index=args.probe,
            search=search,
        )
        phases["send"] = outcome.send_seconds
        phases["drain"] = await _drain(plan, _frames_for(plan, per_user, [*probe.sent, *outcome.sent]))
        phases["search probes still polling"] = await search.finish()
    finally:
        started = time.monotonic()
        await asyncio.gather(*(c.socket.close() for c in clients if c.socket is not None), return_exceptions=True)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        phases["close"] = time.monotonic() - started
    every = [*probe.sent, *outcome.sent]
    verdict = verify(plan, every, lambda index: PROBE if index < args.probe else LOADED)
    errors = Counter((s.error or "").split(":")[0] for s in every if s.error)
    error_frames = sum(1 for c in clients for _, f in c.frames if f.get("event") == "error")
    acked = [s for s in outcome.sent if s.message_id and s.acked_at]
    return {
        "clients": len(clients),
        "users": len(per_user),
        "conversations": len(conversations),
        "connections_per_conversation": len(clients) / len(conversations),
        "messages_requested": args.messages,
        "messages_sent": len(outcome.sent),
        "probe_messages": len(probe.sent),
        "messages_acked": verdict.messages_acked,
        "stopped_by_deadline": outcome.stopped_by_deadline,
        "concurrency": args.concurrency,
        "send_seconds": round(outcome.send_seconds, 1),
        "throughput_msgs_per_s": round(len(acked) / outcome.send_seconds, 1) if outcome.send_seconds else 0.0,
        "deliveries_per_s": round(_frames_for(plan, per_user, outcome.sent) / outcome.send_seconds, 1)
        if outcome.send_seconds
        else 0.0,
        "expected_deliveries": verdict.expected,
        "delivered_exactly_once": verdict.delivered_once,
        "missing": verdict.missing,
        "duplicated": verdict.duplicated,
        "misdelivered": verdict.misdelivered,
        "exactly_once_pct": round(100 * verdict.delivered_once / verdict.expected, 3) if verdict.expected else 0.0,
        "send_errors": dict(errors),
        "error_frames": error_frames,
        "closed_early": sum(1 for c in clients if c.closed_early),
        "latency_ms": {
            phase: {
                event: {
                    "n": len(values),
                    "p50": round(percentile(values, 50), 1),
                    "p95": round(percentile(values, 95), 1),
                    "p99": round(percentile(values, 99), 1),
                    "max": round(max(values), 1),
                    "mean": round(statistics.fmean(values), 1),
                }
                for event, values in events.items()
                if values
            }
            for phase, events in verdict.latencies_ms.items()
        },
        "phases_s": {name: round(seconds, 1) for name, seconds in phases.items()},
        "search": search.summary(outcome.send_seconds),
        "examples": verdict.examples,
    }


def _frames_for(plan: Plan, per_user: dict[str, int], sent: list[Sent]) -> int:
    """Frames the stored messages of ``sent`` must produce: the answer, the room's copies, the notifications."""
    return sum(
        1
        + sum(1 for o in plan.clients if o.conversation_id == s.conversation_id and o.index != s.client)
        + per_user[_recipient(plan, s)]
        for s in sent
        if s.message_id
    )


def _recipient(plan: Plan, record: Sent) -> str:
    a, b = plan.conversations[record.conversation_id]
    return b if plan.clients[record.client].user == a else a


def _search_rows(search: dict[str, Any]) -> list[str]:
    if not search.get("every"):
        return []
    found, probed, bound = search["found"], search["probed"], search["bound_s"]
    verdict = "met" if found == probed and probed else "**missed**"
    missed = "; ".join(search["missed"][:10]) or "none"
    failures = ", ".join(f"{k}: {v}" for k, v in search["failures"].items()) or "none"
    unsent = f", {search['unsent']} not sent" if search["unsent"] else ""
    late = search.get("found_late") or []
    rechecked = ""
    if found < probed and "never_found" in search:
        rechecked = (
            f"; searched again for up to {search['recheck_s']:g} s after the sends: {len(late)} of the misses found "
            + (f"({min(late):g} to {max(late):g} s after their `message_sent`)" if late else "")
            + f", {search['never_found']} never"
        )
    return [
        f"| search probe: messages found within {bound:g} s of their `message_sent` | {found} of {probed}{unsent} "
        f"(target all, {verdict}; missed: {missed}{rechecked}) |",
        f"| search probe's own load | {search['searches']:,} searches ({search['searches_per_s']}/s during the sends, "
        f"{search['searches_per_message']} per probed message); refused (429): {search['refused_429']}; other "
        f"failures: {failures} |",
    ]


def render(result: dict[str, Any], info: dict[str, Any]) -> str:
    latency = result["latency_ms"]
    rows = []
    labels = {
        "message_received": "send → `message_received` (the room)",
        "new_message_notification": "send → `new_message_notification` (the recipient's devices)",
        "message_sent": "send → `message_sent` (the sender's answer)",
    }
    for phase in (PROBE, LOADED):
        for event in ("message_received", "new_message_notification", "message_sent"):
            if event in latency.get(phase, {}):
                v = latency[phase][event]
                rows.append(
                    f"| {phase} | {labels[event]} | {v['n']:,} | {v['p50']} | {v['p95']} | {v['p99']} | {v['max']} |"
                )
    verdict = "met" if result["exactly_once_pct"] == 100.0 and not result["misdelivered"] else "**missed**"
    phases = ", ".join(f"{name} {seconds} s" for name, seconds in result["phases_s"].items())
    errors = ", ".join(f"{k}: {v}" for k, v in result["send_errors"].items()) or "none"
    search = result.get("search") or {}
    lag = search.get("lag_ms") or {}
    if lag:
        rows.append(
            f"| {LOADED} | `message_sent` → found by `GET /api/messages/search` (indexing lag) | {lag['n']:,} | "
            f"{lag['p50']} | {lag['p95']} | {lag['p99']} | {lag['max']} |"
        )
    lines = [
        "## `make bench-load` (local stack, real WebSocket clients)",
        "",
        f"- **Date** {info['date']}; **command** `{info['command']}`; stack: `{info['stack']}`",
        f"- **Machine** {info['machine']}",
        f"- **Load** {result['clients']} WebSocket clients ({result['users']} users) over {result['conversations']} "
        f"conversations ({result['connections_per_conversation']:.0f} connections in each room), "
        f"{result['messages_sent']:,} of {result['messages_requested']:,} messages sent as `new_message` frames, at "
        f"most {result['concurrency']} awaiting their answer, after {result['probe_messages']} sent one at a time"
        + (" (**stopped by the deadline**)" if result["stopped_by_deadline"] else ""),
        f"- **Phases** {phases}",
        "",
        "| result | value |",
        "|---|---|",
        f"| messages stored (answered `message_sent`), both phases | {result['messages_acked']:,} |",
        f"| deliveries expected (message x connection x event) | {result['expected_deliveries']:,} |",
        f"| delivered exactly once | {result['delivered_exactly_once']:,} (**{result['exactly_once_pct']} %**: "
        f"target 100 %, {verdict}) |",
        f"| missing / duplicated / to a connection that should not get it | {result['missing']} / "
        f"{result['duplicated']} / {result['misdelivered']} |",
        f"| throughput under load | {result['throughput_msgs_per_s']} messages/s stored, "
        f"{result['deliveries_per_s']} deliveries/s |",
        f"| errors | send errors: {errors}; error frames: {result['error_frames']}; sockets closed early: "
        f"{result['closed_early']} |",
        *_search_rows(search),
        "",
        "| phase | end-to-end latency (ms) | n | p50 | p95 | p99 | max |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    if search.get("every"):
        lines += [
            f"Search probe (issue 17): under load, one message in {search['every']} (one at a time per "
            "conversation) carried a unique ten-letter word; after its `message_sent`, its recipient and its sender "
            f"searched for it in turn, {search['poll_s']:g} s apart at first, then each wait {SEARCH_POLL_GROWTH:g}x "
            f"the one before up to {SEARCH_POLL_MAX_SECONDS:g} s, until found (the lag is measured to the answer that "
            "found it, so it overstates the true lag by up to one wait); each user is held to "
            f"{search['polls_per_minute_per_user']} searches in any minute, under the stack's production "
            "`RATE_LIMIT_SEARCH` (30 a minute, which `bench/limits.py` leaves on).",
            "",
        ]
    if result["examples"]:
        lines += ["Examples of what went wrong: " + "; ".join(result["examples"]), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m bench.load" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    load_before = round(os.getloadavg()[0], 1)
    pairs, per_user = build_users(args.clients, args.conversations)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        print(f"starting the stack (dev.stack{', moto as it ships' if args.raw_moto else ''})", file=sys.stderr)
        stack = start_stack(Path(tmp), args.raw_moto)
        memory: dict[str, float] = {}
        try:
            result = asyncio.run(drive(stack, args, pairs, per_user))
            memory = process_memory(stack.process.pid)
        finally:
            code = stack.stop()
            log = stack.log.read_text(errors="replace")
        tracebacks = log.count("Traceback")
        if tracebacks or code != 0:  # keep the stack's log to look at
            OUT.mkdir(parents=True, exist_ok=True)
            (OUT / "stack.log").write_text(log)
    result["stack_exit_code"] = code
    result["stack_tracebacks"] = tracebacks
    result["stack_memory"] = memory
    m = machine()
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command.strip(),
        "stack": "python -m dev.stack with DEV_MOTO_PATCHES=off (moto as it ships)"
        if args.raw_moto
        else "python -m dev.stack (moto with dev/moto_patches.py, as make dev runs it)",
        "machine": f"{m['cpu']}, {m['cores']} cores, {m['memory']}; Python {m['python']}; "
        f"load average {load_before} at the start, {round(os.getloadavg()[0], 1)} at the end",
    }
    if not args.no_write:  # the numbers first: nothing after this may lose them
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "load.json").write_text(json.dumps({**info, **result}, indent=2) + "\n")
    text = render(result, info)
    if memory:
        text += (
            f"\nThe stack's resident memory after the run: {memory.get('rss_mb', 0):,.0f} MB "
            f"(peak {memory.get('peak_rss_mb', 0):,.0f} MB).\n"
        )
    text += f"\nStack exit code {code}; tracebacks in its log: {tracebacks}"
    text += " (log kept in bench/out/stack.log).\n" if tracebacks or code != 0 else ".\n"
    print(text)
    if not args.no_write:
        write_section(RESULTS, "bench-load", text, PREAMBLE)
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
