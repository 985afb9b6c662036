"""The browser reference client (dev/web/) in headless Chromium: two users chatting live through the dev stack.

Drives the system Chromium (the ``browser`` fixture of tests/e2e/conftest.py). Every wait is bounded (``WAIT_MS``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dev.seed import ALICE, AMIGURUMI_FOX, BOB, CAROL, USERS
from tests.e2e.api_client import Caller, json_of
from tests.e2e.browser_tabs import Tab, go_online, new_tab
from tests.e2e.conftest import RunningStack, start_stack
from tests.e2e.images import png_bytes

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator

pytestmark = pytest.mark.e2e

S3_EVENT_DELAY_SECONDS = "1.5"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A dev stack whose S3 upload events come late, as on AWS: a photo message is then sent while its image is
    still processing, so the page shows that state first and then handles ``attachment_ready``."""
    workdir = tmp_path_factory.mktemp("browser-stack")
    with start_stack(workdir, DEV_S3_EVENT_DELAY_SECONDS=S3_EVENT_DELAY_SECONDS) as running:
        yield running


def open_tab(browser: Browser, stack: RunningStack, user: str) -> Tab:
    """The client as ``user`` (own browser context: own storage), once its socket is open."""
    return go_online(new_tab(browser, user), f"{stack.web_url}/?user={user}")


def conversation_item(tab: Tab, topic: str) -> Locator:
    """The conversation list's entry with this topic (pattern title, or "Direct message")."""
    return tab.page.locator(".conversation").filter(has=tab.page.locator(".topic").get_by_text(topic, exact=True))


def open_chat(tab: Tab, title: str) -> None:
    """Click a conversation in the list; wait until its history is shown and the socket joined its room."""
    from playwright.sync_api import expect

    conversation_item(tab, title).click()
    expect(tab.page.locator("#chat-title")).to_have_text(title)
    expect(tab.page.locator("#chat")).to_have_attribute("data-joined", "true")


def send(tab: Tab, text: str) -> None:
    tab.page.locator("#message-input").fill(text)
    tab.page.locator("#message-input").press("Enter")


def test_two_users_chat_live_in_the_browser(browser: Browser, stack: RunningStack, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    blanket = "Granny Square Blanket"
    bob = open_tab(browser, stack, BOB)
    # Bob bought the blanket: his button opens (creates) the conversation with its creator.
    bob.page.get_by_role("button", name=f"Ask {USERS[ALICE]} about {blanket}").click()
    expect(bob.page.locator("#chat")).to_have_attribute("data-joined", "true")
    expect(bob.page.locator("#chat-title")).to_have_text(blanket)

    alice = open_tab(browser, stack, ALICE)
    open_chat(alice, blanket)
    expect(alice.page.locator("#chat-presence")).to_have_text("online")  # otherParticipant.online: bob is here

    # Typing: throttled typing_start frames -> alice's indicator; sending clears it.
    bob.page.locator("#message-input").press_sequentially("Which hook size for the border?", delay=15)
    expect(alice.page.locator("#typing-indicator")).to_have_text(f"{USERS[BOB]} is typing…")
    bob.page.locator("#message-input").press("Enter")
    expect(alice.page.locator(".message.theirs", has_text="Which hook size for the border?")).to_be_visible()
    expect(alice.page.locator("#typing-indicator")).to_be_hidden()

    # Alice has it on screen, so her client sends message_read; bob's gets message_read_update.
    question = bob.page.locator(".message.mine", has_text="Which hook size for the border?")
    expect(question.locator(".receipt")).to_have_text("Read")

    # A photo: presigned POST from the page straight to the bucket (CORS), then new_message with the attachment.
    photo = tmp_path / "swatch.png"
    photo.write_bytes(png_bytes(640, 480))
    bob.page.locator("#photo-input").set_input_files(photo)
    expect(bob.page.locator(".message.mine img.local-preview")).to_be_visible()  # the local file, meanwhile
    placeholder = alice.page.locator(".message.theirs .photo.placeholder")
    expect(placeholder).to_have_text("processing…")  # sent before the (late) S3 event processed it
    message_id = alice.page.locator(".message.theirs").last.get_attribute("data-message-id")
    assert message_id
    # attachment_ready replaces the placeholder with the presigned thumbnail, which the browser loads from S3.
    bucket_url = f"{stack.aws_url}/{stack.ready['attachmentsBucket']}"
    thumbnail = alice.page.locator(f'.message[data-message-id="{message_id}"] img.thumbnail')
    expect(thumbnail).to_have_attribute(
        "src",
        re.compile(
            rf"^{re.escape(bucket_url)}/conversations/conv_\w+/att_[\w-]+/thumb-[0-9a-f]+\.jpg\?.*X-Amz-Signature="
        ),
    )
    alice.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    assert thumbnail.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [320, 240]
    expect(bob.page.locator(f'.message[data-message-id="{message_id}"] img.thumbnail')).to_be_visible()

    # A message in another conversation: only new_message_notification reaches alice (badge and preview).
    direct = conversation_item(alice, "Direct message")
    unread_before = int(direct.locator(".badge").inner_text())
    stack.caller(BOB).send_to(ALICE, "Also: is the yarn weight DK?")
    expect(direct.locator(".badge")).to_have_text(str(unread_before + 1))
    expect(direct.locator(".preview")).to_have_text("Also: is the yarn weight DK?")

    # Bob's socket goes away: alice sees him offline (presence_update), and what she writes meanwhile reaches him
    # through GET /api/messages/sync when his client reconnects.
    bob.page.evaluate("devClient.client.disconnect()")
    expect(bob.page.locator("#connection-status")).to_have_attribute("data-state", "offline")
    expect(alice.page.locator("#chat-presence")).to_contain_text("last seen")
    send(alice, "A 4 mm hook, same as the squares.")
    answer = alice.page.locator(".message.mine", has_text="A 4 mm hook")
    expect(answer.locator(".receipt")).to_have_text("Sent")
    assert bob.page.locator(".message", has_text="A 4 mm hook").count() == 0
    bob.page.evaluate("devClient.client.connect()")
    expect(bob.page.locator(".message.theirs", has_text="A 4 mm hook")).to_be_visible()
    expect(alice.page.locator("#chat-presence")).to_have_text("online")
    expect(answer.locator(".receipt")).to_have_text("Read")  # bob read it after catching up
    expect(bob.page.locator(".conversation.active .badge")).to_have_count(0)

    screenshots = Path(os.environ.get("E2E_SCREENSHOT_DIR") or tmp_path)
    screenshots.mkdir(parents=True, exist_ok=True)
    for tab in (alice, bob):
        tab.page.screenshot(path=str(screenshots / f"{tab.user}.png"))
    assert alice.errors == [] and bob.errors == [], (alice.errors, bob.errors)


def test_edits_tombstones_reactions_and_quotes_in_the_browser(
    browser: Browser, stack: RunningStack, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    bob, alice = open_tab(browser, stack, BOB), open_tab(browser, stack, ALICE)
    for tab in (bob, alice):
        open_chat(tab, "Direct message")
    send(bob, "Is the border four rounds?")
    question = alice.page.locator(".message.theirs", has_text="Is the border four rounds?")
    expect(question).to_be_visible()

    # A quoted reply: the composer says what it replies to; bob sees the quote above alice's answer.
    question.locator(".action.reply").click()
    expect(alice.page.locator("#composer-mode-text")).to_have_text(
        f"Replying to {USERS[BOB]}: Is the border four rounds?"
    )
    send(alice, "Yes, four rounds of double crochet.")
    answer = bob.page.locator(".message.theirs", has_text="Yes, four rounds")
    expect(answer.locator(".quote")).to_contain_text("Is the border four rounds?")

    # An edit (edit_message): alice sees the new text marked "edited", and the quote in her answer follows it.
    mine = bob.page.locator(".message.mine", has_text="Is the border four rounds?")
    mine.locator(".action.edit").click()
    expect(bob.page.locator("#message-input")).to_have_value("Is the border four rounds?")
    bob.page.locator("#message-input").fill("Is the border five rounds?")
    bob.page.locator("#message-input").press("Enter")
    edited = alice.page.locator(f'.message[data-message-id="{question.get_attribute("data-message-id")}"]')
    expect(edited.locator(".content")).to_have_text("Is the border five rounds?")
    expect(edited.locator(".edited")).to_have_text("edited")
    reply_on_alices_side = alice.page.locator(".message.mine", has_text="Yes, four rounds")
    expect(reply_on_alices_side.locator(".quote-content")).to_have_text("Is the border five rounds?")

    # A reaction (add_reaction): bob sees alice's yarn on his message, and can add his own to it.
    edited.locator('.action.react[data-emoji="🧶"]').click()
    bobs_view = bob.page.locator(".message.mine", has_text="Is the border five rounds?")
    expect(bobs_view.locator('.reaction[data-emoji="🧶"]')).to_have_text("🧶 1")
    bobs_view.locator('.reaction[data-emoji="🧶"]').click()
    expect(edited.locator('.reaction[data-emoji="🧶"]')).to_have_text("🧶 2")

    # A deletion (delete_message): a tombstone in its place for both, and the quote says so.
    bobs_view.locator(".action.delete").click()
    expect(edited.locator(".tombstone")).to_have_text("message deleted")
    expect(edited.locator(".reaction")).to_have_count(0)
    expect(reply_on_alices_side.locator(".quote-content")).to_have_text("message deleted")
    expect(bob.page.locator(".message.mine.deleted .tombstone")).to_have_text("message deleted")

    # Online dots for the whole list (watch_presence): carol's row, a conversation alice never opened, goes green
    # when carol connects.
    # carol bought the fox first: a buyer's message goes to alice's inbox (a stranger's would be a message request).
    platform = Caller(stack.api_url, stack.token("platform", role="service"))
    assert platform.request("PUT", f"/api/internal/purchases/{AMIGURUMI_FOX}/{CAROL}").status_code == 200
    stack.caller(CAROL).send_to(ALICE, "Hi Alice, a question about the fox.")
    carol_row = alice.page.locator(".conversation", has=alice.page.locator(".name", has_text=USERS[CAROL]))
    expect(carol_row).to_be_visible()
    expect(carol_row.locator(".dot")).to_have_class(re.compile(r"\boffline\b"))
    carol = open_tab(browser, stack, CAROL)
    expect(carol_row.locator(".dot")).to_have_class(re.compile(r"\bonline\b"))

    screenshots = Path(os.environ.get("E2E_SCREENSHOT_DIR") or tmp_path)
    screenshots.mkdir(parents=True, exist_ok=True)
    for tab in (alice, bob):
        tab.page.screenshot(path=str(screenshots / f"lifecycle-{tab.user}.png"))

    assert alice.errors == [] and bob.errors == [] and carol.errors == [], (alice.errors, bob.errors, carol.errors)


def test_sign_in_narrow_screen_day_separators_header_badge_and_newest_photo_in_view(
    browser: Browser, stack: RunningStack, tmp_path: Path
) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import expect

    # Carol sends alice a photo and two lines (over REST, before alice opens this page; alice's tab of the test
    # before has another conversation open, so nothing reads these).
    caller = stack.caller(CAROL)
    json_of(caller.send_to(ALICE, "A photo of the border, coming up."), 201)
    direct_id = json_of(caller.send_to(ALICE, "First a line."), 201)["conversation"]["id"]
    json_of(caller.send_photo(direct_id, png_bytes(640, 480), "border.png"), 201)

    # No silent default user: without ?user= the page asks who signs in, on a 360 px wide phone screen.
    tab = new_tab(browser, ALICE, width=360, height=640)
    page = tab.page
    page.goto(stack.web_url + "/")
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator(".layout")).to_be_hidden()
    expect(page.locator("#connection-status")).not_to_have_attribute("data-state", "online")
    page.get_by_role("button", name=f"Sign in as {USERS[ALICE]}").click()
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "online")
    expect(page.locator("#signed-in-name")).to_have_text(USERS[ALICE])
    no_horizontal_scroll = "document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(no_horizontal_scroll), "the list is wider than the screen"

    # The header badge (the seed's MessageNotifications): the unread total and the recent conversations.
    badge = page.get_by_test_id("unread-count")
    expect(badge).to_be_visible()
    assert int(badge.inner_text()) >= 3, badge.inner_text()
    page.locator("#notifications-button").click()
    recent = page.locator("#notifications-menu .recent").first
    expect(recent).to_contain_text(USERS[CAROL])
    expect(recent.locator(".badge")).to_be_visible()
    recent.click()  # quick navigation: opens the newest conversation

    # On a narrow screen the chat replaces the list; the newest photo is fully in view once its image has loaded,
    # and its box was reserved before (the list did not scroll away from the bottom while it loaded).
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator(".sidebar")).to_be_hidden()
    thumbnail = page.locator(".message.theirs img.thumbnail").last
    expect(thumbnail).to_be_visible()
    # Loaded and laid out (the list may re-render the message once the catch-up lands: the locator follows it).
    page.wait_for_function(
        """() => { const img = [...document.querySelectorAll('.message.theirs img.thumbnail')].at(-1);
            return img && img.complete && img.naturalWidth > 0 && img.getBoundingClientRect().height > 50; }""",
        polling=100,
    )
    in_view = """img => {
        const box = img.getBoundingClientRect(), list = document.querySelector('#message-list').getBoundingClientRect();
        return box.top >= list.top - 1 && box.bottom <= list.bottom + 1;
    }"""
    where = """img => {
        const box = img.getBoundingClientRect(), l = document.querySelector('#message-list');
        const list = l.getBoundingClientRect();
        return JSON.stringify({top: box.top, bottom: box.bottom, listTop: list.top, listBottom: list.bottom,
            scrollTop: l.scrollTop, scrollHeight: l.scrollHeight, clientHeight: l.clientHeight,
            last: l.lastElementChild.outerHTML.slice(0, 300)});
    }"""
    # The view settles (the history page and the thumbnail's box land in their own frames): waited for, bounded.
    try:
        # Polled on a timer: requestAnimationFrame (the default) does not run in a tab the browser counts as hidden.
        page.wait_for_function(in_view, arg=thumbnail.element_handle(), polling=100, timeout=5000)
    except PlaywrightTimeoutError:
        page.screenshot(path=str(tmp_path / "photo-not-in-view.png"))
    assert thumbnail.evaluate(in_view), "the newest photo is not fully in view: " + thumbnail.evaluate(where)
    assert page.evaluate(no_horizontal_scroll), "the chat is wider than the screen"
    # Date separators: one above the first message of each day.
    expect(page.locator("#message-list .day-separator").last).to_have_text("Today")
    page.screenshot(path=str(tmp_path / "narrow-chat.png"))
    # Reading the conversation clears its badge; back to the list.
    expect(page.locator("#notifications-menu .recent").first.locator(".badge")).to_have_count(0)
    page.locator("#back-to-list").click()
    expect(page.locator(".sidebar")).to_be_visible()

    # Signing out forgets the user: a reload asks again.
    page.locator("#sign-out").click()
    expect(page.locator("#sign-in")).to_be_visible()
    page.reload()
    expect(page.locator("#sign-in")).to_be_visible()
    page.screenshot(path=str(tmp_path / "narrow.png"))
    assert tab.errors == [], tab.errors
