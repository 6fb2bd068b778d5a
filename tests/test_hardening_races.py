"""Races: the same write sent many times at once answers 201/200 once and 409
for the rest (never a 5xx), and leaves the account consistent."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from pomodoro import rules
from pomodoro.extensions import db
from pomodoro.models import Cycle, Session, Task, User

from .test_api import person
from .test_pages import PASSWORD, Person

PARALLEL = 8


def at_once(app, call, times: int = PARALLEL) -> list:
    """`call(client)` from `times` threads released together, each with a client of its own."""
    barrier = threading.Barrier(times)

    def one(_):
        client = app.test_client()
        barrier.wait()
        return call(client)

    with ThreadPoolExecutor(times) as pool:
        return list(pool.map(one, range(times)))


def statuses(responses) -> list[int]:
    return sorted(response.status_code for response in responses)


def consistent(app, user_id: str) -> None:
    """At most one active cycle, open session and active task, and the cycle counts what it holds."""
    with app.app_context():
        active = db.session.scalar(select(func.count()).where(Cycle.user_id == user_id, Cycle.status == rules.ACTIVE))
        open_ = db.session.scalar(select(func.count()).where(
            Session.user_id == user_id, Session.status.in_(rules.OPEN_STATUSES)))
        tasks = db.session.scalar(select(func.count()).where(Task.user_id == user_id, Task.active))
        assert active <= 1 and open_ <= 1 and tasks <= 1, (active, open_, tasks)
        for cycle in db.session.scalars(select(Cycle).where(Cycle.user_id == user_id)):
            done = sum(1 for s in cycle.sessions if s.type == rules.WORK and s.status == rules.COMPLETED)
            assert cycle.completed_work_sessions == done


def test_starting_sessions_at_once_starts_one_and_refuses_the_rest(app):
    ada = person(app)
    answers = at_once(app, lambda c: c.post("/sessions", json={}, headers=ada.headers))
    assert statuses(answers) == [201] + [409] * (PARALLEL - 1), [r.json for r in answers]
    assert all(r.json["error"]["code"] == "conflict" for r in answers if r.status_code == 409)
    consistent(app, ada.id)


def test_new_cycles_at_once_answer_201_or_409(app):
    ada = person(app)
    answers = at_once(app, lambda c: c.post("/cycles", json={}, headers=ada.headers))
    assert 201 in statuses(answers) and set(statuses(answers)) <= {201, 409}, [r.json for r in answers]
    consistent(app, ada.id)


WRITES = [
    ("POST", "/sessions", {}),
    ("POST", "/cycles", {}),
    ("PATCH", "/sessions/{session}/stop", None),
    ("PATCH", "/sessions/{session}/resume", None),
    ("PATCH", "/sessions/{session}/status", {"status": "completed"}),
    ("PATCH", "/sessions/{session}/status", {"status": "cancelled"}),
    ("PATCH", "/users/{me}/configuration", {"work_seconds": 120}),
    ("POST", "/auth/token", "credentials"),
    ("PATCH", "/sessions/{session}", {"note": "racing", "task_id": "{task}"}),
    ("PATCH", "/sessions/{session}/extend", {"seconds": 60}),
    ("POST", "/sessions/{session}/interruptions", {"kind": "internal"}),
    ("POST", "/tasks", {"title": "at once", "active": True}),
    ("PATCH", "/tasks/{task}", {"active": True, "done": False}),
    ("PATCH", "/tasks/{task}", {"position": 1}),
    ("DELETE", "/tasks/{other_task}", None),
    ("POST", "/users/{me}/calendar-token", None),
    ("DELETE", "/users/{me}/calendar-token", None),
    ("POST", "/auth/tokens", {"name": "racing"}),
    ("POST", "/webhooks", {"url": "http://127.0.0.1:9/hook"}),
    ("PATCH", "/webhooks/{webhook}", {"enabled": True}),
    ("POST", "/webhooks/{webhook}/rotate-secret", None),
    ("POST", "/webhooks/{webhook}/test", None),
]


def filled(body, ids: dict):
    if isinstance(body, dict):
        return {key: value.format(**ids) if isinstance(value, str) else value for key, value in body.items()}
    return body


@pytest.mark.parametrize("app_config", [{"WEBHOOK_ALLOW_PRIVATE": True}], ids=["local webhooks"])
def test_every_write_endpoint_in_parallel_gives_no_5xx_and_a_consistent_account(app):
    ada = person(app, email="ada@example.org")
    client = app.test_client()
    session = client.post("/sessions", json={}, headers=ada.headers).json
    task = client.post("/tasks", json={"title": "one"}, headers=ada.headers).json
    webhook = client.post("/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=ada.headers).json
    ids = {"me": ada.id, "session": session["id"], "task": task["id"], "webhook": webhook["id"]}
    for _ in range(3):
        ids["other_task"] = client.post("/tasks", json={"title": "to delete"}, headers=ada.headers).json["id"]
        calls = [(method, path.format(**ids), filled(body, ids)) for method, path, body in WRITES] * 2

        def send(client, calls=calls, index=iter(range(len(calls))), lock=threading.Lock()):
            with lock:
                method, path, body = calls[next(index)]
            if body == "credentials":
                return client.post(path, json={"email": "ada@example.org", "password": "correct horse"})
            return client.open(path, method=method, json=body, headers=ada.headers)

        answers = at_once(app, send, len(calls))
        assert all(r.status_code < 500 for r in answers), [(r.status_code, r.request.path, r.get_data(as_text=True)[:200]) for r in answers if r.status_code >= 500]
        consistent(app, ada.id)
        current = client.get("/sessions/current", headers=ada.headers)
        if current.status_code == 200:
            ids["session"] = current.json["id"]


def test_signing_up_the_same_e_mail_at_once_makes_one_account(app):
    answers = at_once(app, lambda c: c.post("/users", json={"email": "bo@example.org", "password": PASSWORD}), 4)
    assert statuses(answers) == [201, 409, 409, 409]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_a_double_click_on_start_shows_the_timer_never_a_500(app):
    page = Person(app.test_client())
    page.sign_up()
    cookies = page.client.get_cookie("session").value

    def click(client):
        client.set_cookie("session", cookies)
        return client.post("/sessions/start", data={"csrf_token": page.token}, headers={"HX-Request": "true"})

    answers = at_once(app, click, 4)
    assert statuses(answers) == [200, 409, 409, 409]
    assert all("data-session-id" in r.text for r in answers)
    with app.app_context():
        user = User.by_email("ada@example.org")
        consistent(app, user.id)


def test_a_lost_race_no_action_caught_is_still_a_409_not_a_500(app):
    """The backstop for code to come: a unique index refusing a write anywhere answers 409."""
    @app.route("/test-duplicate-signup", methods=["POST"])  # before any request: Flask takes no routes after
    def duplicate():
        db.session.add(User(email="ada@example.org", password_hash="x"))
        db.session.commit()
        return "", 204

    ada = person(app, email="ada@example.org")
    response = app.test_client().post("/test-duplicate-signup", headers={"Accept": "application/json"})
    assert response.status_code == 409 and response.json["error"]["code"] == "conflict"
    consistent(app, ada.id)
