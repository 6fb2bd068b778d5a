"""Every row of the JSON API table, with its paths, bodies and status codes,
and the session rules as an API client meets them."""
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pomodoro.extensions import db
from pomodoro.models import Session, utcnow

from .conftest import Auth
from .helpers import Api, assert_error, stored_rows  # noqa: F401 (stored_rows: still imported from here by others)
from .live import wait_until

DEFAULTS = {
    "work_seconds": 1500,
    "short_break_seconds": 300,
    "long_break_seconds": 900,
    "long_break_interval": 4,
    "auto_start_breaks": True,
    "auto_start_work": False,
    "timezone": "UTC",
    "daily_goal": 8,  # reports
}
UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
MS = timedelta(milliseconds=2)  # timestamps are written to the millisecond


def person(app, email: str | None = None, **configuration):
    """Kept for test modules of other branches written before tests/helpers.py:
    someone signed up through `Auth.sign_up`, the one way to make a user."""
    return Auth(app.test_client()).sign_up(email or f"{uuid.uuid4().hex[:10]}@example.org", **configuration)


def at(timestamp: str) -> datetime:
    assert UTC_TIME.match(timestamp), timestamp
    return datetime.fromisoformat(timestamp)


@pytest.fixture
def ada(client, auth):
    return Api(client, auth.sign_up(auto_start_breaks=False))


# -- users and tokens ---------------------------------------------------------

def test_sign_up_answers_201_with_the_user_and_where_to_find_it(client):
    response = client.post("/users", json={"email": "ada@example.org", "password": "correct horse", "name": "Ada"})
    assert response.status_code == 201
    user = response.json
    assert response.headers["Location"].endswith(f"/users/{user['id']}")
    assert user["email"] == "ada@example.org" and user["name"] == "Ada"
    assert user["configuration"] == DEFAULTS
    at(user["created_at"])
    assert not [key for key in user if "password" in key]
    assert "correct horse" not in response.get_data(as_text=True)

    token = client.post("/auth/token", json={"email": "ada@example.org", "password": "correct horse"}).json["token"]
    found = client.get(response.headers["Location"], headers={"Authorization": f"Bearer {token}"})
    assert found.status_code == 200 and found.json == user


def test_sign_up_without_a_name_leaves_it_empty(client):
    response = client.post("/users", json={"email": "bo@example.org", "password": "correct horse"})
    assert response.status_code == 201
    assert response.json["name"] == ""


def test_the_right_password_gets_a_bearer_token(client):
    client.post("/users", json={"email": "ada@example.org", "password": "correct horse"})
    response = client.post("/auth/token", json={"email": "ADA@example.org", "password": "correct horse"})
    assert response.status_code == 201
    assert set(response.json) == {"token", "token_type"} and response.json["token_type"] == "Bearer"
    me = client.get("/users/me", headers={"Authorization": f"Bearer {response.json['token']}"})
    assert me.status_code == 200 and me.json["email"] == "ada@example.org"


def test_revoking_a_token_ends_that_token_and_no_other(client, auth):
    account = auth.sign_up()
    other = client.post("/auth/token", json={"email": account.email, "password": account.password}).json["token"]
    revoked = client.delete("/auth/token", headers=account.headers)
    assert revoked.status_code == 204 and revoked.data == b""
    assert_error(client.get("/users/me", headers=account.headers), 401, "unauthorized")
    assert_error(client.delete("/auth/token", headers=account.headers), 401)
    assert client.get("/users/me", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_me_and_my_id_show_me_with_my_configuration(client, auth):
    me = auth.sign_up("cy@example.org")
    by_me = client.get("/users/me", headers=me.headers)
    by_id = client.get(f"/users/{me.id}", headers=me.headers)
    assert by_me.status_code == by_id.status_code == 200
    assert by_me.json == by_id.json
    assert by_me.json["id"] == me.id and by_me.json["email"] == "cy@example.org"
    assert by_me.json["configuration"] == DEFAULTS
    assert not [key for key in by_me.json if "password" in key]


def test_a_configuration_change_is_answered_and_kept(client, ada):
    path = f"/users/{ada.who.id}/configuration"
    first = ada.patch(path, {"work_seconds": 1200, "timezone": "Europe/Paris", "auto_start_work": True})
    assert first.status_code == 200
    expected = {**DEFAULTS, "auto_start_breaks": False, "work_seconds": 1200,
                "timezone": "Europe/Paris", "auto_start_work": True}
    assert first.json == expected
    second = ada.patch(path, {"long_break_interval": 2})
    assert second.json == {**expected, "long_break_interval": 2}
    assert ada.get("/users/me").json["configuration"] == {**expected, "long_break_interval": 2}


def test_new_sessions_and_cycles_use_the_changed_configuration(ada):
    ada.patch(f"/users/{ada.who.id}/configuration", {"work_seconds": 1200, "long_break_interval": 3})
    session = ada.start()
    assert session["duration_seconds"] == 1200
    assert at(session["ends_at"]) - at(session["started_at"]) == timedelta(seconds=1200)
    assert ada.cycle(session["cycle_id"])["long_break_interval"] == 3


def test_a_running_session_keeps_the_duration_it_started_with(ada):
    session = ada.start()
    ada.patch(f"/users/{ada.who.id}/configuration", {"work_seconds": 60})
    again = ada.session(session["id"])
    assert again["duration_seconds"] == 1500 and again["ends_at"] == session["ends_at"]


# -- cycles -------------------------------------------------------------------

def test_a_new_cycle_finishes_the_active_one(ada):
    first = ada.post("/cycles")
    assert first.status_code == 201
    assert first.json["status"] == "active" and first.json["finished_at"] is None
    assert first.json["completed_work_sessions"] == 0 and first.json["next_session_type"] == "work"
    assert first.json["long_break_interval"] == 4
    second = ada.post("/cycles")
    assert second.status_code == 201 and second.json["id"] != first.json["id"]
    finished = ada.cycle(first.json["id"])
    assert finished["status"] == "finished"
    assert at(first.json["created_at"]) <= at(finished["finished_at"]) <= at(second.json["created_at"])
    assert ada.cycle(second.json["id"])["status"] == "active"


@pytest.mark.parametrize("session_status", ["running", "paused"])
def test_a_new_cycle_is_refused_while_a_session_is_open(ada, session_status):
    session = ada.start()
    if session_status == "paused":
        ada.set_status(session["id"], "paused")
    assert_error(ada.post("/cycles"), 409, "conflict")
    listed = ada.get("/cycles").json
    assert listed["total"] == 1 and listed["items"][0]["status"] == "active"


def test_cycles_are_listed_newest_first_a_page_at_a_time(ada):
    created = [ada.post("/cycles").json["id"] for _ in range(5)]
    everything = ada.get("/cycles")
    assert everything.status_code == 200
    assert [cycle["id"] for cycle in everything.json["items"]] == created[::-1]
    assert (everything.json["page"], everything.json["per_page"], everything.json["total"]) == (1, 20, 5)
    pages = [ada.get(f"/cycles?page={number}&per_page=2").json for number in (1, 2, 3, 4)]
    assert [len(page["items"]) for page in pages] == [2, 2, 1, 0]
    assert all(page["total"] == 5 and page["per_page"] == 2 for page in pages)
    assert [cycle["id"] for page in pages for cycle in page["items"]] == created[::-1]


def test_a_cycles_sessions_are_listed_in_position_order(ada):
    work = ada.start()
    ada.set_status(work["id"], "completed")
    short_break = ada.start()
    ada.set_status(short_break["id"], "cancelled")
    more_work = ada.start()
    response = ada.get(f"/cycles/{work['cycle_id']}/sessions")
    assert response.status_code == 200
    items = response.json["items"]
    assert [(s["id"], s["position"], s["type"]) for s in items] == [
        (work["id"], 1, "work"), (short_break["id"], 2, "short_break"), (more_work["id"], 3, "work")]
    assert [s["status"] for s in items] == ["completed", "cancelled", "running"]


def test_a_cycle_with_no_sessions_lists_none(ada):
    cycle = ada.post("/cycles").json
    assert ada.get(f"/cycles/{cycle['id']}/sessions").json == {"items": []}


# -- sessions -----------------------------------------------------------------

def test_starting_a_session_makes_a_cycle_when_none_is_active(ada):
    response = ada.post("/sessions")
    assert response.status_code == 201
    session = response.json
    assert (session["status"], session["type"], session["position"]) == ("running", "work", 1)
    assert session["duration_seconds"] == 1500
    assert at(session["ends_at"]) - at(session["started_at"]) == timedelta(seconds=1500)
    assert 1490 < session["remaining_seconds"] <= 1500
    assert session["paused_at"] is session["completed_at"] is session["cancelled_at"] is None
    assert abs(at(session["server_time"]) - utcnow()) < timedelta(seconds=5)
    cycles = ada.get("/cycles").json["items"]
    assert [(c["id"], c["status"]) for c in cycles] == [(session["cycle_id"], "active")]


def test_starting_a_session_takes_the_active_cycles_next_type(ada):
    cycle = ada.post("/cycles").json
    work = ada.start()
    assert work["cycle_id"] == cycle["id"]
    ada.set_status(work["id"], "completed")
    assert ada.cycle(cycle["id"])["next_session_type"] == "short_break"
    short_break = ada.start()
    assert (short_break["cycle_id"], short_break["type"], short_break["position"]) == (cycle["id"], "short_break", 2)
    assert short_break["duration_seconds"] == 300


def test_a_session_can_name_its_cycle_and_type(ada):
    cycle = ada.post("/cycles").json
    session = ada.start(cycle_id=cycle["id"], type="long_break")
    assert (session["cycle_id"], session["type"], session["duration_seconds"]) == (cycle["id"], "long_break", 900)


@pytest.mark.parametrize("session_status", ["running", "paused"])
def test_a_second_session_is_refused_while_one_is_open(ada, session_status):
    first = ada.start()
    if session_status == "paused":
        ada.set_status(first["id"], "paused")
    assert_error(ada.post("/sessions"), 409, "conflict")
    assert_error(ada.post("/sessions", {"type": "short_break"}), 409, "conflict")
    assert ada.current()["id"] == first["id"]
    assert len(ada.get(f"/cycles/{first['cycle_id']}/sessions").json["items"]) == 1


def test_a_session_cannot_start_in_a_finished_cycle(ada):
    old = ada.post("/cycles").json
    ada.post("/cycles")
    assert_error(ada.post("/sessions", {"cycle_id": old["id"]}), 409, "conflict")
    assert ada.current() is None
    assert ada.get(f"/cycles/{old['id']}/sessions").json["items"] == []


def test_the_current_session_is_the_open_one_or_404(ada):
    assert_error(ada.get("/sessions/current"), 404, "not_found")
    session = ada.start()
    assert ada.current()["id"] == session["id"]
    assert ada.session(session["id"])["id"] == session["id"]
    ada.set_status(session["id"], "paused")
    assert ada.current()["status"] == "paused"
    ada.set_status(session["id"], "cancelled")
    assert ada.current() is None


def test_stop_pauses_the_session_and_freezes_its_clock(ada):
    session = ada.start()
    response = ada.patch(f"/sessions/{session['id']}/stop")
    assert response.status_code == 200
    paused = response.json
    assert paused["status"] == "paused" and paused["ends_at"] is None
    paused_at = at(paused["paused_at"])
    left = (at(session["ends_at"]) - paused_at).total_seconds()
    assert abs(paused["remaining_seconds"] - left) < 0.002
    wait_until(lambda: at(ada.session(session["id"])["server_time"]) > paused_at + timedelta(seconds=0.1), 5)
    assert ada.session(session["id"])["remaining_seconds"] == paused["remaining_seconds"]


def test_resume_moves_ends_at_by_the_paused_time(ada):
    session = ada.start()
    paused = ada.patch(f"/sessions/{session['id']}/stop").json
    paused_at = at(paused["paused_at"])
    wait_until(lambda: at(ada.session(session["id"])["server_time"]) >= paused_at + timedelta(seconds=0.5), 5)
    response = ada.patch(f"/sessions/{session['id']}/resume")
    assert response.status_code == 200
    resumed = response.json
    assert resumed["status"] == "running" and resumed["paused_at"] is None
    # ends_at = the moment of resuming + what was left when paused
    resumed_at = at(resumed["ends_at"]) - timedelta(seconds=paused["remaining_seconds"])
    assert paused_at + timedelta(seconds=0.5) <= resumed_at <= at(resumed["server_time"]) + MS
    assert at(resumed["ends_at"]) - at(session["ends_at"]) >= timedelta(seconds=0.5)
    assert ada.current()["ends_at"] == resumed["ends_at"]


TRANSITIONS = [
    ("running", "paused"), ("paused", "running"),
    ("running", "completed"), ("paused", "completed"),
    ("running", "cancelled"), ("paused", "cancelled"),
]


@pytest.mark.parametrize(("before", "after"), TRANSITIONS)
def test_a_status_change_makes_the_transition(ada, before, after):
    session = ada.start()
    if before == "paused":
        session = ada.set_status(session["id"], "paused")
    changed = ada.set_status(session["id"], after)
    assert changed["status"] == after == ada.session(session["id"])["status"]
    moment = at(changed["server_time"])
    if after == "running":
        assert changed["ends_at"] and changed["paused_at"] is None
    if after == "paused":
        assert changed["ends_at"] is None and at(changed["paused_at"]) <= moment
    if after == "completed":
        assert at(changed["completed_at"]) == at(changed["ends_at"]) <= moment
        assert changed["remaining_seconds"] > 1400  # finished early: the time left is kept
    if after == "cancelled":
        assert at(changed["cancelled_at"]) <= moment and changed["completed_at"] is None
    if after in ("completed", "cancelled"):
        assert ada.current() is None


REFUSED = {
    "running": [("status", "running"), ("resume", None)],
    "paused": [("status", "paused"), ("stop", None)],
    "completed": [("status", "running"), ("status", "paused"), ("status", "completed"), ("status", "cancelled"),
                  ("stop", None), ("resume", None)],
    "cancelled": [("status", "running"), ("status", "paused"), ("status", "completed"), ("status", "cancelled"),
                  ("stop", None), ("resume", None)],
}


@pytest.mark.parametrize("state", REFUSED)
def test_a_refused_transition_answers_409_and_changes_nothing(ada, state):
    session = ada.start()
    if state != "running":
        ada.set_status(session["id"], state)
    before, cycle_before = ada.session(session["id"]), ada.cycle(session["cycle_id"])
    for action, status in REFUSED[state]:
        body = {"status": status} if status else None
        assert_error(ada.patch(f"/sessions/{session['id']}/{action}", body), 409, "conflict")
    after = ada.session(session["id"])
    unchanging = [key for key in before if key not in ("server_time", "remaining_seconds")]
    assert {key: after[key] for key in unchanging} == {key: before[key] for key in unchanging}
    assert ada.cycle(session["cycle_id"]) == cycle_before


def test_times_are_utc_with_a_z(ada):
    session = ada.start()
    ada.set_status(session["id"], "completed")
    records = [ada.get("/users/me").json, ada.cycle(session["cycle_id"]), ada.session(session["id"])]
    stamps = [value for record in records for key, value in record.items()
              if key.endswith(("_at", "_time")) and value is not None]
    assert len(stamps) >= 6
    assert all(UTC_TIME.match(stamp) for stamp in stamps), stamps


# -- the cycle advancing ------------------------------------------------------

def test_a_skipped_work_session_does_not_count(ada):
    work = ada.start()
    ada.set_status(work["id"], "cancelled")
    cycle = ada.cycle(work["cycle_id"])
    assert (cycle["completed_work_sessions"], cycle["next_session_type"]) == (0, "work")


def test_after_long_break_interval_work_sessions_a_long_break_closes_the_cycle(ada):
    ada.patch(f"/users/{ada.who.id}/configuration", {"long_break_interval": 2})
    seen = []
    for _ in range(4):
        session = ada.start()
        seen.append(session["type"])
        ada.set_status(session["id"], "completed")
    cycle = ada.cycle(session["cycle_id"])
    assert seen == ["work", "short_break", "work", "long_break"]
    assert cycle["status"] == "finished" and cycle["completed_work_sessions"] == 2
    assert cycle["finished_at"] == ada.session(session["id"])["completed_at"]
    assert ada.current() is None
    fresh = ada.start()
    assert fresh["cycle_id"] != cycle["id"] and (fresh["type"], fresh["position"]) == ("work", 1)


def test_the_cycle_asks_for_a_long_break_once_enough_work_is_done(ada):
    ada.patch(f"/users/{ada.who.id}/configuration", {"long_break_interval": 2})
    for _ in range(2):
        work = ada.start(type="work")
        ada.set_status(work["id"], "completed")
    cycle = ada.cycle(work["cycle_id"])
    assert cycle["status"] == "active"
    assert (cycle["completed_work_sessions"], cycle["next_session_type"]) == (2, "long_break")


def test_auto_start_breaks_starts_the_break_when_work_completes(ada):
    ada.patch(f"/users/{ada.who.id}/configuration", {"auto_start_breaks": True, "auto_start_work": False})
    work = ada.set_status(ada.start()["id"], "completed")
    short_break = ada.current()
    assert (short_break["type"], short_break["status"], short_break["position"]) == ("short_break", "running", 2)
    assert short_break["started_at"] == work["completed_at"]
    ada.set_status(short_break["id"], "completed")
    assert ada.current() is None
    assert ada.cycle(work["cycle_id"])["next_session_type"] == "work"


def test_auto_start_work_starts_work_when_a_break_completes(ada):
    ada.patch(f"/users/{ada.who.id}/configuration", {"auto_start_breaks": False, "auto_start_work": True})
    ada.set_status(ada.start()["id"], "completed")
    assert ada.current() is None
    short_break = ada.set_status(ada.start()["id"], "completed")
    work = ada.current()
    assert (work["type"], work["status"], work["position"]) == ("work", "running", 3)
    assert work["started_at"] == short_break["completed_at"]


def test_a_session_completes_on_time_by_itself_and_the_break_follows(client, auth):
    bo = Api(client, auth.sign_up(work_seconds=1, short_break_seconds=600, auto_start_breaks=True))
    work = bo.start()
    done = wait_until(lambda: (s := bo.session(work["id"]))["status"] == "completed" and s, 5)
    assert done["completed_at"] == work["ends_at"]
    short_break = bo.current()
    assert (short_break["type"], short_break["started_at"]) == ("short_break", work["ends_at"])
    assert bo.cycle(work["cycle_id"])["completed_work_sessions"] == 1


AFTER_THE_TIME_IS_UP = {  # a request, and how its answer shows the overdue session completed first
    ("GET", "/sessions/{session}"): lambda r, ends_at: r.json["completed_at"] == ends_at,
    ("GET", "/sessions/current"): lambda r, ends_at: r.status_code == 404,
    ("GET", "/cycles/{cycle}/sessions"): lambda r, ends_at: r.json["items"][0]["completed_at"] == ends_at,
    ("GET", "/cycles/{cycle}"): lambda r, ends_at: r.json["completed_work_sessions"] == 1,
    ("GET", "/cycles"): lambda r, ends_at: r.json["items"][0]["next_session_type"] == "short_break",
    ("PATCH", "/sessions/{session}/stop"): lambda r, ends_at: r.status_code == 409,  # too late to pause
    ("POST", "/sessions"): lambda r, ends_at: (r.status_code, r.json["type"], r.json["position"]) == (
        201, "short_break", 2),
    ("POST", "/cycles"): lambda r, ends_at: r.status_code == 201,
}


def stored_session(app, session_id) -> Session:
    with app.app_context():
        return db.session.get(Session, session_id)


def test_a_read_or_write_completes_a_running_session_whose_time_is_up(client, app, auth):
    # With the clock keeper stopped (as when every worker is down), only the request can complete it.
    app.extensions["pomodoro.timers"].stop()
    people = [Api(client, auth.sign_up(work_seconds=1, auto_start_breaks=False)) for _ in AFTER_THE_TIME_IS_UP]
    started = [someone.start() for someone in people]
    wait_until(lambda: utcnow() > max(at(session["ends_at"]) for session in started), 3)

    for someone, session, ((method, path), shows_it) in zip(people, started, AFTER_THE_TIME_IS_UP.items(), strict=True):
        assert stored_session(app, session["id"]).status == "running"
        path = path.format(session=session["id"], cycle=session["cycle_id"])
        response = someone.client.open(path, method=method, json=None if method == "GET" else {},
                                       headers=someone.who.headers)
        assert shows_it(response, session["ends_at"]), (method, path, response.json)
        stored = stored_session(app, session["id"])
        assert stored.status == "completed", (method, path)
        assert abs(stored.completed_at - at(session["ends_at"])) < MS, (method, path)


def test_the_openapi_document_and_its_page_are_served(client):
    document = client.get("/openapi.json")
    assert document.status_code == 200
    paths = document.json["paths"]
    assert {"post"} <= set(paths["/users"]) and {"post", "delete"} <= set(paths["/auth/token"])
    for path, method in [("/users/me", "get"), ("/users/{user_id}", "get"),
                         ("/users/{user_id}/configuration", "patch"), ("/cycles", "get"), ("/cycles", "post"),
                         ("/cycles/{cycle_id}", "get"), ("/cycles/{cycle_id}/sessions", "get"),
                         ("/sessions", "post"), ("/sessions/current", "get"), ("/sessions/{session_id}", "get"),
                         ("/sessions/{session_id}/stop", "patch"), ("/sessions/{session_id}/resume", "patch"),
                         ("/sessions/{session_id}/status", "patch")]:
        assert method in paths[path], (method, path)
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.content_type


def test_a_session_is_written_as_marshmallow_writes_it_in_every_state(app, ada, monkeypatch):
    """`schemas.Session.dump` writes its fields out by hand, for speed: it must say what the declared schema says."""
    from marshmallow import Schema

    from pomodoro import schemas

    task = ada.post("/tasks", {"title": "Write"}).json
    first = ada.start()
    ada.post(f"/sessions/{first['id']}/interruptions", {"kind": "external"})
    ada.patch(f"/sessions/{first['id']}/stop")
    ada.set_status(first["id"], "completed")
    ada.patch(f"/sessions/{first['id']}", {"note": "done", "task_id": task["id"]})
    skipped = ada.set_status(ada.start()["id"], "cancelled")
    paused = ada.patch(f"/sessions/{ada.start()['id']}/stop").json
    running = ada.patch(f"/sessions/{paused['id']}/resume").json
    monkeypatch.setattr(schemas, "utcnow", lambda: datetime(2026, 12, 7, 12, 0, 0, 123456, tzinfo=UTC))
    schema = schemas.Session()
    with app.app_context():
        stored = [db.session.get(Session, one["id"]) for one in (first, skipped, running)]
        for session in stored:
            assert schema.dump(session) == Schema.dump(schema, session)
        assert schema.dump(stored, many=True) == Schema.dump(schema, stored, many=True)
        assert stored[0].note == "done" and stored[0].interruptions["external"] == 1
