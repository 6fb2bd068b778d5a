"""Helpers shared by the test modules (fixtures live in conftest.py; people
are made by the `auth` fixture, `auth.sign_up`)."""
import re
import tempfile
import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import event, text

from pomodoro import announcements
from pomodoro.extensions import db
from pomodoro.models import User

from .conftest import Account
from .live import wait_until

HTMX = {"HX-Request": "true"}
PASSWORD = "correct horse"  # what `auth.sign_up` and the pages' forms use


def wait_for_the_relay(user_id: str, heard) -> list:
    """Say something to the user's sockets until `heard()` (a listener's drain)
    hears it, since what is published before the relay has subscribed is heard
    by no one; returns what was heard."""
    def listening():
        announcements.announce(user_id, announcements.SESSION_UPDATED, {})
        announcements.commit(refusal="no")
        return heard()

    return wait_until(listening, 10, interval=0.1, message="the relay to be listening")


class Died(BaseException):
    """The process stopped dead at this point (SIGKILL, say): nothing after it runs."""


@contextmanager
def dying_right_after_the_commit(session):
    """Inside: the next commit of the database `session` stores the change, and
    then the process dies (`Died`) before anything after the commit runs."""
    commit = session.commit

    def commit_then_die():
        commit()
        raise Died

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(session, "commit", commit_then_die)
        with pytest.raises(Died):
            yield


@contextmanager
def statements():
    """Inside: the SQL statements the app's engine sends from this thread, in a
    list (their first words)."""
    sent, here = [], threading.get_ident()

    def note(_connection, _cursor, statement, *_args):
        if threading.get_ident() == here:
            sent.append(" ".join(statement.split()[:3]))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


@contextmanager
def round_trips(engine):
    """Inside: the round trips `engine`'s connections make to PostgreSQL, read
    from libpq's own trace of the protocol: a list of what each sent (each
    round trip ends with the server's ReadyForQuery)."""
    from psycopg import pq

    trace, traced = tempfile.TemporaryFile("w+"), []

    def checkout(dbapi_connection, _record, _proxy):
        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        traced.append(dbapi_connection)

    def checkin(dbapi_connection, _record):
        if dbapi_connection in traced:
            dbapi_connection.pgconn.untrace()
            traced.remove(dbapi_connection)

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    sent = []
    try:
        yield sent
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
        for dbapi_connection in traced:
            dbapi_connection.pgconn.untrace()
        trace.seek(0)
        messages = re.split(r"^(?=[FB]\t\d+\t)", trace.read(), flags=re.M)  # a query's text may span lines
        said = []
        for text in messages:
            direction, _length, message, *rest = text.split("\t", 3) + [""] if text else ("", "", "")
            if direction == "F" and message in ("Query", "Parse"):
                texts = re.findall(r'"((?:[^"]|"")*)"', rest[0])
                said.append((texts[0] if message == "Query" else texts[1]).split()[0].upper())
            elif direction == "B" and message.strip() == "ReadyForQuery":
                sent.append(" ".join(said))
                said = []
        trace.close()


def user_record(db, account) -> User:
    """The stored user behind an `auth.sign_up` account, for tests that call actions directly."""
    return db.session.get(User, account.id)


def drain(listener) -> list:
    """Everything waiting in a hub listener's inbox, oldest first."""
    frames = []
    while not listener.inbox.empty():
        frames.append(listener.inbox.get_nowait())
    return frames


# -- the JSON API ---------------------------------------------------------------

def stored_rows(app) -> dict:
    """Every row of every table, to show a request changed nothing."""
    with app.app_context():
        with db.engine.connect() as connection:
            return {
                table: sorted(tuple(map(str, row)) for row in connection.execute(text(f"SELECT * FROM {table}")))
                for table in ("users", "api_tokens", "cycles", "sessions", "tasks")
            }


def assert_error(response, status: int, code: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.get_data(as_text=True)[:200]
    assert set(response.json) == {"error"}
    error = response.json["error"]
    assert set(error) <= {"code", "message", "fields"}
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


class Api:
    """A person's API client: short calls that name what they do."""

    def __init__(self, client, who: Account):
        self.client, self.who = client, who

    def get(self, path):
        return self.client.get(path, headers=self.who.headers)

    def post(self, path, body=None):
        return self.client.post(path, json={} if body is None else body, headers=self.who.headers)

    def patch(self, path, body=None):
        return self.client.patch(path, json=body, headers=self.who.headers)

    def start(self, **body) -> dict:
        response = self.post("/sessions", body)
        assert response.status_code == 201, response.json
        return response.json

    def session(self, session_id) -> dict:
        response = self.get(f"/sessions/{session_id}")
        assert response.status_code == 200, response.json
        return response.json

    def cycle(self, cycle_id) -> dict:
        response = self.get(f"/cycles/{cycle_id}")
        assert response.status_code == 200, response.json
        return response.json

    def set_status(self, session_id, status) -> dict:
        response = self.patch(f"/sessions/{session_id}/status", {"status": status})
        assert response.status_code == 200, response.json
        return response.json

    def current(self):
        response = self.get("/sessions/current")
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.json
        return response.json


# -- the pages ------------------------------------------------------------------

class Person:
    """Someone using the pages: keeps the cookies and the page's CSRF token."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def get(self, path, htmx=False):
        response = self.client.get(path, headers=HTMX if htmx else {})
        if match := re.search(r'<meta name="csrf-token" content="([^"]+)"', response.text):
            self.token = match[1]
        return response

    def post(self, path, data=None, htmx=False, csrf=True):
        if csrf and self.token is None:
            self.get("/login")
        form = {"csrf_token": self.token} if csrf else {}
        response = self.client.post(path, data=form | (data or {}), headers=HTMX if htmx else {})
        if response.status_code == 303 and path.startswith(("/login", "/signup")):
            self.get("/")  # as a browser lands on the timer: logging in gave a new CSRF token
        return response

    def sign_up(self, email="ada@example.org", **fields):
        response = self.post("/signup", {"email": email, "password": PASSWORD, **fields})
        assert response.status_code == 303, response.text
        return response

    def log_in(self, email, password=PASSWORD, **fields):
        response = self.post("/login", {"email": email, "password": password, **fields})
        assert response.status_code == 303, response.text
        return response

    def session_id(self):
        return re.search(r'data-session-id="([^"]*)"', self.get("/", htmx=True).text)[1]
