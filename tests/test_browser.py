"""The pages in a real browser: Debian's Chromium driven by Playwright, against
a real server (`flask run`) on a temporary SQLite database (see tests/browser.py).

Each test waits on conditions with deadlines. The run leaves a screenshot of
every page (phone and desktop, light and dark) under screenshots/.
"""
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from .browser import DESKTOP, SERVER_SETTINGS, email, expect, go, new_context, sign_up
from .live import ROOT, wait_until
from .stacks import embedded_stack

SHOTS = ROOT / "screenshots"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def shots():
    SHOTS.mkdir(exist_ok=True)
    return SHOTS


def test_a_person_runs_a_pomodoro_across_two_tabs(browser, server, shots):
    context = new_context(browser, server, timezone_id="Europe/Paris")
    context.grant_permissions(["notifications"], origin=server.base)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    sign_up(page, email("walk"))
    expect(page.locator("#countdown")).to_have_text("25:00")
    expect(page.locator("#live")).to_have_attribute("data-state", "on")

    # A four-second focus session, written as minutes:seconds: long enough that
    # the other tab can pause it on a loaded machine before it runs out.
    go(page, "Settings")
    page.get_by_label("Focus", exact=True).fill("0:04")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Paris")  # from sign-up, the browser's zone

    go(page, "Timer")
    expect(page.locator("#countdown")).to_have_text("00:04")
    other = context.new_page()
    other.goto("/")
    expect(other.locator("#live")).to_have_attribute("data-state", "on")

    page.get_by_role("button", name="Start focus").click()
    expect(page.locator("#timer")).to_have_attribute("data-status", "running")
    expect(other.locator("#timer")).to_have_attribute("data-status", "running")  # heard over the socket
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^00:0[123]$"), timeout=3000)  # the countdown moves
    expect(page).to_have_title(re.compile(r"^00:0[1-4] · Focus$"))

    other.get_by_role("button", name="Pause").click()
    expect(page.locator("#timer")).to_have_attribute("data-status", "paused", timeout=3000)
    expect(page.locator("#state-line")).to_have_text("Paused")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    page.screenshot(path=shots / "timer-paused-desktop-light.png", full_page=True)
    expect(page).to_have_title(re.compile(r"^Paused · 00:0[1-4] · Focus$"))
    assert "paused" in page.locator('link[rel="icon"]').get_attribute("href")

    page.keyboard.press("Space")  # resume from the keyboard
    expect(page.locator("#timer")).to_have_attribute("data-status", "running")
    expect(page.locator("#notice-text")).to_contain_text("Focus session complete", timeout=8000)
    expect(page).to_have_title(re.compile(r"Focus done"))
    expect(page.locator("html")).to_have_attribute("data-chimes", "1")
    expect(page.locator("html")).to_have_attribute("data-notified", "1")
    # Breaks start by themselves by default: the short break is on, in both tabs.
    expect(page.locator("#timer")).to_have_attribute("data-type", "short_break")
    expect(other.locator("#timer")).to_have_attribute("data-type", "short_break")
    expect(page.locator("#timer .mode-chip")).to_have_text("Short break")
    page.screenshot(path=shots / "timer-completed-desktop-light.png", full_page=True)

    page.locator("body").press("s")  # skip the break from the keyboard
    expect(page.locator("#timer")).to_have_attribute("data-status", "idle")
    expect(page.get_by_role("button", name="Start focus")).to_be_visible()
    expect(page.locator(".mode-count")).to_have_text("2 of 4")

    # The auto-start switches save as they change, and every tab follows.
    page.get_by_label("Start breaks automatically").uncheck()
    expect(other.get_by_label("Start breaks automatically")).not_to_be_checked()
    expect(page.get_by_label("Start breaks automatically")).not_to_be_checked()

    # Settings: one bad field is named next to it; the rest stays as typed.
    go(page, "Settings")
    page.get_by_label("Focus sessions before the long break").fill("13")
    page.get_by_label("Short break").fill("7")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#long_break_interval-error")).to_have_text("A whole number from 1 to 12.")
    expect(page.get_by_label("Focus sessions before the long break")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Short break")).to_have_value("7")
    page.screenshot(path=shots / "settings-invalid-desktop-light.png", full_page=True)
    page.get_by_label("Focus sessions before the long break").fill("3")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    expect(page.locator(".field-error")).to_have_count(0)

    go(page, "History")
    expect(page.locator(".session-row")).to_have_count(2)
    expect(page.locator(".session-row").first).to_contain_text("Short break")
    expect(page.locator(".session-row").last).to_contain_text("Focus")
    expect(page.locator(".session-row").last).to_contain_text("Done")
    expect(page.locator("#total-today + .total-figure + .total-sub")).to_have_text("1 focus session completed")
    assert errors == []
    context.close()


def test_without_javascript_every_button_is_a_form(browser, server):
    context = new_context(browser, server, java_script_enabled=False)
    page = context.new_page()
    sign_up(page, email("nojs"), live=False)
    page.get_by_role("button", name="Start focus").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    expect(page.locator("#state-line")).to_contain_text("Ends at")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#state-line")).to_have_text("Paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    page.get_by_role("button", name="Skip").click()
    expect(page.get_by_role("button", name="Start focus")).to_be_visible()
    # The auto-start switches save with a plain button when there is no JavaScript.
    page.get_by_label("Start focus automatically").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_label("Start focus automatically")).to_be_checked()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
    context.close()


def focus_of_two_seconds(page):
    go(page, "Settings")
    page.get_by_label("Focus", exact=True).fill("0:02")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    go(page, "Timer")


def test_the_end_of_a_session_is_noticed_even_when_the_socket_is_blocked(browser, server):
    context = new_context(browser, server)
    page = context.new_page()
    page.route_web_socket(re.compile(r"/ws$"), lambda socket: socket.close())  # a proxy that drops WebSockets
    sign_up(page, email("nosocket"), live=False)
    focus_of_two_seconds(page)
    expect(page.locator("#live")).not_to_have_attribute("data-state", "on")
    page.get_by_role("button", name="Start focus").click()
    expect(page.locator("#notice-text")).to_contain_text("Focus session complete", timeout=8000)
    expect(page.locator("#timer")).to_have_attribute("data-type", "short_break")
    expect(page).to_have_title(re.compile(r"Focus done"))
    context.close()


def test_the_end_is_noticed_when_the_answer_that_started_the_session_was_slow(browser, server):
    # The Start answer takes 1.5 s to arrive, so the offset the page measured
    # from it is 1.5 s behind the server. The part that brings the break must
    # still be read as "the focus ran out", by the server's clock that wrote it.
    context = new_context(browser, server)
    page = context.new_page()
    page.route_web_socket(re.compile(r"/ws$"), lambda socket: None)  # opens, then says nothing
    sign_up(page, email("slowstart"), live=False)
    focus_of_two_seconds(page)

    def slow(route):
        answer = route.fetch()
        time.sleep(1.5)  # the slow network being simulated, not a wait for a condition
        route.fulfill(response=answer)

    page.route(lambda url: url.endswith("/start"), slow)
    page.get_by_role("button", name="Start focus").click()
    expect(page.locator("#timer")).to_have_attribute("data-status", "running")

    def on_break():
        answer = context.request.get("/sessions/current")
        return answer.ok and answer.json()["type"] == "short_break"

    wait_until(on_break, 10, message="the focus session to be completed by the server")
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))")  # a refresh
    expect(page.locator("#timer")).to_have_attribute("data-type", "short_break")
    expect(page.locator("#notice-text")).to_contain_text("Focus session complete", timeout=2000)
    expect(page.locator("#notice")).to_be_visible()
    context.close()


def test_the_countdown_keeps_the_servers_time_when_the_computers_clock_is_wrong(browser, server):
    context = new_context(browser, server)
    page = context.new_page()
    page.clock.set_system_time(datetime.now(UTC) + timedelta(minutes=40))  # this computer runs 40 minutes fast
    sign_up(page, email("skew"))
    ahead = page.evaluate("Date.now()") / 1000 - datetime.now(UTC).timestamp()
    assert 39 * 60 < ahead < 41 * 60
    page.get_by_role("button", name="Start focus").click()
    expect(page.locator("#timer")).to_have_attribute("data-status", "running")
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^24:5\d$"))
    page.reload()
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^24:5\d$"))
    expect(page).to_have_title(re.compile(r"^24:5\d · Focus$"))
    context.close()


def test_screenshots_of_every_page(browser, server, shots):
    """Phone and desktop, light and dark: the pictures the README and reviews use."""
    address = email("shots")
    setup = new_context(browser, server)
    page = setup.new_page()
    sign_up(page, address, name="Grace")
    seed_history(server, address)
    page.goto("/")
    page.get_by_role("button", name="Start focus").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    storage = setup.storage_state()
    setup.close()
    for device, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        for scheme in ("light", "dark"):
            anonymous = new_context(browser, server, viewport=viewport, color_scheme=scheme)
            visitor = anonymous.new_page()
            for name in ("login", "signup"):
                visitor.goto(f"/{name}")
                visitor.screenshot(path=shots / f"{name}-{device}-{scheme}.png", full_page=True)
            anonymous.close()
            context = new_context(browser, server, viewport=viewport, color_scheme=scheme, storage_state=storage)
            person = context.new_page()
            for name, path in (("timer", "/"), ("settings", "/settings"), ("history", "/history")):
                person.goto(path)
                expect(person.locator("#live")).to_have_attribute("data-state", "on")
                person.screenshot(path=shots / f"{name}-{device}-{scheme}.png", full_page=True)
            context.close()
    assert len(list(shots.glob("*-*-*.png"))) >= 20


def seed_history(server, address: str) -> None:
    """A few finished cycles for the history screenshots, written straight to the database."""
    from pomodoro import create_app
    from pomodoro.extensions import db
    from pomodoro.models import Cycle, Session, User

    app = create_app({"SECRET_KEY": "seed", "SQLALCHEMY_DATABASE_URI": server.env["DATABASE_URL"], "REDIS_URL": None})
    with app.app_context():
        user = User.by_email(address)
        now = datetime.now(UTC)
        for days_ago, works in ((1, 4), (0, 3)):
            began = now - timedelta(days=days_ago, hours=3)
            cycle = Cycle(user_id=user.id, long_break_interval=4, created_at=began, status="finished",
                          completed_work_sessions=works, finished_at=began + timedelta(hours=2))
            db.session.add(cycle)
            at = began
            plan = [t for n in range(works) for t in ("work", "short_break" if n < 3 else "long_break")]
            for position, kind in enumerate(plan, start=1):
                length = {"work": 1500, "short_break": 300, "long_break": 900}[kind]
                skipped = kind == "short_break" and position == 4
                ended = at + timedelta(seconds=length if not skipped else 120)
                db.session.add(Session(
                    user_id=user.id, cycle=cycle, type=kind, position=position, duration_seconds=length,
                    remaining_seconds=0 if not skipped else length - 120, started_at=at,
                    status="cancelled" if skipped else "completed",
                    completed_at=None if skipped else ended, cancelled_at=ended if skipped else None))
                at = ended + timedelta(minutes=1)
        db.session.commit()
        db.engine.dispose()


def test_the_page_reconnects_after_the_server_restarts(browser, tmp_path):
    with embedded_stack(tmp_path, **SERVER_SETTINGS) as server:
        context = new_context(browser, server)
        page = context.new_page()
        sign_up(page, email("restart"))
        page.get_by_role("button", name="Start focus").click()
        expect(page.locator("#timer")).to_have_attribute("data-status", "running")
        session_id = page.locator("#timer").get_attribute("data-session-id")
        expect(page.locator("#live")).to_have_attribute("data-state", "on")

        server.web.stop()
        expect(page.locator("#live")).not_to_have_attribute("data-state", "on")
        pause_through_the_api_while_the_server_is_down(server, page, session_id)

        server.start_web()
        expect(page.locator("#live")).to_have_attribute("data-state", "on", timeout=15_000)
        expect(page.locator("#timer")).to_have_attribute("data-status", "paused")
        expect(page.locator("#state-line")).to_have_text("Paused")
        expect(page.get_by_role("button", name="Resume")).to_be_visible()
        context.close()


def pause_through_the_api_while_the_server_is_down(server, page, session_id: str) -> None:
    """The JSON API of a second app on the same database, signed in with the page's own cookie."""
    from pomodoro import create_app

    app = create_app({"SECRET_KEY": server.env["SECRET_KEY"], "SQLALCHEMY_DATABASE_URI": server.env["DATABASE_URL"],
                      "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://"})
    client = app.test_client()
    for cookie in page.context.cookies():
        client.set_cookie(cookie["name"], cookie["value"], domain="localhost")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = client.patch(f"/sessions/{session_id}/stop", headers={"X-CSRFToken": token})
    assert response.status_code == 200, response.json
    timers = app.extensions["pomodoro.timers"]
    if hasattr(timers, "stop"):
        timers.stop()
