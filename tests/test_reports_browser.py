"""The reports page and the daily goal in Chromium (the pattern of
tests/test_browser.py): seeded history drawn as the right number of bars and
heatmap cells, the goal and streak on the timer, and screenshots of the
reports page (phone and desktop, light and dark) under screenshots/."""
import re
from datetime import UTC, date, datetime, timedelta

from .browser import DESKTOP, email, expect, go, new_context, sign_up
from .live import ROOT
from .reports_data import add_sessions

SHOTS = ROOT / "screenshots"
PHONE = {"width": 390, "height": 844}
# Focus in 2025: (day, sessions of 25 minutes), all at 09:00 UTC.
HISTORY = [(date(2025, 3, 3), 4), (date(2025, 3, 4), 8), (date(2025, 3, 5), 2), (date(2025, 6, 10), 6),
           (date(2025, 11, 28), 1)]


def seed(server, address: str, sessions) -> None:
    """Sessions written straight into the server's database."""
    from pomodoro import create_app
    from pomodoro.extensions import db
    from pomodoro.models import User

    app = create_app({"SECRET_KEY": "seed", "SQLALCHEMY_DATABASE_URI": server.env["DATABASE_URL"], "REDIS_URL": None})
    with app.app_context():
        add_sessions(db.session, User.by_email(address).id, sessions)
        db.session.commit()
        db.engine.dispose()


def history() -> list:
    return [(datetime(day.year, day.month, day.day, 9, tzinfo=UTC) + timedelta(minutes=30 * n), 1500)
            for day, count in HISTORY for n in range(count)]


def watch_errors(page) -> list:
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


def test_reports_draw_a_bar_per_day_and_a_cell_per_day_of_the_year(browser, server):
    context = new_context(browser, server, timezone_id="UTC")
    page = context.new_page()
    errors = watch_errors(page)
    address = email("reports")
    sign_up(page, address)
    seed(server, address, history())

    go(page, "Reports")
    expect(page.locator("h1")).to_have_text("Reports")
    page.get_by_label("Show the week of").fill("2025-03-05")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#period-title")).to_have_text("3 Mar – 9 Mar 2025")
    expect(page.locator("#focus-chart .bar")).to_have_count(7)
    expect(page.locator("#focus-chart .bar-empty")).to_have_count(4)
    expect(page.locator("#focus-chart-goal")).to_have_count(1)
    expect(page.locator("#total-sessions")).to_have_text("14")
    expect(page.locator("#focus-chart .bar").nth(1).locator("title")).to_have_text(
        "Tuesday 4 March 2025: 3 h 20 min, 8 focus sessions")
    expect(page.locator("#hour-chart .bar")).to_have_count(24)

    page.get_by_role("link", name="Month").click()
    expect(page.locator("#period-title")).to_have_text("March 2025")
    expect(page.locator("#focus-chart .bar")).to_have_count(31)
    page.get_by_role("link", name="Previous month").click()
    expect(page.locator("#period-title")).to_have_text("February 2025")
    expect(page.locator("#focus-chart .bar")).to_have_count(28)
    expect(page).to_have_url(re.compile(r"view=month&date=2025-02-01"))

    page.get_by_role("link", name="Year").click()
    expect(page.locator("#period-title")).to_have_text("2025")
    expect(page.locator("#focus-chart .bar")).to_have_count(12)
    expect(page.locator("#focus-chart .goal-mark")).to_have_count(12)
    expect(page.locator("#heatmap rect.heat")).to_have_count(365)
    expect(page.locator("#heatmap rect.heat:not(.heat-0)")).to_have_count(len(HISTORY))
    expect(page.locator("#heatmap rect.heat-4")).to_have_count(1)  # the busiest day
    expect(page.locator("#heatmap text")).to_have_count(12 + 3)  # months, and Mon Wed Fri
    expect(page.locator('#heatmap rect[data-date="2025-03-04"] title')).to_have_text(
        "Tue 4 Mar 2025: 200 min, 8 focus sessions")
    page.get_by_text("Focused time as a table").click()
    expect(page.get_by_role("row", name="March 2025")).to_contain_text("14")
    page.get_by_role("link", name="Next year").click()
    expect(page.locator("#heatmap rect.heat")).to_have_count(365)
    expect(page.locator("#heatmap rect.heat:not(.heat-0)")).to_have_count(0)
    assert errors == []
    context.close()


def test_the_timer_shows_todays_goal_and_the_streak(browser, server):
    context = new_context(browser, server, timezone_id="UTC")
    page = context.new_page()
    address = email("goal")
    sign_up(page, address)
    now = datetime.now(UTC)
    today = [(now - timedelta(seconds=10 * n + 10), 5) for n in range(3)]
    before = [(now - timedelta(days=back, seconds=10 * n), 5) for back in (1, 2) for n in range(8)]
    seed(server, address, today + before)
    page.reload()
    expect(page.locator("#goal-today")).to_have_text("3 of 8 today")
    expect(page.locator("#goal-streak")).to_have_text("2-day streak")
    expect(page.locator("meter.goal-meter")).to_have_attribute("value", "3")

    go(page, "Settings")
    page.get_by_label("Focus sessions a day").fill("3")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    go(page, "Timer")
    expect(page.locator("#goal-today")).to_have_text("3 of 3 today")
    expect(page.locator("#goal-streak")).to_have_text("3-day streak")
    context.close()


def test_settings_show_the_calendar_feed_once_and_copy_it(browser, server):
    context = new_context(browser, server)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base)
    page = context.new_page()
    sign_up(page, email("feed"))
    go(page, "Settings")
    page.get_by_role("button", name="Make a feed address").click()
    feed = page.get_by_label("Your feed address")
    expect(feed).to_have_value(re.compile(r"^https?://.+/calendar/[\w-]{40,}\.ics$"))
    expect(page.locator("#feed-webcal")).to_have_attribute("href", re.compile(r"^webcal://.+\.ics$"))
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == feed.input_value()
    page.reload()
    expect(page.locator("#feed-status")).to_contain_text("A feed address is in use")
    page.get_by_role("button", name="Turn the feed off").click()
    expect(page.locator("#feed-status")).to_have_text("No feed yet.")
    context.close()


def test_screenshots_of_the_reports_page(browser, server):
    SHOTS.mkdir(exist_ok=True)
    setup = new_context(browser, server, timezone_id="UTC")
    page = setup.new_page()
    address = email("report-shots")
    sign_up(page, address, name="Grace")
    now = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    busy = [(now - timedelta(days=back, minutes=35 * n), 1500) for back in range(0, 200)
            for n in range((back * 7) % 9) if back % 6]
    seed(server, address, busy)
    storage = setup.storage_state()
    setup.close()
    for device, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        for scheme in ("light", "dark"):
            context = new_context(browser, server, viewport=viewport, color_scheme=scheme, storage_state=storage,
                                  timezone_id="UTC")
            person = context.new_page()
            for view in ("month", "year"):
                person.goto(f"/reports?view={view}&date={(now - timedelta(days=40)).date().isoformat()}")
                expect(person.locator("#heatmap")).to_be_visible()
                expect(person.locator("#live")).to_have_attribute("data-state", "on")
                person.screenshot(path=SHOTS / f"reports-{view}-{device}-{scheme}.png", full_page=True)
            context.close()
    assert len(list(SHOTS.glob("reports-*-*-*.png"))) >= 8
