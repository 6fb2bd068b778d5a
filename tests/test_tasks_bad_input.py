"""The bad-input table, extended to the tasks rows and the session's new rows:
refused with the right status and a JSON error, never a 5xx, never a change;
and another user's task or session answers exactly like one that does not exist."""
import uuid

import pytest

from .test_api import Api, assert_error, person, stored_rows
from .test_bad_input import NUL, SURROGATE, TOO_LARGE, assert_not_ids_are_not_found, wrongly_answered
from .test_cross_user import filled

TASK = "/tasks/{task}"
SESSION = "/sessions/{session}"
EXTEND = "/sessions/{session}/extend"
INTERRUPT = "/sessions/{session}/interruptions"

TASK_BAD_REQUESTS = {
    "malformed JSON": [(method, path, "{", 400, None) for method, path in [
        ("POST", "/tasks"), ("PATCH", TASK), ("PATCH", SESSION), ("PATCH", EXTEND), ("POST", INTERRUPT)]],
    "not an object": [(method, path, "[]", 422, "_schema") for method, path in [
        ("POST", "/tasks"), ("PATCH", TASK), ("PATCH", SESSION), ("PATCH", EXTEND), ("POST", INTERRUPT)]],
    "bad titles": [
        *[("POST", "/tasks", {"title": value}, 422, "title")
          for value in ("", "   ", "\t\n", "x" * 201, "x" * 200 + " ", None, 5, ["x"], NUL, "a" + SURROGATE)],
        ("POST", "/tasks", {}, 422, "title"),
        *[("PATCH", TASK, {"title": value}, 422, "title") for value in ("", "x" * 201, None)],
    ],
    "bad notes": [
        ("POST", "/tasks", {"title": "t", "notes": "x" * 10001}, 422, "notes"),
        ("PATCH", TASK, {"notes": 5}, 422, "notes"),
        ("PATCH", TASK, {"notes": NUL}, 422, "notes"),
    ],
    "bad tags": [
        ("POST", "/tasks", {"title": "t", "tags": [f"tag{n}" for n in range(11)]}, 422, "tags"),
        *[("POST", "/tasks", {"title": "t", "tags": value}, 422, "tags")
          for value in (["x" * 41], [""], ["  "], [5], "work", [None], [NUL], [" " * 39 + "xy"])],
        ("PATCH", TASK, {"tags": ["a", " "]}, 422, "tags"),
    ],
    "bad estimates": [
        *[("POST", "/tasks", {"title": "t", "estimated_pomodoros": value}, 422, "estimated_pomodoros")
          for value in (100, -1, 1.5, "2", True, None)],
        ("PATCH", TASK, {"estimated_pomodoros": 100}, 422, "estimated_pomodoros"),
    ],
    "bad task changes": [
        *[("PATCH", TASK, {"done": value}, 422, "done") for value in ("true", 1, None)],
        *[("PATCH", TASK, {"active": value}, 422, "active") for value in ("yes", 0)],
        *[("PATCH", TASK, {"position": value}, 422, "position") for value in (0, -1, 1.5, "2", None)],
        ("PATCH", TASK, {"completed_pomodoros": 3}, 422, "completed_pomodoros"),
        ("PATCH", TASK, {"id": "other"}, 422, "id"),
        ("POST", "/tasks", {"title": "t", "done": True}, 422, "done"),
    ],
    "bad list queries": [
        *[("GET", f"/tasks?state={value}", None, 422, "state") for value in ("closed", "", "OPEN")],
        *[("GET", f"/tasks/{{task}}/sessions?{query}", None, 422, query.split("=")[0])
          for query in ("page=0", "per_page=101")],
    ],
    "unknown task id on POST /sessions": [
        ("POST", "/sessions", {"task_id": value}, 422, "task_id") for value in (5, "x" * 65, NUL, "", "nope")
    ],
    "bad session changes": [
        ("PATCH", SESSION, {"note": "x" * 2001}, 422, "note"),
        ("PATCH", SESSION, {"note": 5}, 422, "note"),
        ("PATCH", SESSION, {"note": SURROGATE}, 422, "note"),
        ("PATCH", SESSION, {"task_id": "nope"}, 422, "task_id"),
        ("PATCH", SESSION, {"task_id": ""}, 422, "task_id"),
        ("PATCH", SESSION, {"status": "completed"}, 422, "status"),
    ],
    "bad extensions": [
        *[("PATCH", EXTEND, {"seconds": value}, 422, "seconds") for value in (0, 3601, -60, 1.5, "60", None, True)],
        ("PATCH", EXTEND, {}, 422, "seconds"),
    ],
    "bad interruptions": [
        *[("POST", INTERRUPT, {"kind": value}, 422, "kind") for value in ("", "both", "Internal", None, 1)],
        ("POST", INTERRUPT, {}, 422, "kind"),
    ],
    "too large": [(method, path, TOO_LARGE, 413, None) for method, path in [
        ("POST", "/tasks"), ("PATCH", TASK), ("PATCH", SESSION), ("PATCH", EXTEND)]],
}


@pytest.fixture
def ada(client, app):
    """Someone with a task and a running session that bad requests must leave alone."""
    api = Api(client, person(app))
    task = client.post("/tasks", json={"title": "Keep me", "active": True}, headers=api.who.headers).json
    session = api.start()
    return api, {"task": task["id"], "session": session["id"]}


@pytest.mark.parametrize("kind", TASK_BAD_REQUESTS)
def test_bad_task_input_is_refused_and_changes_nothing(client, app, ada, kind):
    api, ids = ada
    assert wrongly_answered(client, app, TASK_BAD_REQUESTS[kind], ids, api.who.headers) == []


def test_an_interruption_on_a_break_is_refused(client, app, ada):
    api, ids = ada
    api.set_status(ids["session"], "cancelled")
    brk = api.start(type="short_break")
    before = stored_rows(app)
    assert_error(api.post(f"/sessions/{brk['id']}/interruptions", {"kind": "internal"}), 409, "conflict")
    assert stored_rows(app) == before


TASK_ID_ENDPOINTS = [
    ("GET", "/tasks/{}", None),
    ("PATCH", "/tasks/{}", {"title": "Mine now"}),
    ("DELETE", "/tasks/{}", None),
    ("GET", "/tasks/{}/sessions", None),
    ("PATCH", "/sessions/{}", {"note": "mine"}),
    ("PATCH", "/sessions/{}/extend", {"seconds": 60}),
    ("POST", "/sessions/{}/interruptions", {"kind": "internal"}),
]


def test_what_is_not_an_id_is_not_found(client, app, ada):
    api, _ids = ada
    assert_not_ids_are_not_found(client, app, TASK_ID_ENDPOINTS, api.who.headers)


CROSS_USER = [
    ("GET", "/tasks/{task}", None),
    ("PATCH", "/tasks/{task}", {"title": "Bo's now", "done": True}),
    ("PATCH", "/tasks/{task}", {"position": 1, "active": False}),
    ("DELETE", "/tasks/{task}", None),
    ("GET", "/tasks/{task}/sessions", None),
    ("PATCH", "/sessions/{session}", {"note": "Bo was here"}),
    ("PATCH", "/sessions/{session}", {"task_id": None}),
    ("PATCH", "/sessions/{session}/extend", {"seconds": 60}),
    ("POST", "/sessions/{session}/interruptions", {"kind": "external"}),
]


@pytest.mark.parametrize(("method", "path", "body"), CROSS_USER, ids=[f"{m} {p} {b or ''}" for m, p, b in CROSS_USER])
def test_another_users_task_or_session_is_not_found_just_like_a_missing_one(client, app, ada, method, path, body):
    _api, adas = ada
    bo = Api(client, person(app))
    bo.start()
    nobodys = {key: uuid.uuid4().hex for key in adas}
    before = stored_rows(app)
    theirs = client.open(filled(path, adas), method=method, json=body, headers=bo.who.headers)
    missing = client.open(filled(path, nobodys), method=method, json=body, headers=bo.who.headers)
    assert_error(theirs, 404, "not_found")
    assert (theirs.status_code, theirs.json) == (missing.status_code, missing.json)
    assert stored_rows(app) == before


def test_tasks_need_credentials(client, app, ada):
    _api, ids = ada
    before = stored_rows(app)
    for method, path, body in [("GET", "/tasks", None), ("POST", "/tasks", {"title": "x"}), *CROSS_USER]:
        assert_error(client.open(filled(path, ids), method=method, json=body), 401, "unauthorized")
    assert stored_rows(app) == before


def test_a_wrong_method_is_a_405(client, app, ada):
    api, ids = ada
    before = stored_rows(app)
    for method, path in [("PUT", "/tasks/{task}"), ("DELETE", "/tasks"), ("POST", "/tasks/{task}"),
                         ("GET", "/sessions/{session}/extend"), ("POST", "/sessions/{session}/extend"),
                         ("GET", "/sessions/{session}/interruptions"), ("POST", "/tasks/{task}/sessions")]:
        response = client.open(path.format(**ids), method=method, json={}, headers=api.who.headers)
        assert_error(response, 405, "method_not_allowed")
    assert stored_rows(app) == before
