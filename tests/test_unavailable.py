"""A database that cannot be reached is a clear, retryable 503, for the API
and for the pages alike, never a 500 or a traceback."""
import psycopg
import pytest

from pomodoro import create_app

from .conftest import POSTGRES_URL, config
from .live import free_port, session_cookie


def unreachable_app():
    closed_port = free_port()  # nothing listens there
    return create_app(config(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/pomodoro"))


def test_the_api_answers_503_with_retry_after_when_the_database_is_down():
    client = unreachable_app().test_client()
    response = client.get("/sessions/current", headers={"Authorization": "Bearer " + "x" * 43})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json["error"]["code"] == "unavailable"
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_page_says_so_in_html_when_the_database_is_down():
    app = unreachable_app()
    client = app.test_client()
    client.set_cookie("session", session_cookie(app.secret_key, "a" * 32))
    response = client.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "briefly unavailable" in response.get_data(as_text=True)


def _drop_the_app_connections(database_url: str) -> int:
    """What a PostgreSQL restart does to a pool: every connection it holds is gone."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        return admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchone()[0]


@pytest.fixture
def database_url(postgresql_url):
    """PostgreSQL only: SQLite has no connection to drop."""
    return postgresql_url


def test_a_read_that_meets_a_dropped_connection_is_answered_from_a_fresh_one(postgresql_url, auth, client):
    ada = auth.sign_up()
    assert client.get("/users/me", headers=ada.headers).status_code == 200  # the pool now holds a connection
    assert _drop_the_app_connections(postgresql_url) >= 1
    response = client.get("/users/me", headers=ada.headers)
    assert response.status_code == 200, response.json
    assert response.json["email"] == ada.email


def test_a_write_that_meets_a_dropped_connection_answers_503_and_the_next_one_works(postgresql_url, auth, client):
    ada = auth.sign_up()
    assert client.get("/users/me", headers=ada.headers).status_code == 200
    assert _drop_the_app_connections(postgresql_url) >= 1
    response = client.post("/sessions", json={}, headers=ada.headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert client.post("/sessions", json={}, headers=ada.headers).status_code == 201
