"""GET /stats: the counting rules on SQLite and PostgreSQL alike, daylight
saving days, a change of time zone, streaks and the 422s."""
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from pomodoro import reports, rules
from pomodoro.models import Cycle, Session, User

from .reports_data import add_sessions, utc

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu",
         "Pacific/Chatham", "America/Santiago", "America/St_Johns", "Pacific/Kiritimati"]


def stats(client, account, **query):
    response = client.get("/stats", query_string=query, headers=account.headers)
    assert response.status_code == 200, response.json
    return response.json


def seed(db, account, sessions, **kinds):
    ids = add_sessions(db.session, account.id, sessions, **kinds)
    db.session.commit()
    return ids


def by_date(body) -> dict:
    return {day["date"]: (day["work_sessions"], day["focused_seconds"]) for day in body["days"]}


# -- the counting rules, against an oracle that knows only zoneinfo ---------------------

WINDOW_START = datetime(2025, 1, 1, tzinfo=UTC)
starts = st.integers(min_value=0, max_value=2 * 365 * 86400).map(lambda s: WINDOW_START + timedelta(seconds=s))
a_session = st.tuples(starts, st.integers(min_value=1, max_value=3600))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(zone=st.sampled_from(ZONES), sessions=st.lists(a_session, max_size=25),
       first_offset=st.integers(min_value=0, max_value=700), length=st.integers(min_value=1, max_value=120))
def test_days_follow_the_zone_and_add_up_to_the_totals(db, zone, sessions, first_offset, length):
    user = User(email=f"{uuid.uuid4().hex}@example.org", password_hash="-", timezone=zone)
    db.session.add(user)
    db.session.commit()
    add_sessions(db.session, user.id, sessions)
    db.session.commit()
    first = date(2025, 1, 1) + timedelta(days=first_offset)
    last = first + timedelta(days=length - 1)

    result = reports.stats(user, first, last, now=datetime(2027, 6, 1, tzinfo=UTC))

    local = ZoneInfo(zone)
    expected_count, expected_seconds = Counter(), Counter()
    for started_at, focused in sessions:
        day = started_at.astimezone(local).date()
        if first <= day <= last:
            expected_count[day] += 1
            expected_seconds[day] += focused
    assert [row["date"] for row in result.days] == [first + timedelta(days=n) for n in range(length)]
    assert {row["date"]: row["work_sessions"] for row in result.days if row["work_sessions"]} == expected_count
    assert {row["date"]: row["focused_seconds"] for row in result.days if row["work_sessions"]} == \
        {day: float(seconds) for day, seconds in expected_seconds.items()}
    assert result.totals["work_sessions"] == sum(row["work_sessions"] for row in result.days)
    assert result.totals["focused_seconds"] == sum(row["focused_seconds"] for row in result.days)
    assert sum(row["work_sessions"] for row in result.hours) == result.totals["work_sessions"]
    expected_hours = Counter(s.astimezone(local).hour for s, _ in sessions if first <= s.astimezone(local).date() <= last)
    assert {row["hour"]: row["work_sessions"] for row in result.hours if row["work_sessions"]} == expected_hours


# -- daylight saving -----------------------------------------------------------------------

def test_the_23_hour_day_of_spring_holds_exactly_its_sessions(client, auth, db):
    account = auth.sign_up(timezone="Europe/Berlin")
    seed(db, account, [
        (utc("2026-03-28T22:59:00Z"), 60),  # 23:59 CET on the 28th
        (utc("2026-03-28T23:00:00Z"), 60),  # 00:00 CET: the 29th begins
        (utc("2026-03-29T21:59:00Z"), 60),  # 23:59 CEST, still the 29th (23 hours long)
        (utc("2026-03-29T22:00:00Z"), 60),  # 00:00 CEST on the 30th
    ])
    body = stats(client, account, **{"from": "2026-03-28", "to": "2026-03-30"})
    assert by_date(body) == {"2026-03-28": (1, 60), "2026-03-29": (2, 120), "2026-03-30": (1, 60)}


def test_the_25_hour_day_of_autumn_holds_exactly_its_sessions(client, auth, db):
    account = auth.sign_up(timezone="Europe/Berlin")
    seed(db, account, [
        (utc("2026-10-24T21:59:00Z"), 60),  # 23:59 CEST on the 24th
        (utc("2026-10-24T22:00:00Z"), 60),  # 00:00 CEST on the 25th
        (utc("2026-10-25T00:30:00Z"), 60),  # 02:30 CEST, the first time
        (utc("2026-10-25T01:30:00Z"), 60),  # 02:30 CET, the second time
        (utc("2026-10-25T22:59:00Z"), 60),  # 23:59 CET, still the 25th (25 hours long)
        (utc("2026-10-25T23:00:00Z"), 60),  # 00:00 CET on the 26th
    ])
    body = stats(client, account, **{"from": "2026-10-24", "to": "2026-10-26"})
    assert by_date(body) == {"2026-10-24": (1, 60), "2026-10-25": (4, 240), "2026-10-26": (1, 60)}
    assert body["hours"][2]["work_sessions"] == 2  # both 02:30s


def test_after_a_change_of_time_zone_the_history_is_counted_in_the_new_zone(client, auth, db):
    account = auth.sign_up(timezone="UTC")
    seed(db, account, [(utc("2026-05-10T23:30:00Z"), 1500)])
    assert by_date(stats(client, account, **{"from": "2026-05-10", "to": "2026-05-11"})) == \
        {"2026-05-10": (1, 1500), "2026-05-11": (0, 0)}
    client.patch(f"/users/{account.id}/configuration", json={"timezone": "Asia/Tokyo"}, headers=account.headers)
    body = stats(client, account, **{"from": "2026-05-10", "to": "2026-05-11"})
    assert body["timezone"] == "Asia/Tokyo"
    assert by_date(body) == {"2026-05-10": (0, 0), "2026-05-11": (1, 1500)}


# -- what counts ------------------------------------------------------------------------------

def test_only_completed_focus_sessions_count_with_the_time_they_ran(client, auth, db):
    account = auth.sign_up()
    seed(db, account, [(utc("2026-02-02T09:00:00Z"), 600, 1500)])  # finished early: 10 of 25 minutes
    seed(db, account, [(utc("2026-02-02T10:00:00Z"), 300)], session_type=rules.SHORT_BREAK)
    seed(db, account, [(utc("2026-02-02T11:00:00Z"), 200, 1500)], status=rules.CANCELLED)
    body = stats(client, account, **{"from": "2026-02-02", "to": "2026-02-02"})
    assert body["days"] == [{"date": "2026-02-02", "focused_seconds": 600.0, "work_sessions": 1}]
    assert body["totals"]["focused_seconds"] == 600
    assert body["totals"]["active_days"] == 1
    assert body["hours"][9] == {"hour": 9, "focused_seconds": 600.0, "work_sessions": 1}


def test_every_day_of_the_range_is_listed_and_the_default_is_the_last_week(client, auth, db):
    account = auth.sign_up()
    body = stats(client, account)
    today = datetime.now(UTC).date()
    assert body["to"] == today.isoformat()
    assert [day["date"] for day in body["days"]] == [(today - timedelta(days=n)).isoformat() for n in range(6, -1, -1)]
    assert len(stats(client, account, **{"from": "2016-01-01", "to": "2026-02-16"})["days"]) == 3700


def test_another_users_sessions_are_not_counted(client, auth, db):
    mine, theirs = auth.sign_up(), auth.sign_up()
    seed(db, theirs, [(utc("2026-02-02T09:00:00Z"), 600)])
    assert stats(client, mine, **{"from": "2026-02-02", "to": "2026-02-02"})["totals"]["work_sessions"] == 0


# -- streaks ---------------------------------------------------------------------------------

def test_today_without_a_session_keeps_yesterdays_streak(client, auth, db):
    account = auth.sign_up(daily_goal=2)
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    two_each = [(now - timedelta(days=back, minutes=m), 60) for back in (1, 2, 3) for m in (0, 30)]
    seed(db, account, two_each + [(now - timedelta(days=4), 60)])  # day 4: one, short of the goal
    seed(db, account, [(now - timedelta(days=back, minutes=m), 60) for back in (8, 9, 10, 11) for m in (0, 30)])
    assert stats(client, account)["streak"] == {"current": 3, "longest": 3, "goal": 2}  # the last week
    month = (now - timedelta(days=30)).date().isoformat()
    assert stats(client, account, **{"from": month})["streak"] == {"current": 3, "longest": 4, "goal": 2}


def test_a_current_streak_longer_than_the_first_look_back_is_counted_whole(client, auth, db):
    account = auth.sign_up(daily_goal=1)
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    seed(db, account, [(now - timedelta(days=back), 60) for back in range(1, 451)])
    assert stats(client, account)["streak"] == {"current": 450, "longest": 7 - 1, "goal": 1}


def test_a_session_paused_a_month_ago_that_completes_now_joins_the_streak(client, auth, db):
    """The run of goal days older than a month is kept between reads, except while a
    session that old is still open: completing it changes the day it started on."""
    account = auth.sign_up(daily_goal=1)
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    seed(db, account, [(now - timedelta(days=back), 60) for back in [*range(1, 35), *range(36, 51)]])
    [paused] = seed(db, account, [(now - timedelta(days=35), 60, 1500)], status=rules.PAUSED)
    db.session.execute(update(Cycle).where(Cycle.id == db.session.get(Session, paused).cycle_id)
                       .values(status=rules.ACTIVE, finished_at=None))
    db.session.commit()
    assert stats(client, account)["streak"]["current"] == 34
    assert stats(client, account)["streak"]["current"] == 34  # read again: the same

    finished = client.patch(f"/sessions/{paused}/status", json={"status": rules.COMPLETED}, headers=account.headers)
    assert finished.status_code == 200, finished.json

    assert stats(client, account)["streak"]["current"] == 50


def test_a_long_streak_read_again_counts_todays_session(client, auth, db):
    account = auth.sign_up(daily_goal=1)
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    seed(db, account, [(now - timedelta(days=back), 60) for back in range(1, 61)])
    assert stats(client, account)["streak"]["current"] == 60
    seed(db, account, [(datetime.now(UTC) - timedelta(minutes=5), 60)])
    assert stats(client, account)["streak"]["current"] == 61


def test_a_streak_ends_when_yesterday_missed_the_goal(client, auth, db):
    account = auth.sign_up(daily_goal=1)
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    seed(db, account, [(now - timedelta(days=2), 60), (now - timedelta(days=3), 60)])
    assert stats(client, account)["streak"] == {"current": 0, "longest": 2, "goal": 1}
    seed(db, account, [(now - timedelta(minutes=5), 60)])
    assert stats(client, account)["streak"]["current"] == 1


def test_with_no_goal_one_session_a_day_makes_the_streak(client, auth, db):
    account = auth.sign_up(daily_goal=0)
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    seed(db, account, [(now - timedelta(minutes=5), 60), (now - timedelta(days=1), 60)])
    assert stats(client, account)["streak"] == {"current": 2, "longest": 2, "goal": 0}


# -- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("query, field", [
    ({"from": "2026-02-03", "to": "2026-02-02"}, "from"),
    ({"from": "2026-02-30", "to": "2026-03-02"}, "from"),
    ({"from": "yesterday"}, "from"),
    ({"to": "2026-2-1"}, "to"),
    ({"from": "2016-01-01", "to": "2026-02-17"}, "to"),  # 3,701 days
    ({"from": "2000-01-01"}, "to"),  # to today: far past 3,700 days
    ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
    ({"from": "9999-12-30", "to": "9999-12-31"}, "from"),
])
def test_a_bad_range_is_a_422_naming_the_field(client, auth, query, field):
    account = auth.sign_up()
    response = client.get("/stats", query_string=query, headers=account.headers)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid"
    assert field in response.json["error"]["fields"]


def test_stats_need_a_user_and_refuse_other_methods(client, auth):
    assert client.get("/stats").status_code == 401
    account = auth.sign_up()
    assert client.post("/stats", headers=account.headers).status_code == 405


def test_the_daily_goal_is_part_of_the_configuration(client, auth):
    account = auth.sign_up()
    me = client.get("/users/me", headers=account.headers).json
    assert me["configuration"]["daily_goal"] == 8
    for bad in (-1, 49, 2.5, "3", True):
        response = client.patch(f"/users/{account.id}/configuration", json={"daily_goal": bad}, headers=account.headers)
        assert response.status_code == 422, bad
    response = client.patch(f"/users/{account.id}/configuration", json={"daily_goal": 0}, headers=account.headers)
    assert response.json["daily_goal"] == 0


# -- tasks, tags and estimates ---------------------------------------------------------------

def new_task(client, account, **fields) -> str:
    response = client.post("/tasks", json={"title": "A task", **fields}, headers=account.headers)
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_time_by_task_and_by_tag(client, auth, db):
    account = auth.sign_up()
    essay = new_task(client, account, title="Essay", tags=["Writing", "deep"])
    email = new_task(client, account, title="E-mail", tags=["writing"])
    day = "2026-03-03T{}:00:00Z"
    seed(db, account, [(utc(day.format("09")), 1500), (utc(day.format("10")), 1500)], task_id=essay)
    seed(db, account, [(utc(day.format("11")), 600, 1500)], task_id=email, interruptions_internal=2,
         interruptions_external=1)
    seed(db, account, [(utc(day.format("12")), 1500)])
    body = stats(client, account, **{"from": "2026-03-03", "to": "2026-03-03"})
    assert body["tasks"] == [
        {"task_id": essay, "title": "Essay", "focused_seconds": 3000.0, "work_sessions": 2},
        {"task_id": None, "title": "No task", "focused_seconds": 1500.0, "work_sessions": 1},
        {"task_id": email, "title": "E-mail", "focused_seconds": 600.0, "work_sessions": 1},
    ]
    tags = {tag["tag"].lower(): (tag["work_sessions"], tag["focused_seconds"]) for tag in body["tags"]}
    assert tags == {"writing": (3, 3600.0), "deep": (2, 3000.0)}
    assert body["totals"]["interruptions"] == {"internal": 2, "external": 1}
    client.delete(f"/tasks/{email}", headers=account.headers)
    after = stats(client, account, **{"from": "2026-03-03", "to": "2026-03-03"})["tasks"]
    assert {"task_id": None, "title": "No task", "focused_seconds": 2100.0, "work_sessions": 2} in after


def test_estimate_accuracy_of_the_tasks_done_in_the_range(client, auth, db):
    account = auth.sign_up()
    now = datetime.now(UTC) - timedelta(hours=1)
    cases = {"on": (2, 2), "under": (3, 1), "over": (1, 2), "no estimate": (0, 4)}
    for title, (estimate, done) in cases.items():
        task = new_task(client, account, title=title, estimated_pomodoros=estimate)
        seed(db, account, [(now - timedelta(minutes=30 * n), 1500) for n in range(done)], task_id=task)
        assert client.patch(f"/tasks/{task}", json={"done": True}, headers=account.headers).status_code == 200
    new_task(client, account, title="open", estimated_pomodoros=5)
    estimates = stats(client, account)["estimates"]
    assert estimates == {"tasks_done": 3, "on_estimate": 1, "under_estimate": 1, "over_estimate": 1,
                         "mean_ratio": round((1 + 1 / 3 + 2) / 3, 3)}
    long_ago = stats(client, account, **{"from": "2020-01-01", "to": "2020-01-31"})["estimates"]
    assert long_ago["tasks_done"] == 0 and long_ago["mean_ratio"] is None


def test_the_stats_body_is_what_the_documented_schema_writes(client, auth, db):
    from pomodoro import schemas

    account = auth.sign_up(timezone="Europe/Berlin")
    task = new_task(client, account, title="Essay", tags=["writing"], estimated_pomodoros=1)
    seed(db, account, [(datetime.now(UTC) - timedelta(hours=2), 1500)], task_id=task, interruptions_external=1)
    client.patch(f"/tasks/{task}", json={"done": True}, headers=account.headers)
    user = db.session.get(User, account.id)
    body = stats(client, account)
    built = reports.stats(user, date.fromisoformat(body["from"]), date.fromisoformat(body["to"]))
    assert body == schemas.Stats().dump(built.as_json() | {"from_": built.first, "to": built.last} | {
        "days": built.days})
