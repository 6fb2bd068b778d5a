"""Integrations in Chromium: add a webhook, see its secret once, send a test and
see it delivered in the log; create a token and revoke it."""
import pytest
import requests

from .browser import SERVER_SETTINGS, email, expect, go, new_context, sign_up
from .live import ROOT
from .stacks import embedded_stack
from .webhook_receiver import Receiver


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The embedded default, allowed to call a receiver on 127.0.0.1."""
    with embedded_stack(tmp_path_factory.mktemp("server"), **SERVER_SETTINGS, WEBHOOK_ALLOW_PRIVATE="1") as stack:
        yield stack


def test_a_person_adds_a_webhook_sends_a_test_and_sees_it_delivered(browser, server):
    page = new_context(browser, server).new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_up(page, email("hook"))
    go(page, "Settings")
    with Receiver() as receiver:
        page.get_by_label("Endpoint URL").fill(receiver.url + "/pomodoro")
        page.get_by_label("Description").fill("Desk lamp")
        page.get_by_role("button", name="Add webhook").click()
        secret = page.locator("#new-secret-value")
        expect(secret).to_contain_text("whsec_")
        expect(page.get_by_role("button", name="Copy")).to_be_visible()
        shown = secret.inner_text()

        page.get_by_role("button", name="Send test").click()
        expect(page.get_by_text("on its way")).to_be_visible()
        entry = page.locator(".delivery").first
        expect(entry.locator(".delivery-event")).to_have_text("webhook.test")
        expect(entry.locator(".badge")).to_have_text("Delivered", timeout=10_000)  # the log refreshes itself
        expect(entry.locator(".delivery-code")).to_have_text("200")
        (ROOT / "screenshots").mkdir(exist_ok=True)
        page.screenshot(path=ROOT / "screenshots" / "webhook-desktop-light.png", full_page=True)
        assert receiver.count() == 1
        assert page.locator("#new-secret-value").count() == 0  # shown once: gone after the test's redirect
        assert shown not in page.content()
    assert errors == []


def test_a_person_creates_a_token_uses_it_and_revokes_it(browser, server):
    page = new_context(browser, server).new_page()
    sign_up(page, email("token"))
    go(page, "Settings")
    page.get_by_label("Name").fill("Lamp script")
    page.get_by_label("Expires after").select_option("30")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token-value").inner_text().strip()
    (ROOT / "screenshots").mkdir(exist_ok=True)
    page.locator("#api-tokens").screenshot(path=ROOT / "screenshots" / "token-shown-once-desktop-light.png")
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{server.base}/users/me", headers=bearer, timeout=10).status_code == 200

    page.reload()
    row = page.locator("table.tokens tr", has_text="Lamp script")
    expect(row).to_be_visible()
    expect(page.locator("#new-token-value")).to_have_count(0)
    row.get_by_role("button", name="Revoke Lamp script").click()
    expect(page.get_by_text("revoked")).to_be_visible()
    expect(page.locator("table.tokens tr", has_text="Lamp script")).to_have_count(0)
    page.screenshot(path=ROOT / "screenshots" / "settings-integrations-desktop-light.png", full_page=True)
    assert requests.get(f"{server.base}/users/me", headers=bearer, timeout=10).status_code == 401
