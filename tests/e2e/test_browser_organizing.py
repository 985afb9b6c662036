"""The browser reference client (dev/web/) organizing conversations, reporting and notification settings (issues 16
and 18) in headless Chromium against the dev stack: folder tabs, archive, mute, block, message requests, reports,
the preferences panel and "Notify me" (which must fail gracefully: headless Chromium has no push service).

Every wait is bounded (``WAIT_MS``); every check that the page changed something is also made over REST.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from dev.seed import ALICE, BOB, CAROL, USERS
from tests.e2e.api_client import Caller, json_of
from tests.e2e.browser_tabs import Tab, go_online, new_tab
from tests.e2e.conftest import WAIT_MS, RunningStack

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator

pytestmark = pytest.mark.e2e

DIRECT = "Direct message"  # the seed's conversation: bob (a buyer of alice's blanket) wrote to alice
NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def tabs(browser: Browser) -> Iterator[list[Tab]]:
    """The tabs a test opened; closed after it, once they are idle."""
    opened: list[Tab] = []
    yield opened
    for tab in opened:
        tab.settle()
        tab.page.context.close()


def open_tab(browser: Browser, stack: RunningStack, tabs: list[Tab], user: str, width: int = 1100) -> Tab:
    """The client as ``user`` (own browser context), once its socket is open."""
    tab = new_tab(browser, user, width=width)
    tabs.append(tab)
    return go_online(tab, f"{stack.web_url}/?user={user}")


def row(tab: Tab, name: str) -> Locator:
    """The conversation list's entry of the conversation with ``name`` (the other participant)."""
    return tab.page.locator(".conversation").filter(has=tab.page.locator(".name", has_text=name))


def bobs_row(tab: Tab) -> Locator:
    """Alice's conversation with bob."""
    return row(tab, USERS[BOB])


def folder_tab(tab: Tab, folder: str) -> Locator:
    return tab.page.locator(f'.folder-tab[data-folder="{folder}"]')


def open_chat(tab: Tab, item: Locator, title: str) -> None:
    """Click a conversation in the list; wait until its history is shown and its room joined."""
    from playwright.sync_api import expect

    item.click()
    expect(tab.page.locator("#chat-title")).to_have_text(title)
    expect(tab.page.locator("#chat")).to_have_attribute("data-joined", "true")


def folder_ids(stack: RunningStack, user: str, folder: str) -> list[str]:
    path = f"/api/messages/conversations?folder={folder}"
    return [c["id"] for c in json_of(stack.caller(user).request("GET", path), 200)["conversations"]]


def conversation_id(tab: Tab, item: Locator) -> str:
    value = item.get_attribute("data-conversation-id")
    assert value, "a conversation row without its id"
    return value


def blocks(stack: RunningStack, user: str) -> list[str]:
    return [b["userId"] for b in json_of(stack.caller(user).request("GET", "/api/me/blocks"), 200)["blocks"]]


def test_archive_from_the_header_moves_it_between_the_tabs(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    from playwright.sync_api import expect

    alice = open_tab(browser, stack, tabs, ALICE)
    expect(folder_tab(alice, "inbox")).to_have_attribute("aria-selected", "true")
    item = bobs_row(alice)
    bobs = conversation_id(alice, item)
    open_chat(alice, item, DIRECT)

    alice.page.locator("#archive-button").click()
    expect(bobs_row(alice)).to_have_count(0)  # it left the inbox tab
    expect(alice.page.locator("#archive-button")).to_have_text("Unarchive")
    assert bobs not in folder_ids(stack, ALICE, "inbox")
    assert bobs in folder_ids(stack, ALICE, "archived")

    folder_tab(alice, "archived").click()
    expect(folder_tab(alice, "archived")).to_have_attribute("aria-selected", "true")
    expect(bobs_row(alice)).to_be_visible()
    open_chat(alice, bobs_row(alice), DIRECT)
    alice.page.locator("#archive-button").click()
    expect(bobs_row(alice)).to_have_count(0)  # it left the archived tab
    expect(alice.page.locator("#archive-button")).to_have_text("Archive")
    assert bobs in folder_ids(stack, ALICE, "inbox")
    assert bobs not in folder_ids(stack, ALICE, "archived")

    folder_tab(alice, "inbox").click()
    expect(bobs_row(alice)).to_be_visible()
    assert alice.errors == [], alice.errors


def test_mute_shows_the_icon_and_block_shows_the_blocked_state(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    from playwright.sync_api import expect

    # On a phone-sized screen: the header's actions wrap, nothing scrolls sideways.
    alice = open_tab(browser, stack, tabs, ALICE, width=360)
    bobs = conversation_id(alice, bobs_row(alice))
    expect(bobs_row(alice).locator(".muted-icon")).to_have_count(0)
    open_chat(alice, bobs_row(alice), DIRECT)
    assert alice.page.evaluate(NO_HORIZONTAL_SCROLL), "the chat's header is wider than the screen"

    alice.page.locator("#mute-button").click()
    alice.page.locator('.mute-option[data-hours="8"]').click()
    expect(alice.page.locator("#mute-button")).to_have_text("Unmute")
    expect(alice.page.locator("#chat-state")).to_contain_text("Muted until")
    listing = json_of(stack.caller(ALICE).list_conversations(), 200)
    [settings] = [c["settings"] for c in listing["conversations"] if c["id"] == bobs]
    assert settings["isMuted"] is True and settings["mutedUntil"], settings
    alice.page.locator("#back-to-list").click()
    expect(bobs_row(alice).locator(".muted-icon")).to_be_visible()

    open_chat(alice, bobs_row(alice), DIRECT)
    alice.page.locator("#mute-button").click()  # unmute
    expect(alice.page.locator("#mute-button")).to_have_text("Mute")
    listing = json_of(stack.caller(ALICE).list_conversations(), 200)
    [settings] = [c["settings"] for c in listing["conversations"] if c["id"] == bobs]
    assert settings["isMuted"] is False, settings

    alice.page.locator("#block-button").click()
    expect(alice.page.locator("#block-button")).to_have_text("Unblock")
    expect(alice.page.locator("#chat-state")).to_contain_text(f"You blocked {USERS[BOB]}")
    expect(alice.page.locator("#chat")).to_have_attribute("data-blocked", "true")
    expect(alice.page.locator("#message-input")).to_be_disabled()
    assert blocks(stack, ALICE) == [BOB]
    refused = stack.caller(BOB).send(bobs, "are you there?")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "recipient_unavailable")
    assert alice.page.evaluate(NO_HORIZONTAL_SCROLL), "the blocked state is wider than the screen"

    alice.page.locator("#block-button").click()  # unblock
    expect(alice.page.locator("#block-button")).to_have_text("Block")
    expect(alice.page.locator("#chat-state")).to_be_hidden()
    expect(alice.page.locator("#chat")).to_have_attribute("data-joined", "true")  # its room joined again
    assert blocks(stack, ALICE) == []
    alice.page.locator("#message-input").fill("Back again.")
    alice.page.locator("#message-input").press("Enter")
    expect(alice.page.locator(".message.mine", has_text="Back again.").locator(".receipt")).to_have_text(
        "Sent", timeout=WAIT_MS
    )
    assert alice.errors == [], alice.errors


def test_report_a_message_of_the_other_participant(browser: Browser, stack: RunningStack, tabs: list[Tab]) -> None:
    from playwright.sync_api import expect

    alice = open_tab(browser, stack, tabs, ALICE)
    bobs = conversation_id(alice, bobs_row(alice))
    sent = json_of(stack.caller(BOB).send(bobs, "Pay me by bank transfer instead, it's cheaper."), 201)["message"]
    open_chat(alice, bobs_row(alice), DIRECT)
    message = alice.page.locator(f'.message.theirs[data-message-id="{sent["id"]}"]')
    expect(message).to_be_visible()
    expect(alice.page.locator(".message.mine .action.report")).to_have_count(0)  # never one's own

    message.hover()
    message.locator(".action.report").click()
    dialog = alice.page.locator("#report-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#report-quote")).to_contain_text("Pay me by bank transfer")
    reasons = dialog.locator("#report-reason option").evaluate_all("options => options.map(o => o.value)")
    assert reasons == ["spam", "harassment", "scam", "off_platform_payment", "inappropriate", "other"]
    dialog.locator("#report-reason").select_option("off_platform_payment")
    dialog.locator("#report-details").fill("Asks to pay outside the shop.")
    dialog.locator("#report-submit").click()
    expect(dialog).to_be_hidden()
    expect(alice.page.locator("#toast")).to_contain_text("the report was sent")
    expect(message.locator(".reported")).to_have_text("Reported")
    expect(message.locator(".action.report")).to_have_count(0)

    moderator = Caller(stack.api_url, stack.token("e2e-moderator", role="moderator"))
    queue = json_of(moderator.request("GET", "/api/moderation/reports?status=open"), 200)["reports"]
    [report] = [r for r in queue if r["messageId"] == sent["id"]]
    assert (report["reason"], report["reporterId"], report["reportedUserId"]) == ("off_platform_payment", ALICE, BOB)
    assert report["details"] == "Asks to pay outside the shop."
    assert alice.errors == [], alice.errors


def test_requests_tab_accept_and_decline(browser: Browser, stack: RunningStack, tabs: list[Tab]) -> None:
    from playwright.sync_api import expect

    # Strangers (no purchase of alice's patterns) writing to a creator: message requests.
    carols = json_of(stack.caller(CAROL).send_to(ALICE, "Do you sell the fox as a kit?"), 201)["conversation"]["id"]
    dave = "dave"
    daves = json_of(stack.caller(dave).send_to(ALICE, "Buy followers cheap!"), 201)["conversation"]["id"]
    alice = open_tab(browser, stack, tabs, ALICE)
    expect(alice.page.locator("#requests-count")).to_have_text("2")
    expect(row(alice, USERS[CAROL])).to_have_count(0)  # not in the inbox

    folder_tab(alice, "requests").click()
    expect(row(alice, USERS[CAROL])).to_be_visible()
    open_chat(alice, row(alice, USERS[CAROL]), "Direct message")
    expect(alice.page.locator("#chat-state")).to_contain_text("wants to message you")
    alice.page.locator("#accept-button").click()
    expect(alice.page.locator("#accept-button")).to_be_hidden()
    expect(alice.page.locator("#requests-count")).to_have_text("1")
    expect(row(alice, USERS[CAROL])).to_have_count(0)  # it left the requests tab
    assert carols in folder_ids(stack, ALICE, "inbox") and carols not in folder_ids(stack, ALICE, "requests")

    daves_row = alice.page.locator(f'.conversation[data-conversation-id="{daves}"]')
    open_chat(alice, daves_row, "Direct message")
    alice.page.locator("#decline-button").click()  # declining is blocking
    expect(alice.page.locator("#chat-state")).to_contain_text("You blocked")
    expect(alice.page.locator("#requests-count")).to_be_hidden()
    expect(daves_row).to_have_count(0)
    assert dave in blocks(stack, ALICE)
    assert daves in folder_ids(stack, ALICE, "archived") and daves not in folder_ids(stack, ALICE, "requests")

    folder_tab(alice, "inbox").click()
    expect(row(alice, USERS[CAROL])).to_be_visible()
    assert alice.errors == [], alice.errors


def test_preferences_panel_saves_and_notify_me_fails_gracefully(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    from playwright.sync_api import expect

    alice = open_tab(browser, stack, tabs, ALICE, width=360)
    page = alice.page
    page.locator("#preferences-button").click()
    panel = page.locator("#preferences")
    expect(panel).to_be_visible()
    expect(panel.locator("#pref-email-delay")).to_have_value("10")  # the defaults
    assert page.evaluate(NO_HORIZONTAL_SCROLL), "the preferences panel is wider than the screen"

    panel.locator("#pref-email-delay").fill("25")
    panel.locator("#pref-push-enabled").uncheck()
    panel.locator("#pref-push-preview").uncheck()
    panel.locator("#pref-quiet-enabled").check()
    panel.locator("#pref-quiet-start").fill("22:30")
    panel.locator("#pref-quiet-end").fill("06:45")
    panel.locator("#pref-quiet-zone").fill("Europe/Paris")
    panel.locator("#preferences-save").click()
    expect(panel.locator("#preferences-status")).to_have_text("Saved.")
    expected: dict[str, Any] = {
        "email": {"enabled": True, "delayMinutes": 25},
        "push": {"enabled": False, "showPreview": False},
        "quietHours": {"start": "22:30", "end": "06:45", "timeZone": "Europe/Paris"},
    }
    assert json_of(stack.caller(ALICE).request("GET", "/api/me/notification-preferences"), 200) == expected

    # A refused value is said in the panel, and nothing changes (the browser logs the 400 it got: that one only).
    logged = len(alice.errors)
    panel.locator("#pref-quiet-zone").fill("Mars/Olympus")
    panel.locator("#preferences-save").click()
    expect(panel.locator("#preferences-status")).to_contain_text("Not saved")
    assert json_of(stack.caller(ALICE).request("GET", "/api/me/notification-preferences"), 200) == expected
    refused = alice.errors[logged:]
    assert all("status of 400" in error for error in refused), refused
    del alice.errors[logged:]

    # Reloaded: the panel shows what the API keeps.
    page.reload()
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "online")
    page.locator("#preferences-button").click()
    expect(panel.locator("#pref-email-delay")).to_have_value("25")
    expect(panel.locator("#pref-email-enabled")).to_be_checked()
    expect(panel.locator("#pref-push-enabled")).not_to_be_checked()
    expect(panel.locator("#pref-push-preview")).not_to_be_checked()
    expect(panel.locator("#pref-quiet-enabled")).to_be_checked()
    expect(panel.locator("#pref-quiet-start")).to_have_value("22:30")
    expect(panel.locator("#pref-quiet-end")).to_have_value("06:45")
    expect(panel.locator("#pref-quiet-zone")).to_have_value("Europe/Paris")

    # "Notify me": headless Chromium has no push service (and grants no notification permission): a message says
    # so, the button is usable again, nothing throws.
    assert page.evaluate("fetch('/sw.js').then(r => [r.status, r.headers.get('content-type')])") == [
        200,
        "text/javascript; charset=utf-8",
    ]
    panel.locator("#push-toggle").click()
    expect(panel.locator("#push-status")).to_contain_text("not available here")
    expect(panel.locator("#push-toggle")).to_be_enabled()
    expect(panel.locator("#push-toggle")).to_have_attribute("data-subscribed", "false")
    panel.locator("#preferences-close").click()
    expect(panel).to_be_hidden()
    assert alice.errors == [], alice.errors
