"""Fixtures: `app`, `client`, `auth`, `db`, over SQLite and PostgreSQL; `browser`
and `server` for the tests that drive the pages in Chromium.

PostgreSQL and Redis are real servers. Where one is missing the tests that
need it skip with the reason, except under CI (CI=true), where they fail.
"""
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis as redis_lib
from flask import g
from flask_migrate import upgrade
from sqlalchemy import text

from pomodoro import create_app
from pomodoro.extensions import db as _db

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# One Redis database per pytest-xdist worker (gw0 takes 15, gw1 14, ...): each empties its own.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
REDIS_URL = os.environ.get("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 - _WORKER}")
TABLES = ("sessions", "tasks", "cycles", "api_tokens", "users")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


# `make test` runs two pytest-xdist workers. The modules whose tests start
# processes or Chromium run on one of them, one test at a time; the in-process
# tests share the other. Two live stacks at once on a two-core machine starve
# each other's timing.
LIVE_MODULES = {
    "test_browser.py", "test_durability.py", "test_engine.py", "test_hardening_live.py",
    "test_integrations_browser.py", "test_integrations_stacks.py", "test_readme.py",
    "test_reports_browser.py", "test_security.py", "test_serving.py", "test_socket.py",
    "test_tasks_browser.py", "test_tasks_live.py",
}


@pytest.fixture(autouse=True)
def live_lane_first(request):
    """Under xdist the in-process tests run at a lower CPU priority, so that the
    servers and Chromium of the live lane (started at the normal one) keep
    their timing. Only root may raise a priority again: elsewhere, once lowered,
    a worker stays so."""
    if "PYTEST_XDIST_WORKER" in os.environ:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, 0 if request.path.name in LIVE_MODULES else 10)
        except PermissionError:
            pass


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class LiveApart(LoadScopeScheduling):
        """One unit of work for all the live modules, one for each other test."""

        # xdist's own way, --dist loadgroup, groups nothing under pytest 9.2 (it
        # rewrites a test id attribute pytest no longer reads); overriding the
        # scope of LoadScopeScheduling is the one hook left. The run's test
        # order shows whether it holds: the live tests all run on one worker.
        def _split_scope(self, nodeid: str) -> str:
            return "live" if nodeid.split("::")[0].rsplit("/", 1)[-1] in LIVE_MODULES else nodeid

    return LiveApart(config, log)


def missing(service: str, error: Exception):
    """Fail under CI; elsewhere skip, saying what is missing and how to get it."""
    message = f"{service} is not reachable ({error}); start it, or point TEST_{service.upper()}_URL at one."
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def config(database_url: str, **overrides) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "SIGNUP_RATE_LIMIT": "1000 per minute",
        # Each sign-up and log-in hashes a password; scrypt would cost a tenth
        # of a second each time (tests/test_auth.py checks scrypt is the default).
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        **overrides,
    }


def migrated(database_url: str) -> str:
    app = create_app(config(database_url))
    with app.app_context():
        upgrade()
        _db.engine.dispose()
    return database_url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory):
    return migrated(f"sqlite:///{tmp_path_factory.mktemp('db') / 'pomodoro.db'}")


@contextmanager
def fresh_postgres_database():
    """A new, empty PostgreSQL database, dropped afterwards; yields its URL."""
    name = f"pomodoro_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        missing("Postgres", error)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def postgresql_url():
    """A fresh database made for this run and dropped after it."""
    with fresh_postgres_database() as url:
        yield migrated(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture(scope="session")
def redis_url():
    try:
        redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis_lib.RedisError as error:
        missing("Redis", error)
    return REDIS_URL


@pytest.fixture
def app_config(request):
    """Overrides a test module may extend. A test that asks for `redis_url`
    gets the production adapters (RQ and Redis) on that Redis."""
    if "redis_url" in request.fixturenames:
        return {"REDIS_URL": request.getfixturevalue("redis_url")}
    return {}


@pytest.fixture
def clean_redis(app, redis_url):
    """The test Redis database, empty before and after the test."""
    connection = redis_lib.Redis.from_url(redis_url)
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.fixture
def app(database_url, app_config):
    app = create_app(config(database_url, **app_config))

    @app.before_request
    def start_clean():
        """The `db` fixture keeps one app context open for the whole test, and
        Flask lets requests share it (and its `g`); in a server each request has
        its own. Forget the previous request's user so every request
        authenticates afresh."""
        for name in ("_login_user", "api_token", "socket_user", "browser_session"):
            g.pop(name, None)

    yield app
    for adapter in ("pomodoro.timers", "pomodoro.background", "pomodoro.webhooks.sender"):
        if hasattr(app.extensions.get(adapter), "stop"):
            app.extensions[adapter].stop()
    with app.app_context():
        _db.session.remove()
        with _db.engine.begin() as connection:
            for table in TABLES:
                connection.execute(text(f"DELETE FROM {table}"))
        _db.engine.dispose()


@pytest.fixture
def db(app):
    with app.app_context():
        yield _db


@pytest.fixture
def client(app):
    return app.test_client()


@dataclass
class Account:
    id: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


class Auth:
    """Signs people up and hands back their token."""

    def __init__(self, client):
        self.client = client
        self.count = 0

    def sign_up(self, email: str | None = None, password: str = "correct horse", **configuration) -> Account:
        self.count += 1
        email = email or f"person{self.count}@example.org"
        response = self.client.post("/users", json={"email": email, "password": password, "name": "Pat"})
        assert response.status_code == 201, response.json
        user_id = response.json["id"]
        token = self.client.post("/auth/token", json={"email": email, "password": password}).json["token"]
        account = Account(user_id, email, password, token)
        if configuration:
            response = self.client.patch(f"/users/{user_id}/configuration", json=configuration, headers=account.headers)
            assert response.status_code == 200, response.json
        return account


@pytest.fixture
def auth(client):
    return Auth(client)


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def browser():
    """Chromium under Playwright, for the tests that drive the pages (tests/browser.py)."""
    from .browser import launched_browser

    with launched_browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The embedded default (`flask run` on a SQLite file of its own), for the browser tests."""
    from .browser import SERVER_SETTINGS
    from .stacks import embedded_stack

    with embedded_stack(tmp_path_factory.mktemp("server"), **SERVER_SETTINGS) as stack:
        yield stack
