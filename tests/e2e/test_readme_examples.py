"""Every example of README.md, run against a dev stack, so the documentation cannot drift from the API.

The examples are read from README.md itself (its fenced code blocks), never copied here:

- the REST API's and the Errors section's ``http`` requests are sent as written (ids of the example replaced by the
  ones this run made), and each ``json`` answer is compared with what the stack answers: every field the example
  shows exists with the same JSON type, and the fields that are not ids or times (``LITERAL_FIELDS``: content,
  codes, error texts, versions, read state, ...) have the example's value; ``"…"`` stands for what the example
  leaves out;
- the Frontend section's ``ts`` quick start runs in Node on the built package, its URLs pointed at this stack;
- its ``tsx`` hooks example is built with Vite into a page that headless Chromium opens against this stack;
- the ``bash`` blocks name only targets the Makefile has.

A new example in README.md without a way to run it here fails the test (``SCENARIO`` lists them in order).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import textwrap
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from dev.seed import ALICE, BOB, GRANNY_SQUARE
from tests.e2e.api_client import Caller
from tests.e2e.conftest import ROOT, RunningStack, start_stack

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"
CLIENT = ROOT / "clients" / "js"
ELLIPSIS = "…"
# Fields whose example value is the value (everything else: the same JSON type is enough).
LITERAL_FIELDS = {
    "patternId",
    "title",
    "creatorId",
    "participantIds",
    "senderId",
    "recipientId",
    "content",
    "isRead",
    "isActive",
    "isDeleted",
    "clientMessageId",
    "version",
    "reactions",
    "emoji",
    "count",
    "userIds",
    "name",
    "hasMoreBefore",
    "hasMoreAfter",
    "hasMore",
    "code",
    "message",
    "field",
    "type",
    "Content-Type",
    "maxBytes",
    "highlights",
    "start",
    "end",
    "body",
}


@dataclass
class Block:
    language: str
    text: str
    line: int
    section: str


def readme_blocks() -> list[Block]:
    """The fenced code blocks of README.md, with the ``##`` section each is in."""
    blocks: list[Block] = []
    section = ""
    lines = README.read_text().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("## "):
            section = line[3:].strip()
        fence = re.match(r"^(\s*)```(\w*)\s*$", line)
        if fence:
            indent, language = fence.group(1), fence.group(2)
            start = index
            body: list[str] = []
            index += 1
            while not lines[index].startswith(f"{indent}```"):
                body.append(lines[index][len(indent) :])
                index += 1
            blocks.append(Block(language, "\n".join(body), start + 1, section))
        index += 1
    return blocks


def api_examples() -> list[Block]:
    return [b for b in readme_blocks() if b.section in ("Errors", "REST API") and b.language in ("http", "json")]


def frontend_block(language: str) -> Block:
    [block] = [b for b in readme_blocks() if b.section == "Frontend" and b.language == language]
    return block


# --- comparing an example with an answer ------------------------------------------------------------------------


def same_type(example: Any, actual: Any) -> bool:
    if isinstance(example, bool) or isinstance(actual, bool):
        return isinstance(example, bool) and isinstance(actual, bool)
    if isinstance(example, int | float):
        return isinstance(actual, int | float)
    return type(example) is type(actual)


def mismatches(example: Any, actual: Any, path: str = "$", literal: bool = False) -> list[str]:
    """Where ``actual`` differs from ``example`` (README's shape, and its values for LITERAL_FIELDS)."""
    if isinstance(example, str) and ELLIPSIS in example:
        return [] if isinstance(actual, str) else [f"{path}: {actual!r} is not a string"]
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return [f"{path}: {actual!r} is not an object"]
        found: list[str] = []
        for key, value in example.items():
            if key == ELLIPSIS:
                continue
            if key not in actual:
                found.append(f"{path}.{key}: missing (the answer has {sorted(actual)})")
                continue
            found += mismatches(value, actual[key], f"{path}.{key}", key in LITERAL_FIELDS)
        return found
    if isinstance(example, list):
        if not isinstance(actual, list):
            return [f"{path}: {actual!r} is not a list"]
        if literal:
            if len(example) != len(actual):
                return [f"{path}: {len(actual)} items, the example shows {len(example)}"]
            return [
                m
                for i, (e, a) in enumerate(zip(example, actual, strict=True))
                for m in mismatches(e, a, f"{path}[{i}]", True)
            ]
        # The example's items each match one of the answer's (a list page holds more than the example shows).
        found = []
        for i, item in enumerate(example):
            if all(mismatches(item, candidate, f"{path}[{i}]") for candidate in actual):
                best = min((mismatches(item, c, f"{path}[{i}]") for c in actual), key=len, default=["(empty)"])
                found.append(f"{path}[{i}]: no item of the answer matches: {best}")
        return found
    if literal and example != actual:
        return [f"{path}: {actual!r}, the example says {example!r}"]
    if not same_type(example, actual) and example is not None:
        return [f"{path}: {actual!r} is not like {example!r}"]
    return []


# --- running the REST API examples in order -----------------------------------------------------------------------


@dataclass
class Run:
    stack: RunningStack
    alice: Caller
    bob: Caller
    ids: dict[str, str]  # the example's ids -> this run's
    since: str

    def substitute(self, text: str) -> str:
        for example_id, real in sorted(self.ids.items(), key=lambda item: -len(item[0])):
            text = text.replace(example_id, real)
        return text

    def call(self, caller: Caller, http: Block) -> requests.Response:
        """An ``http`` block as written: ``METHOD PATH`` and an optional JSON body."""
        request_line, _, body = self.substitute(http.text).partition("\n")
        method, path = request_line.split()
        return caller.request(method, path, json.loads(body) if body.strip() else None)


def example_id(block: Block, prefix: str, n: int = 0) -> str:
    return re.findall(rf"\b{prefix}_[a-z0-9]+(?:_\d+)?\b", block.text)[n]


def expect_json(answer: requests.Response, status: int, block: Block) -> dict[str, Any]:
    assert answer.status_code == status, (block.line, answer.status_code, answer.text)
    return answer.json()


# A step runs one example: its block, and for an ``http`` block the ``json`` answer the README shows after it.
Step = Callable[[Run, Block, Block | None], dict[str, Any]]


def pattern_conversation(run: Run, block: Block, _: Block | None) -> dict[str, Any]:
    """``GET /api/messages/pattern/{patternId}`` (the heading names it) for the pattern the example shows."""
    pattern_id = json.loads(block.text)["conversation"]["patternId"]
    answer = expect_json(run.bob.open_pattern_conversation(pattern_id), 201, block)
    run.ids[example_id(block, "conv")] = answer["conversation"]["id"]
    return answer


def send(run: Run, http: Block, example: Block | None) -> dict[str, Any]:
    answer = expect_json(run.call(run.bob, http), 201, http)
    assert example is not None
    run.ids[json.loads(example.text)["message"]["id"]] = answer["message"]["id"]
    return answer


def conversation_list(run: Run, block: Block, _: Block | None) -> dict[str, Any]:
    answer = expect_json(run.alice.request("GET", "/api/messages/conversations"), 200, block)
    ours = run.substitute(example_id(block, "conv"))
    # The seed's conversations are there too: the example is compared with the one it documents.
    return {**answer, "conversations": [c for c in answer["conversations"] if c["id"] == ours]}


def conversation_detail(run: Run, block: Block, _: Block | None) -> dict[str, Any]:
    conversation_id = run.ids["conv_rppsem5x76ed76nhd22z3ru7p4"]
    return expect_json(run.alice.request("GET", f"/api/messages/conversations/{conversation_id}"), 200, block)


def edit(run: Run, http: Block, _: Block | None) -> dict[str, Any]:
    return expect_json(run.call(run.bob, http), 200, http)


def reply(run: Run, block: Block, _: Block | None) -> dict[str, Any]:
    """Alice's quoted reply (the example's ``content`` and ``replyTo``)."""
    example = json.loads(block.text)["message"]
    body = {
        "conversationId": run.ids["conv_rppsem5x76ed76nhd22z3ru7p4"],
        "content": example["content"],
        "replyTo": {"messageId": run.substitute(example["replyTo"]["id"])},
    }
    answer = expect_json(run.alice.request("POST", "/api/messages", body), 201, block)
    run.ids[example["id"]] = answer["message"]["id"]
    return answer


def react(run: Run, http: Block, example: Block | None) -> dict[str, Any]:
    """The reactions the example's answer shows, in its order (each emoji's users in the order they reacted); the
    ``http`` block's request, bob's, is the last one."""
    assert example is not None
    message_id = run.substitute(example_id(http, "msg"))
    last = (BOB, urllib.parse.unquote(http.text.split()[1].rsplit("/", 1)[1]))
    reactions = json.loads(example.text)["message"]["reactions"]
    order = [(user, r["emoji"]) for r in reactions for user in r["userIds"]]
    order.remove(last)
    callers = {ALICE: run.alice, BOB: run.bob}
    for user, emoji in order:
        path = f"/api/messages/{message_id}/reactions/{urllib.parse.quote(emoji)}"
        expect_json(callers[user].request("PUT", path), 200, http)
    return expect_json(run.call(run.bob, http), 200, http)


def read(run: Run, block: Block, _: Block | None) -> dict[str, Any]:
    message_id = run.substitute(json.loads(block.text)["messageId"])
    body = {"markConversation": False}
    return expect_json(run.alice.request("PUT", f"/api/messages/{message_id}/read", body), 200, block)


def delete(run: Run, block: Block, _: Block | None) -> dict[str, Any]:
    message_id = run.substitute(json.loads(block.text)["message"]["id"])
    return expect_json(run.bob.request("DELETE", f"/api/messages/{message_id}"), 200, block)


def upload(run: Run, block: Block, _: Block | None) -> dict[str, Any]:
    content_type = json.loads(block.text)["upload"]["fields"]["Content-Type"]
    body = {
        "conversationId": run.ids["conv_rppsem5x76ed76nhd22z3ru7p4"],
        "fileName": "swatch.jpg",
        "contentType": content_type,
        "size": 2048,
    }
    return expect_json(run.bob.request("POST", "/api/attachments", body), 201, block)


def sync(run: Run, block: Block, _: Block | None) -> dict[str, Any]:
    since = urllib.parse.quote(run.since)
    return expect_json(run.alice.request("GET", f"/api/messages/sync?since={since}"), 200, block)


def error(run: Run, block: Block, _: Block | None) -> dict[str, Any]:
    """The error the example shows: a content over the limit its text names."""
    detail = json.loads(block.text)["error"]["details"][0]
    limit = int(re.search(r"at most (\d+)", detail["message"]).group(1))  # type: ignore[union-attr]
    body = {"recipientId": ALICE, "content": "x" * (limit + 1)}
    answer = run.bob.request("POST", "/api/messages", body)
    assert answer.status_code == 400, answer.text
    return answer.json()


def search(run: Run, block: Block, _: Block | None) -> dict[str, Any]:
    """The example's message sent by bob, then found by alice with the words its highlights mark (the index is
    written from the stream: polled until it is there)."""
    example = json.loads(block.text)["results"][0]
    content = example["message"]["content"]
    words = " ".join(content[h["start"] : h["end"]] for h in example["highlights"])
    body = {"conversationId": run.ids["conv_rppsem5x76ed76nhd22z3ru7p4"], "content": content}
    sent = expect_json(run.bob.request("POST", "/api/messages", body), 201, block)["message"]
    path = f"/api/messages/search?q={urllib.parse.quote(words)}"
    deadline = time.monotonic() + 30
    while True:
        answer = expect_json(run.alice.request("GET", path), 200, block)
        if any(r["message"]["id"] == sent["id"] for r in answer["results"]) or time.monotonic() > deadline:
            return answer
        time.sleep(0.3)


def push_payload(run: Run, block: Block, _: Block | None) -> dict[str, Any]:
    """What the service worker receives: bob subscribed on the stack's push service (and not connected), alice
    sends him the example's body; the payload as the push service decrypted it."""
    example = json.loads(block.text)
    push_url = run.stack.ready["pushUrl"]
    subscription = requests.post(f"{push_url}/subscriptions", json={"name": "readme"}, timeout=10).json()
    expect_json(run.bob.request("PUT", "/api/push/subscriptions", subscription), 201, block)
    body = {"conversationId": run.ids["conv_rppsem5x76ed76nhd22z3ru7p4"], "content": example["body"]}
    sent = expect_json(run.alice.request("POST", "/api/messages", body), 201, block)["message"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        received = requests.get(f"{push_url}/push", timeout=10).json()["received"]
        for push in received:
            if push.get("payload", {}).get("messageId") == sent["id"]:
                payload: dict[str, Any] = push["payload"]
                return payload
        time.sleep(0.3)
    raise AssertionError(f"no push for {sent['id']} in 30 s: {run.stack.output()[-2000:]}")


# The examples in README order: (section, language, what runs it). The json after an http block is its answer.
SCENARIO: list[tuple[str, str, Step | None]] = [
    ("Errors", "json", error),
    ("REST API", "json", pattern_conversation),
    ("REST API", "http", send),
    ("REST API", "json", None),  # the answer to the http block before it
    ("REST API", "http", edit),
    ("REST API", "json", None),
    ("REST API", "json", delete),
    ("REST API", "http", react),
    ("REST API", "json", None),
    ("REST API", "json", reply),
    ("REST API", "json", conversation_list),
    ("REST API", "json", conversation_detail),
    ("REST API", "json", read),
    ("REST API", "json", upload),
    ("REST API", "json", sync),
    ("REST API", "json", search),
    ("REST API", "json", push_payload),
]
# What runs first: the list, the detail and the send before any change (they show the first text, unread); the
# edit before the reply (which quotes the edited text); reactions before the read, the read before the deletion
# (the tombstone shows it read).
ORDER = [
    "pattern_conversation",
    "send",
    "conversation_list",
    "conversation_detail",
    "edit",
    "reply",
    "react",
    "read",
    "delete",
    "upload",
    "sync",
    "search",
    "push_payload",
    "error",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack whose bucket lets the hooks example's page (served by the stack's own web server) upload."""
    with start_stack(tmp_path_factory.mktemp("readme-stack")) as running:
        yield running


def test_every_rest_example_of_the_readme_is_what_the_stack_answers(stack: RunningStack) -> None:
    blocks = api_examples()
    shape = [(b.section, b.language) for b in blocks]
    assert shape == [(s, lang) for s, lang, _ in SCENARIO], (
        f"README.md's examples changed: {[(b.line, b.section, b.language) for b in blocks]}; give each a step here"
    )
    alice, bob = stack.caller(ALICE), stack.caller(BOB)
    since = alice.request("GET", "/api/messages/sync").json()["nextCursor"]
    run = Run(stack, alice, bob, {}, since)
    steps: list[tuple[Step, Block, Block | None]] = []
    for index, (block, (_, _, step)) in enumerate(zip(blocks, SCENARIO, strict=True)):
        if step is not None:
            answer_example = blocks[index + 1] if block.language == "http" else None
            steps.append((step, block, answer_example))
    steps.sort(key=lambda entry: ORDER.index(entry[0].__name__))
    failures: list[str] = []
    for step, block, answer_example in steps:
        answer = step(run, block, answer_example)
        example = answer_example or block
        found = mismatches(json.loads(example.text), answer)
        failures += [f"README.md:{example.line} ({step.__name__}): {m}" for m in found]
    assert not failures, "\n".join(failures)
    # The send example names the demo's real pattern (it is what the run above used).
    assert GRANNY_SQUARE in next(b.text for b in blocks if b.language == "http" and "POST" in b.text)


# --- the Frontend section ----------------------------------------------------------------------------------------


def require_node_and_package() -> None:
    missing = [] if shutil.which("node") else ["node"]
    if not (CLIENT / "dist" / "index.js").exists():
        missing.append("clients/js/dist (make client-js)")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing {missing}")
        pytest.skip(f"missing {missing}")


def test_the_quick_start_runs_in_node_against_the_stack(stack: RunningStack, tmp_path: Path) -> None:
    """The five lines, as written, with this stack's URLs and a token for bob: alice gets the message."""
    require_node_and_package()
    code = frontend_block("ts").text
    code = code.replace("http://127.0.0.1:8000", stack.api_url).replace("ws://127.0.0.1:8001", stack.ws_url)
    assert stack.api_url in code and stack.ws_url in code, "the quick start's URLs are not the dev stack's defaults"
    script = CLIENT / "build" / "readme" / "quickstart.mjs"  # inside the package: it imports itself by name
    script.parent.mkdir(parents=True, exist_ok=True)
    prelude = "const myAuth = { token: () => process.env.MESSAGING_TOKEN };\n"
    epilogue = "\nclient.disconnect();\n"
    script.write_text(prelude + code + epilogue)
    before = {m["id"] for m in conversation_messages(stack, ALICE, BOB)}
    result = subprocess.run(
        ["node", "--experimental-websocket", "--no-warnings", str(script)],
        cwd=CLIENT,
        env={**os.environ, "MESSAGING_TOKEN": stack.token(BOB)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sent = [m for m in conversation_messages(stack, ALICE, BOB) if m["id"] not in before]
    quoted = re.search(r'content: "([^"]+)"', code).group(1)  # type: ignore[union-attr]
    assert [m["content"] for m in sent] == [quoted]


def conversation_messages(stack: RunningStack, user: str, other: str) -> list[dict[str, Any]]:
    """The direct conversation of two users (no pattern), newest page."""
    listing = stack.caller(user).request("GET", "/api/messages/conversations?limit=30").json()
    direct = [c for c in listing["conversations"] if not c.get("patternId") and c["otherParticipant"]["id"] == other]
    if not direct:
        return []
    return stack.caller(user).request("GET", f"/api/messages/conversations/{direct[0]['id']}").json()["messages"]


def test_the_hooks_example_renders_in_chromium(browser: Browser, stack: RunningStack, tmp_path: Path) -> None:
    """The ``tsx`` block as a page (Vite), given the stack's URLs and bob's token: it renders his conversations."""

    require_node_and_package()
    if not (CLIENT / "node_modules" / ".bin" / "vite").exists():
        pytest.skip("clients/js/node_modules (make client-js)")
    site = CLIENT / "build" / "readme" / "hooks"
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    (site / "Example.tsx").write_text(
        "declare const API_URL: string, WS_URL: string, TOKEN: string;\n" + frontend_block("tsx").text
    )
    (site / "main.tsx").write_text(
        textwrap.dedent(
            """
            import { createRoot } from "react-dom/client";
            import { App } from "./Example";
            createRoot(document.getElementById("root")!).render(<App />);
            """
        )
    )
    page_html = '<link rel="icon" href="data:," /><div id="root"></div><script type="module" src="./main.tsx"></script>'
    (site / "index.html").write_text(page_html + "\n")
    defines = {"API_URL": stack.api_url, "WS_URL": stack.ws_url, "TOKEN": stack.token(BOB)}
    dist = CLIENT / "dist"
    (site / "vite.config.mjs").write_text(
        "import { fileURLToPath } from 'node:url';\n"
        "export default { root: fileURLToPath(new URL('.', import.meta.url)), logLevel: 'warn', base: './',\n"
        f"  define: {json.dumps({k: json.dumps(v) for k, v in defines.items()})},\n"
        "  resolve: { alias: [\n"
        f"    {{ find: /^@crochet-messaging\\/client\\/react$/, replacement: {json.dumps(str(dist / 'react.js'))} }},\n"
        f"    {{ find: /^@crochet-messaging\\/client$/, replacement: {json.dumps(str(dist / 'index.js'))} }}] }},\n"
        "  build: { outDir: 'dist', emptyOutDir: true } };\n"
    )
    build = subprocess.run(
        ["node_modules/.bin/vite", "build", "--config", str(site / "vite.config.mjs")],
        cwd=CLIENT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site / "dist")))
    threading.Thread(target=server.serve_forever, name="readme-hooks", daemon=True).start()
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        check_hooks_page(page, stack)
    finally:
        page.close()
        server.shutdown()
        server.server_close()
    assert errors == [], errors


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def check_hooks_page(page: Any, stack: RunningStack) -> None:
    from playwright.sync_api import expect

    rendered = page.get_by_test_id("readme-hooks")
    expect(rendered).to_contain_text("connected")
    conversations = len(stack.caller(BOB).request("GET", "/api/messages/conversations").json()["conversations"])
    expect(rendered).to_contain_text(f"{conversations} conversations")


def test_the_bash_examples_name_real_make_targets() -> None:
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    commands = [line for b in readme_blocks() if b.language == "bash" for line in b.text.splitlines()]
    used = {m.group(1) for line in commands if (m := re.match(r"\s*make ([\w-]+)", line))}
    assert used and used <= targets, used - targets
