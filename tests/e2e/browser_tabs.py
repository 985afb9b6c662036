"""Browser tabs for the e2e tests: one user's page in its own context (own storage), with what it logged."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tests.e2e.conftest import WAIT_MS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request

SETTLE_MS = 300


@dataclass
class Tab:
    """One user's page, the errors it logged, the requests it has under way."""

    user: str
    page: Page
    errors: list[str] = field(default_factory=list)
    in_flight: set[Request] = field(default_factory=set)
    connection_ids: list[str] = field(default_factory=list)  # filled by tests that follow the sockets

    def settle(self) -> None:
        """Until the page has no request under way (bounded): closing it mid-request breaks the dev server's pipe."""
        deadline = time.monotonic() + WAIT_MS / 1000
        while time.monotonic() < deadline:
            self.page.wait_for_timeout(SETTLE_MS)  # a debounced refresh starts meanwhile
            if not self.in_flight:
                return


def new_tab(browser: Browser, user: str, *, width: int = 1100, height: int = 720) -> Tab:
    """A blank page for ``user`` in a context of its own, recording page errors, console errors and requests."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(WAIT_MS)
    tab = Tab(user, context.new_page())
    tab.page.on("request", lambda request: tab.in_flight.add(request))
    tab.page.on("requestfinished", lambda request: tab.in_flight.discard(request))
    tab.page.on("requestfailed", lambda request: tab.in_flight.discard(request))
    tab.page.on("pageerror", lambda error: tab.errors.append(f"page error: {error}"))
    tab.page.on("console", lambda message: tab.errors.append(message.text) if message.type == "error" else None)
    return tab


def go_online(tab: Tab, url: str) -> Tab:
    """Load ``url`` and wait until the page's socket is open."""
    from playwright.sync_api import expect

    tab.page.goto(url)
    expect(tab.page.locator("#connection-status")).to_have_attribute("data-state", "online")
    return tab
