"""The pages through the Flask test client: full pages and htmx fragments from
the same URLs, forms that work without JavaScript (post, then 303), CSRF,
refusals shown as messages, settings in minutes, history and log-in limits."""
import re
from datetime import UTC, datetime, timedelta

import pytest

from pomodoro import rules
from pomodoro.extensions import db as _db
from pomodoro.models import Cycle, Session, User

from .helpers import HTMX, PASSWORD, Person

@pytest.fixture
def person(client):
    return Person(client)


@pytest.fixture
def signed_up(person, auth):
    """Ada, signed up and logged in on the pages."""
    person.log_in(auth.sign_up("ada@example.org").email)
    return person


# Each look at the database gets an app context of its own: one held open across
# requests would share Flask's `g` (and so the signed-in user) between clients.

def current(app, email="ada@example.org"):
    """The person's open session, straight from the database."""
    with app.app_context():
        user = User.by_email(email)
        return _db.session.scalar(_db.select(Session).where(
            Session.user_id == user.id, Session.status.in_(rules.OPEN_STATUSES)))


def account(app, email="ada@example.org"):
    with app.app_context():
        return User.by_email(email)


def stored(app, model, record_id):
    with app.app_context():
        return _db.session.get(model, record_id)


# -- who may see what ---------------------------------------------------------------

def test_a_stranger_is_sent_to_log_in(person):
    response = person.get("/history")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/history"


def test_an_htmx_request_from_a_stranger_is_redirected_by_htmx(person):
    response = person.get("/", htmx=True)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"


def test_sign_up_logs_in_and_opens_the_timer(person, app):
    response = person.sign_up(name="Ada", timezone="Europe/Paris")
    assert response.headers["Location"] == "/"
    page = person.get("/")
    assert page.status_code == 200
    assert 'id="timer"' in page.text and "Start focus" in page.text
    assert account(app).timezone == "Europe/Paris"


def test_sign_up_with_a_browser_time_zone_that_is_not_real_falls_back_to_utc(person, app):
    person.sign_up(timezone="Mars/Olympus")
    assert account(app).timezone == "UTC"


def test_sign_up_with_a_taken_email_says_so_next_to_the_field(person):
    person.sign_up("ada@example.org")
    person.post("/logout")
    response = person.post("/signup", {"email": "ADA@example.org", "password": PASSWORD})
    assert response.status_code == 409
    assert 'id="email-error"' in response.text and "already registered" in response.text


def test_sign_up_with_a_short_password_names_the_field(person):
    response = person.post("/signup", {"email": "ada@example.org", "password": "short"})
    assert response.status_code == 422
    assert 'id="password-error"' in response.text
    assert 'value="ada@example.org"' in response.text  # what was typed stays


def test_log_in_with_a_wrong_password_says_so(signed_up):
    signed_up.post("/logout")
    response = signed_up.post("/login", {"email": "ada@example.org", "password": "wrong horse"})
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.text


def test_log_in_with_remember_me_sets_a_lasting_cookie(signed_up, client):
    signed_up.post("/logout")
    response = signed_up.post("/login", {"email": "ada@example.org", "password": PASSWORD, "remember": "on"})
    assert response.status_code == 303
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token="))
    assert "Expires=" in cookie  # its flags: tests/test_security.py


def test_log_in_only_goes_on_to_a_page_of_this_site(signed_up):
    signed_up.post("/logout")
    response = signed_up.post("/login?next=https://evil.example/", {"email": "ada@example.org", "password": PASSWORD})
    assert response.headers["Location"] == "/"
    signed_up.post("/logout")
    response = signed_up.post("/login?next=/history", {"email": "ada@example.org", "password": PASSWORD})
    assert response.headers["Location"] == "/history"


def test_log_out_ends_the_session(signed_up):
    response = signed_up.post("/logout")
    assert response.status_code == 303
    assert signed_up.get("/").status_code == 303


@pytest.mark.parametrize("app_config", [{"LOGIN_RATE_LIMIT": "3 per minute"}])
def test_failed_log_ins_are_rate_limited_with_a_message(signed_up):
    signed_up.post("/logout")
    for _ in range(3):
        assert signed_up.post("/login", {"email": "ada@example.org", "password": "nope"}).status_code == 401
    response = signed_up.post("/login", {"email": "ada@example.org", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts" in response.text and "<form" in response.text


# -- CSRF -----------------------------------------------------------------------------

def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(signed_up, app):
    response = signed_up.post("/sessions/start", csrf=False)
    assert response.status_code == 303
    assert current(app) is None
    assert "This form expired; please try again." in signed_up.get("/").text


def test_an_htmx_request_with_a_stale_token_gets_the_timer_and_a_message(signed_up, app):
    signed_up.token = "stale"
    response = signed_up.post("/sessions/start", htmx=True)
    assert response.status_code == 400
    assert 'id="timer"' in response.text and "This form expired; please try again." in response.text
    assert "<html" not in response.text
    assert current(app) is None


def test_the_csrf_token_in_a_header_is_accepted(signed_up, app):
    signed_up.get("/")
    response = signed_up.client.post("/sessions/start", headers={**HTMX, "X-CSRFToken": signed_up.token})
    assert response.status_code == 200
    assert current(app).status == rules.RUNNING


def test_an_expired_log_in_form_says_so(person):
    person.token = "stale"
    response = person.post("/login", {"email": "ada@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert "This form expired" in response.text and 'name="email"' in response.text


# -- the timer ---------------------------------------------------------------------------

def test_the_page_and_its_fragment_share_one_url(signed_up):
    page = signed_up.get("/")
    fragment = signed_up.get("/", htmx=True)
    assert "<html" in page.text and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<section id="timer"')
    assert "HX-Request" in page.headers["Vary"] and "HX-Request" in fragment.headers["Vary"]


def test_start_without_javascript_posts_then_redirects(signed_up, app):
    response = signed_up.post("/sessions/start")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    session = current(app)
    assert session.status == rules.RUNNING and session.type == rules.WORK
    page = signed_up.get("/").text
    assert 'data-status="running"' in page and "Pause" in page
    assert '<meta http-equiv="refresh"' in page  # without JavaScript the page reloads when the time is up


def test_start_with_htmx_answers_with_the_timer_fragment(signed_up, app):
    response = signed_up.post("/sessions/start", htmx=True)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="timer"')
    assert f'data-ends-at="{current(app).ends_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")}"' in response.text
    assert 'data-server-time="' in response.text


def test_pause_resume_skip_and_finish_go_through_the_actions(signed_up, app):
    signed_up.post("/sessions/start")
    session_id = current(app).id
    signed_up.post("/sessions/pause", {"session_id": session_id}, htmx=True)
    assert current(app).status == rules.PAUSED
    page = signed_up.get("/", htmx=True).text
    assert "Resume" in page and "Paused" in page
    signed_up.post("/sessions/resume", {"session_id": session_id}, htmx=True)
    assert current(app).status == rules.RUNNING
    signed_up.post("/sessions/finish", {"session_id": session_id}, htmx=True)
    assert stored(app, Session, session_id).status == rules.COMPLETED
    # Breaks start by themselves by default; skip it.
    short_break = current(app)
    assert short_break.type == rules.SHORT_BREAK
    response = signed_up.post("/sessions/skip", {"session_id": short_break.id}, htmx=True)
    assert stored(app, Session, short_break.id).status == rules.CANCELLED
    assert "Start focus" in response.text and "2 of 4" in response.text


def test_a_session_another_tab_already_ended_shows_why_and_where_things_stand(signed_up, app):
    signed_up.post("/sessions/start")
    session_id = current(app).id
    signed_up.post("/sessions/skip", {"session_id": session_id})  # the other tab
    response = signed_up.post("/sessions/pause", {"session_id": session_id}, htmx=True)
    assert response.status_code == 409
    assert "A cancelled session cannot be paused." in response.text
    assert 'data-status="idle"' in response.text and "Start focus" in response.text


def test_a_refusal_without_javascript_is_shown_after_the_redirect(signed_up, app):
    signed_up.post("/sessions/start")
    response = signed_up.post("/sessions/start")
    assert response.status_code == 303
    assert "A session is already running or paused." in signed_up.get("/").text


def test_someone_elses_session_is_not_found(signed_up, app):
    signed_up.post("/sessions/start")
    theirs = current(app).id
    stranger = Person(app.test_client())
    stranger.sign_up("eve@example.org")
    response = stranger.post("/sessions/pause", {"session_id": theirs}, htmx=True)
    assert response.status_code == 409 and "No such session." in response.text
    assert current(app).status == rules.RUNNING


def test_the_timer_shows_the_cycle_and_what_comes_next(signed_up, app):
    signed_up.post("/sessions/start")
    page = signed_up.get("/", htmx=True).text
    assert "Focus <span class=\"mode-count\">1 of 4</span>" in page
    assert "long break after focus 4" in page
    assert "After this" in page and "Short break" in page and "starts by itself" in page
    assert page.count('class="step ') == 8


def test_the_auto_start_switches_save_from_the_timer(signed_up, app):
    response = signed_up.post("/settings/auto-start", {"auto_start_work": "on"}, htmx=True)
    assert response.status_code == 200
    user = account(app)
    assert user.auto_start_work is True and user.auto_start_breaks is False


def test_a_new_cycle_can_be_started_between_sessions(signed_up, app):
    signed_up.post("/sessions/start")
    signed_up.post("/sessions/finish", {"session_id": current(app).id})
    signed_up.post("/sessions/skip", {"session_id": current(app).id})
    assert "Start a new cycle" in signed_up.get("/").text
    signed_up.post("/cycles/new", htmx=True)
    with app.app_context():
        cycles = _db.session.scalars(_db.select(Cycle).order_by(Cycle.created_at)).all()
    assert [cycle.status for cycle in cycles] == [rules.FINISHED, rules.ACTIVE]


# -- settings ---------------------------------------------------------------------------

SETTINGS = {"work_minutes": "25", "short_break_minutes": "5", "long_break_minutes": "15",
            "long_break_interval": "4", "auto_start_breaks": "on", "timezone": "UTC"}


@pytest.mark.parametrize("typed, seconds", [("50", 3000), ("2.5", 150), ("0:02", 2), ("1:30", 90), ("0,5", 30)])
def test_settings_are_minutes_saved_as_seconds(signed_up, app, typed, seconds):
    response = signed_up.post("/settings", SETTINGS | {"work_minutes": typed})
    assert response.status_code == 303 and response.headers["Location"] == "/settings"
    assert account(app).work_seconds == seconds
    assert "Settings saved." in signed_up.get("/settings").text


def test_invalid_settings_are_named_next_to_each_field_and_nothing_is_saved(signed_up, app):
    bad = SETTINGS | {"work_minutes": "soon", "long_break_minutes": "0", "long_break_interval": "13",
                      "timezone": "Atlantis/Capital", "short_break_minutes": "7"}
    response = signed_up.post("/settings", bad, htmx=True)
    assert response.status_code == 422
    assert response.text.lstrip().startswith('<form id="settings-form"')
    for field in ("work_minutes", "long_break_minutes", "long_break_interval", "timezone"):
        assert f'id="{field}-error"' in response.text
    assert 'id="short_break_minutes-error"' not in response.text
    assert 'value="7"' in response.text
    assert "Not a known IANA time zone" in response.text
    user = account(app)
    assert (user.work_seconds, user.short_break_seconds, user.timezone) == (1500, 300, "UTC")


def test_settings_saved_with_htmx_answer_with_the_form(signed_up, app):
    response = signed_up.post("/settings", SETTINGS | {"timezone": "America/New_York"}, htmx=True)
    assert response.status_code == 200
    assert "Settings saved." in response.text and "<html" not in response.text
    assert account(app).timezone == "America/New_York"


def test_an_expired_settings_form_keeps_what_was_typed(signed_up, app):
    signed_up.token = "stale"
    response = signed_up.post("/settings", SETTINGS | {"work_minutes": "42"}, htmx=True)
    assert response.status_code == 400
    assert "This form expired" in response.text and 'value="42"' in response.text
    assert account(app).work_seconds == 1500


# -- history ----------------------------------------------------------------------------

def add_cycle(app, user, began, works=1, status=rules.FINISHED):
    with app.app_context():
        _add_cycle(app, user, began, works, status)


def _add_cycle(app, user, began, works, status):
    cycle = Cycle(user_id=user.id, long_break_interval=4, created_at=began, status=status,
                  completed_work_sessions=works)
    _db.session.add(cycle)
    for position in range(1, works + 1):
        start = began + timedelta(minutes=30 * (position - 1))
        _db.session.add(Session(user_id=user.id, cycle=cycle, type=rules.WORK, status=rules.COMPLETED,
                                position=position, duration_seconds=1500, remaining_seconds=0,
                                started_at=start, completed_at=start + timedelta(seconds=1500)))
    _db.session.commit()


def test_history_lists_cycles_newest_first_in_the_users_time_zone(signed_up, app):
    signed_up.post("/settings", SETTINGS | {"timezone": "Asia/Tokyo"})
    user = account(app)
    now = datetime.now(UTC)
    add_cycle(app, user, now - timedelta(days=20))
    add_cycle(app, user, now - timedelta(hours=2), works=2)
    page = signed_up.get("/history").text
    assert page.index("2 of 4 focus sessions") < page.index("1 of 4 focus sessions")
    started = (now - timedelta(hours=2)).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert started.strftime("%H:%M") in page
    assert "Asia/Tokyo" in page


def test_history_totals_today_and_this_week(signed_up, app):
    user = account(app)
    now = datetime.now(UTC)
    if now.hour < 3:  # 90 minutes ago was yesterday in UTC: count in a zone where today began hours ago
        with app.app_context():
            _db.session.get(User, user.id).timezone = "Asia/Tokyo"
            _db.session.commit()
    add_cycle(app, user, now - timedelta(minutes=90), works=2)
    add_cycle(app, user, now - timedelta(days=30), works=3)
    page = signed_up.get("/history").text
    today = page[page.index('id="total-today"'):page.index('id="total-week"')]
    assert '<span class="figure">50</span>' in today and "2 focus sessions completed" in today


def test_history_is_paginated(signed_up, app):
    user = account(app)
    now = datetime.now(UTC)
    for days in range(12):
        add_cycle(app, user, now - timedelta(days=days + 1))
    first = signed_up.get("/history").text
    assert first.count('class="cycle-entry card"') == 10 and "Page 1 of 2" in first
    second = signed_up.get("/history?page=2", htmx=True).text
    assert second.count('class="cycle-entry card"') == 2 and "<html" not in second


def test_error_pages_for_people_are_html(signed_up):
    response = signed_up.client.get("/no-such-page", headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 404
    assert "<html" in response.text


def test_a_nul_in_a_form_is_a_clear_bad_request(signed_up):
    response = signed_up.post("/sessions/pause", {"session_id": "abc\x00def"})
    assert response.status_code == 400 and "<html" in response.text


def test_a_page_far_beyond_the_last_is_empty_not_an_error(signed_up):
    response = signed_up.get("/history?page=99999999999999999999")
    assert response.status_code == 200
