"""The reports page, the daily goal on the timer and in settings, and the
calendar feed in settings, through the Flask test client."""
import re
from datetime import UTC, datetime, timedelta

import pytest

from pomodoro.extensions import db as _db
from pomodoro.models import User

from .reports_data import add_sessions, utc
from .test_pages import SETTINGS, Person, account


@pytest.fixture
def signed_up(client):
    person = Person(client)
    person.sign_up()
    return person


def seed(app, sessions, email="ada@example.org"):
    with app.app_context():
        user = User.by_email(email)
        add_sessions(_db.session, user.id, sessions)
        _db.session.commit()


def bars(html: str, chart: str) -> list[str]:
    svg = re.search(rf'<svg class="chart bar-chart" id="{chart}".*?</svg>', html, re.S)[0]
    return re.findall(r'<g class="bar[^"]*" data-key="([^"]+)"', svg)


def test_week_month_and_year_views_draw_a_bar_per_day_or_month(signed_up, app):
    seed(app, [(utc("2024-02-12T09:00:00Z"), 1500), (utc("2024-02-12T10:00:00Z"), 1500),
               (utc("2024-02-29T09:00:00Z"), 600)])
    week = signed_up.get("/reports?view=week&date=2024-02-14").text
    assert bars(week, "focus-chart") == [f"2024-02-{day}" for day in range(12, 19)]
    assert "50 min, 2 focus sessions" in week
    month = signed_up.get("/reports?view=month&date=2024-02-14").text
    assert len(bars(month, "focus-chart")) == 29
    year = signed_up.get("/reports?view=year&date=2024-02-14").text
    assert len(bars(year, "focus-chart")) == 12
    assert len(re.findall(r'<rect class="heat heat-\d"', year)) == 366  # 2024 is a leap year
    assert len(re.findall(r'<rect class="heat heat-[1-4]"', year)) == 2
    assert len(bars(year, "hour-chart")) == 24
    assert 'id="focus-chart-goal"' not in year and "goal-mark" in year  # the goal over each month


def test_the_daily_goal_is_drawn_across_the_day_bars(signed_up, app):
    page = signed_up.get("/reports?view=week&date=2024-02-14").text
    assert 'id="focus-chart-goal"' in page and "Daily goal: 3 h 20 min" in page  # 8 x 25 minutes
    signed_up.post("/settings", SETTINGS | {"daily_goal": "0"})
    assert 'id="focus-chart-goal"' not in signed_up.get("/reports").text


def test_previous_and_next_move_by_the_view(signed_up):
    page = signed_up.get("/reports?view=month&date=2024-03-31").text
    assert 'href="/reports?view=month&amp;date=2024-02-01" hx-get' in page.replace("\n", " ") or \
        "date=2024-02-01" in re.search(r'id="previous-period" href="([^"]+)"', page)[1]
    assert "date=2024-04-01" in re.search(r'id="next-period" href="([^"]+)"', page)[1]


def test_a_fragment_for_htmx_and_the_whole_page_otherwise(signed_up):
    fragment = signed_up.get("/reports?view=year", htmx=True)
    assert fragment.text.lstrip().startswith('<div id="report"') and "<html" not in fragment.text
    assert "<html" in signed_up.get("/reports").text


@pytest.mark.parametrize("query", ["date=2024-13-01", "date=yesterday", "view=decade", "date=0001-01-01"])
def test_a_bad_date_or_view_says_so_and_shows_today(signed_up, query):
    response = signed_up.get(f"/reports?{query}")
    assert response.status_code == 422
    assert 'role="alert"' in response.text and 'id="focus-chart"' in response.text


def test_reports_need_a_signed_in_person(client):
    assert client.get("/reports").status_code == 303


def test_the_timer_shows_the_goal_and_the_streak(signed_up, app):
    now = datetime.now(UTC)
    seed(app, [(now - timedelta(minutes=40), 1500), (now - timedelta(minutes=80), 1500)]
         + [(now - timedelta(days=back), 1500) for back in (1, 2) for _ in range(8)])
    page = signed_up.get("/").text
    today = re.search(r'id="goal-today">(.*?)</span>', page, re.S)[1]
    if now.astimezone(UTC).hour >= 2:  # both of today's sessions started today (UTC)
        assert "2 of 8" in today
    assert "2-day streak" in page
    assert '<meter class="goal-meter"' in page


def test_the_daily_goal_is_a_setting(signed_up, app):
    assert 'name="daily_goal"' in signed_up.get("/settings").text
    assert signed_up.post("/settings", SETTINGS | {"daily_goal": "3"}).status_code == 303
    assert account(app).daily_goal == 3
    for bad in ("49", "-1", "many"):
        response = signed_up.post("/settings", SETTINGS | {"daily_goal": bad})
        assert response.status_code == 422 and 'id="daily_goal-error"' in response.text
    assert account(app).daily_goal == 3
    assert signed_up.post("/settings", SETTINGS).status_code == 303  # a form without the field keeps it
    assert account(app).daily_goal == 3


def test_settings_make_rotate_and_revoke_the_calendar_feed(signed_up, client):
    assert "No feed yet." in signed_up.get("/settings").text
    response = signed_up.post("/settings/calendar")
    assert response.status_code == 303 and response.headers["Location"].endswith("/settings#calendar")
    page = signed_up.get("/settings").text
    first = re.search(r'id="feed-https" type="text" readonly value="([^"]+)"', page)[1]
    assert re.search(r'href="webcal://[^"]+\.ics" id="feed-webcal"', page)
    assert client.get(first.split("localhost", 1)[1]).status_code == 200
    assert 'id="feed-https"' not in signed_up.get("/settings").text  # shown once
    signed_up.post("/settings/calendar")
    second = re.search(r'id="feed-https" type="text" readonly value="([^"]+)"', signed_up.get("/settings").text)[1]
    assert second != first
    assert client.get(first.split("localhost", 1)[1]).status_code == 404
    signed_up.post("/settings/calendar/revoke")
    assert client.get(second.split("localhost", 1)[1]).status_code == 404
    assert "No feed yet." in signed_up.get("/settings").text


def test_the_feed_forms_need_their_csrf_token(signed_up, app):
    response = signed_up.post("/settings/calendar", csrf=False)
    assert response.status_code == 303 and response.headers["Location"] == "/"  # with "This form expired"
    assert account(app).calendar_secret_hash is None
    assert signed_up.client.get("/settings/calendar").status_code == 405


def test_time_by_task_and_tag_and_the_estimates_are_shown(signed_up, app):
    with app.app_context():
        from pomodoro.models import Task

        user = User.by_email("ada@example.org")
        task = Task(user_id=user.id, title="Essay <draft>", tags=["writing"], position=1, estimated_pomodoros=2,
                    done=True, done_at=datetime(2024, 2, 13, 12, tzinfo=UTC))
        _db.session.add(task)
        _db.session.commit()
        add_sessions(_db.session, user.id, [(utc("2024-02-12T09:00:00Z"), 1500)], task_id=task.id)
        _db.session.commit()
    page = signed_up.get("/reports?view=week&date=2024-02-14").text
    by_task = re.search(r'<table class="share-table" id="by-task">.*?</table>', page, re.S)[0]
    assert "Essay &lt;draft&gt;" in by_task and "25 min" in by_task
    assert "writing" in re.search(r'id="by-tag">.*?</table>', page, re.S)[0]
    estimates = re.search(r'<dl class="estimates" id="estimates">.*?</dl>', page, re.S)[0]
    assert "<dt>Under (fewer pomodoros)</dt><dd>1</dd>" in estimates and "0.50" in estimates
