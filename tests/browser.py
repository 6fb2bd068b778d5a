"""The pages in a real browser, for the tests that drive them: Debian's
Chromium under Playwright, against the embedded default (`flask run` on a
SQLite file of its own, tests/stacks.py). The `browser` and `server` fixtures
in conftest.py start them."""
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1280, "height": 860}
PASSWORD = "correct horse battery"
SERVER_SETTINGS = {"LOGIN_RATE_LIMIT": "1000 per minute"}  # every test signs up and logs in from one address

# Generous: a test waits only as long as the page takes, and on a loaded
# two-core machine a server and Chromium sharing it sometimes take seconds.
TIMEOUT = 20_000
expect.set_options(timeout=TIMEOUT)


@contextmanager
def launched_browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium.", pytrace=False)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_context(browser, server, **options):
    options.setdefault("viewport", DESKTOP)
    context = browser.new_context(base_url=server.base, **options)
    context.set_default_timeout(TIMEOUT)
    return context


def sign_up(page, email: str, name: str = "Ada", live: bool = True) -> None:
    """Create an account and land on the timer page; unless `live` is False (a
    test that blocks the socket), wait until the page says it is live: the
    socket's hello is heard and what it asked for is shown."""
    page.goto("/signup")
    page.get_by_label("Name").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#timer")).to_be_visible()
    if live:
        expect(page.locator("#live")).to_have_attribute("data-state", "on")


def go(page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def email(tag: str) -> str:
    return f"{tag}-{time.monotonic_ns()}@example.org"
