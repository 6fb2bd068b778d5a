"""A user reaches only their own records: another user's id answers exactly
as an id that does not exist, and nothing answers without credentials."""
import base64
import uuid

import pytest

from .helpers import Api, assert_error, stored_rows

# (method, path, body, the state of the owner's session in which the request would do something)
ID_REQUESTS = [
    ("GET", "/users/{user}", None, "running"),
    ("PATCH", "/users/{user}/configuration", {"work_seconds": 60, "auto_start_work": True}, "running"),
    ("GET", "/cycles/{cycle}", None, "running"),
    ("GET", "/cycles/{cycle}/sessions", None, "running"),
    ("GET", "/sessions/{session}", None, "running"),
    ("PATCH", "/sessions/{session}/stop", None, "running"),
    ("PATCH", "/sessions/{session}/resume", None, "paused"),
    ("PATCH", "/sessions/{session}/status", {"status": "paused"}, "running"),
    ("PATCH", "/sessions/{session}/status", {"status": "running"}, "paused"),
    ("PATCH", "/sessions/{session}/status", {"status": "completed"}, "running"),
    ("PATCH", "/sessions/{session}/status", {"status": "cancelled"}, "paused"),
    ("POST", "/sessions", {"cycle_id": "{cycle}"}, "cancelled"),
    ("POST", "/sessions", {"cycle_id": "{cycle}", "type": "long_break"}, "cancelled"),
]


def filled(template, ids):
    if isinstance(template, str):
        return template.format(**ids)
    if isinstance(template, dict):
        return {key: filled(value, ids) for key, value in template.items()}
    return template


@pytest.mark.parametrize(("method", "path", "body", "state"), ID_REQUESTS,
                         ids=[f"{m} {p} {b or ''}" for m, p, b, _ in ID_REQUESTS])
def test_another_users_id_is_not_found_just_like_a_missing_one(client, app, method, path, body, state, auth):
    ada = Api(client, auth.sign_up())
    bo = Api(client, auth.sign_up())
    bo.post("/cycles")  # so that Bo could start a session, if only in a cycle of his own
    session = ada.start()
    if state != "running":
        ada.set_status(session["id"], state)
    adas = {"user": ada.who.id, "cycle": session["cycle_id"], "session": session["id"]}
    nobodys = {key: uuid.uuid4().hex for key in adas}
    before = stored_rows(app)

    theirs = client.open(filled(path, adas), method=method, json=filled(body, adas), headers=bo.who.headers)
    missing = client.open(filled(path, nobodys), method=method, json=filled(body, nobodys), headers=bo.who.headers)

    assert_error(theirs, 404, "not_found")
    assert (theirs.status_code, theirs.json) == (missing.status_code, missing.json)
    assert stored_rows(app) == before
    assert ada.session(session["id"])["status"] == state


AUTHENTICATED = [
    ("DELETE", "/auth/token", None),
    ("GET", "/users/me", None),
    ("GET", "/users/{user}", None),
    ("PATCH", "/users/{user}/configuration", {"work_seconds": 60}),
    ("POST", "/cycles", {}),
    ("GET", "/cycles", None),
    ("GET", "/cycles/{cycle}", None),
    ("GET", "/cycles/{cycle}/sessions", None),
    ("POST", "/sessions", {}),
    ("GET", "/sessions/current", None),
    ("GET", "/sessions/{session}", None),
    ("PATCH", "/sessions/{session}/stop", None),
    ("PATCH", "/sessions/{session}/resume", None),
    ("PATCH", "/sessions/{session}/status", {"status": "cancelled"}),
]


def basic(email, password):
    return "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()


CREDENTIALS = {  # what is sent as Authorization, given Ada's real token and e-mail
    "none": lambda token, email: None,
    "empty bearer": lambda token, email: "Bearer ",
    "made-up token": lambda token, email: "Bearer " + "A" * 43,
    "token cut short": lambda token, email: "Bearer " + token[:-1],
    "token with one letter changed": lambda token, email: "Bearer " + token[:-1] + ("B" if token[-1] != "B" else "C"),
    "token under another scheme": lambda token, email: "Token " + token,
    "the bare token": lambda token, email: token,
    "e-mail and password": lambda token, email: basic(email, "correct horse"),
}


@pytest.mark.parametrize("credentials", CREDENTIALS)
def test_every_authenticated_endpoint_answers_401_without_valid_credentials(client, app, credentials, auth):
    ada = Api(client, auth.sign_up("ada@example.org"))
    session = ada.start()
    ids = {"user": ada.who.id, "cycle": session["cycle_id"], "session": session["id"]}
    token = ada.who.headers["Authorization"].removeprefix("Bearer ")
    authorization = CREDENTIALS[credentials](token, "ada@example.org")
    headers = {"Authorization": authorization} if authorization is not None else {}
    before = stored_rows(app)
    for method, path, body in AUTHENTICATED:
        response = client.open(filled(path, ids), method=method, json=body, headers=headers)
        assert_error(response, 401, "unauthorized")
        assert not response.headers.getlist("Set-Cookie"), (method, path)
    assert stored_rows(app) == before
    assert ada.get("/users/me").status_code == 200  # the real token still works


def test_a_revoked_token_opens_nothing(client, app, auth):
    ada = Api(client, auth.sign_up())
    session = ada.start()
    ids = {"user": ada.who.id, "cycle": session["cycle_id"], "session": session["id"]}
    assert client.delete("/auth/token", headers=ada.who.headers).status_code == 204
    before = stored_rows(app)
    for method, path, body in AUTHENTICATED:
        assert_error(client.open(filled(path, ids), method=method, json=body, headers=ada.who.headers), 401)
    assert stored_rows(app) == before
