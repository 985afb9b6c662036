"""The JavaScript client (clients/js, ``@crochet-messaging/client``) against the dev stack.

- Its integration tests under Node (``node --test``): two clients over real HTTP and real sockets, the stack's URLs
  and JWT secret in their environment (clients/js/test/integration/stack.test.ts).
- Its React example (clients/js/examples/react, built with Vite) in headless Chromium: two users chatting through
  ``MessagingProvider`` / ``useMessaging``, a photo, unread badges, and a reconnect after the gateway dropped a socket.

``make test`` builds the package, its tests and the example first (the ``client-js`` target); run alone, this module
skips when they are missing (and fails under CI).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from dev.seed import ALICE, BOB, USERS
from tests.e2e.browser_tabs import Tab, go_online, new_tab
from tests.e2e.conftest import JWT_SECRET, ROOT, RunningStack, free_port, start_stack
from tests.e2e.images import png_bytes

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator

pytestmark = pytest.mark.e2e

CLIENT = ROOT / "clients" / "js"
INTEGRATION_TESTS = CLIENT / "build" / "test" / "integration"
EXAMPLE = CLIENT / "examples" / "react" / "dist"
NODE_TIMEOUT_SECONDS = 120
BUILD_HINT = "make client-js (make test runs it): npm ci, build, tests and the React example in clients/js"
# The example's socket waits a little before reconnecting: what is sent meanwhile can only come through catch-up.
EXAMPLE_CLIENT_OPTIONS = {"reconnect": {"initialDelayMs": 1500, "maxDelayMs": 3000}}


def require_built(*paths: Path) -> None:
    missing = [str(path.relative_to(ROOT)) for path in paths if not path.exists()]
    if shutil.which("node") is None:
        missing.append("node (Node.js 20.19 or newer)")
    if missing:
        reason = f"missing {', '.join(missing)}: {BUILD_HINT}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def example_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, example_port: int) -> Iterator[RunningStack]:
    """One stack for the module; the example's origin may upload to the bucket (its CORS rule)."""
    origin = f"http://127.0.0.1:{example_port}"
    with start_stack(tmp_path_factory.mktemp("js-client-stack"), ALLOWED_ORIGINS=origin) as running:
        yield running


def test_client_package_against_the_stack(stack: RunningStack, tmp_path: Path) -> None:
    require_built(INTEGRATION_TESTS / "stack.test.js")
    photo = tmp_path / "swatch.png"
    photo.write_bytes(png_bytes(640, 480))
    env = {
        **os.environ,
        "MESSAGING_API_URL": stack.api_url,
        "MESSAGING_WS_URL": stack.ws_url,
        "MESSAGING_WS_MANAGEMENT_URL": stack.ws_management_url,
        "MESSAGING_JWT_SECRET": JWT_SECRET,
        "MESSAGING_TEST_PNG": str(photo),
    }
    result = subprocess.run(
        ["node", "--test", "--test-reporter=spec", "--test-concurrency=1", str(INTEGRATION_TESTS)],
        cwd=CLIENT,
        env=env,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_SECONDS,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert " fail 0" in output and " skipped 0" in output, output  # every test ran (none skipped for want of the stack)


# --- the React example in Chromium -------------------------------------------------------------------------------


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def example_url(stack: RunningStack, example_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The built example as a static site, with the stack's own config.json (URLs, demo users, tokens) beside it."""
    require_built(EXAMPLE / "index.html")
    site = tmp_path_factory.mktemp("example-site")
    shutil.copytree(EXAMPLE, site, dirs_exist_ok=True)
    config = requests.get(f"{stack.web_url}/config.json", timeout=10).json()
    (site / "config.json").write_text(json.dumps({**config, "client": EXAMPLE_CLIENT_OPTIONS}))
    server = ThreadingHTTPServer(("127.0.0.1", example_port), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, name="example-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{example_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def open_tab(browser: Browser, url: str, user: str) -> Tab:
    tab = new_tab(browser, user)
    # The gateway names each connection in its upgrade answer (X-Connection-Id); pages cannot read it, DevTools can.
    cdp = tab.page.context.new_cdp_session(tab.page)
    cdp.send("Network.enable")

    def handshake(event: dict[str, Any]) -> None:
        headers = {name.lower(): value for name, value in event["response"]["headers"].items()}
        if "x-connection-id" in headers:
            tab.connection_ids.append(headers["x-connection-id"])

    cdp.on("Network.webSocketHandshakeResponseReceived", handshake)
    return go_online(tab, f"{url}/?user={user}")


def conversation_item(tab: Tab, topic: str) -> Locator:
    return tab.page.locator(".conversation").filter(has=tab.page.locator(".topic").get_by_text(topic, exact=True))


def send(tab: Tab, text: str) -> None:
    tab.page.locator("#message-input").fill(text)
    tab.page.locator("#message-input").press("Enter")


def test_react_example_chats_live_in_the_browser(
    browser: Browser, stack: RunningStack, example_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    blanket = "Granny Square Blanket"
    bob = open_tab(browser, example_url, BOB)
    alice = open_tab(browser, example_url, ALICE)
    # MessageCreatorButton: createPatternConversation, then loadConversation.
    bob.page.get_by_role("button", name=f"Ask {USERS[ALICE]} about {blanket}").click()
    expect(bob.page.locator("#chat-title")).to_have_text(blanket)
    expect(conversation_item(alice, blanket)).to_be_visible()
    conversation_item(alice, blanket).click()
    expect(alice.page.locator("#chat-title")).to_have_text(blanket)
    expect(alice.page.locator("#chat-presence")).to_contain_text("online")

    # Typing (throttled startTyping) shows on alice's side; the message arrives once and ends the indicator.
    question = "Does the border need a bigger hook?"
    box = bob.page.locator("#message-input")
    indicator, typing = alice.page.locator("#typing-indicator"), f"{USERS[BOB]} is typing…"
    box.press_sequentially(question, delay=15)
    # The client sends typing_start at most once a second while its user types; the first can reach the room just
    # before alice's page has joined it (seen once in CI). Bob goes on typing (and erasing) until one shows.
    for _ in range(20):
        if indicator.is_visible() and indicator.text_content() == typing:
            break
        box.press("x")
        box.press("Backspace")
        bob.page.wait_for_timeout(500)
    expect(indicator).to_have_text(typing)
    box.press("Enter")
    theirs = alice.page.locator(".message.theirs", has_text=question)
    expect(theirs).to_have_count(1)
    expect(alice.page.locator("#typing-indicator")).to_be_hidden()
    # Optimistic, then stored (same element), then read: alice has it on screen, so her client marked it read.
    mine = bob.page.locator(".message.mine", has_text=question)
    expect(mine).to_have_count(1)
    expect(mine).to_have_attribute("data-delivery", "sent")
    expect(mine.locator(".receipt")).to_have_text("Read")

    # A photo: uploadAttachment (presigned POST from the page to the bucket), then sendMessage with it.
    photo = tmp_path / "swatch.png"
    photo.write_bytes(png_bytes(640, 480))
    bob.page.locator("#photo-input").set_input_files(photo)
    thumbnail = alice.page.locator(".message.theirs img.thumbnail").last
    expect(thumbnail).to_be_visible()
    alice.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    expect(bob.page.locator(".message.mine img.thumbnail")).to_have_count(1)

    # A message in another conversation: new_message_notification moves that entry's badge and the header total.
    direct = conversation_item(alice, "Direct message")
    unread_before = int(alice.page.get_by_test_id("unread-count").inner_text())
    badge_before = int(direct.locator(".badge").inner_text()) if direct.locator(".badge").count() else 0
    stack.caller(BOB).send_to(ALICE, "Also: is the yarn weight DK?")
    expect(direct.locator(".badge")).to_have_text(str(badge_before + 1))
    expect(direct.locator(".preview")).to_have_text("Also: is the yarn weight DK?")
    expect(alice.page.get_by_test_id("unread-count")).to_have_text(str(unread_before + 1))
    expect(alice.page.get_by_role("status")).to_contain_text("Also: is the yarn weight DK?")

    # The gateway drops bob's socket: his page goes offline, reconnects by itself and catches up on what alice wrote
    # meanwhile, shown once.
    assert bob.connection_ids, "no X-Connection-Id seen"
    dropped = requests.delete(f"{stack.ws_management_url}/@connections/{bob.connection_ids[-1]}", timeout=10)
    assert dropped.status_code == 204
    expect(bob.page.locator("#connection-status")).to_have_attribute("data-state", "offline")
    answer = "A 4 mm hook, same as the squares."
    send(alice, answer)
    expect(alice.page.locator(".message.mine", has_text=answer)).to_have_attribute("data-delivery", "sent")
    expect(bob.page.locator("#connection-status")).to_have_attribute("data-state", "online")
    expect(bob.page.locator(".message.theirs", has_text=answer)).to_have_count(1)
    expect(alice.page.locator(".message.mine", has_text=answer).locator(".receipt")).to_have_text("Read")
    assert len(bob.connection_ids) >= 2
    bob.page.wait_for_timeout(300)
    expect(bob.page.locator(".message.theirs", has_text=answer)).to_have_count(1)

    # A reaction, an edit and a deletion (useMessaging's editMessage, addReaction, deleteMessage): the other side
    # follows each, with the message's version growing.
    bobs_copy = bob.page.locator(".message.theirs", has_text=answer)
    bobs_copy.locator("button.react").click()
    alices_copy = alice.page.locator(".message.mine", has_text=answer)
    expect(alices_copy.locator('.reaction[data-emoji="🧶"]')).to_have_text("🧶 1")
    alice.page.once("dialog", lambda dialog: dialog.accept("A 4 mm hook, like the squares."))
    alices_copy.locator("button.edit").click()
    edited = bob.page.locator(".message.theirs", has_text="A 4 mm hook, like the squares.")
    expect(edited.locator(".edited")).to_have_text("edited")
    expect(edited.locator('.reaction[data-emoji="🧶"]')).to_have_text("🧶 1")  # the edit kept the reaction
    alice.page.locator(".message.mine", has_text="A 4 mm hook, like the squares.").locator("button.delete").click()
    message_id = edited.get_attribute("data-message-id")
    tombstone = bob.page.locator(f'.message[data-message-id="{message_id}"]')
    expect(tombstone.locator(".tombstone")).to_have_text("message deleted")
    assert int(tombstone.get_attribute("data-version") or 0) >= 4  # sent, reacted, edited, deleted

    screenshots = Path(os.environ.get("E2E_SCREENSHOT_DIR") or tmp_path)
    screenshots.mkdir(parents=True, exist_ok=True)
    for tab in (alice, bob):
        tab.page.screenshot(path=str(screenshots / f"react-{tab.user}.png"))
    assert alice.errors == [] and bob.errors == [], (alice.errors, bob.errors)
