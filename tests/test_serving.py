"""What a request costs the database: an authenticated read is one round trip
to PostgreSQL (the log-in, its user and the open session in one statement,
outside a transaction); a write is one transaction, begun at its first write."""
import pytest

from pomodoro.extensions import db

from .helpers import Person, round_trips


@pytest.fixture
def database_url(postgresql_url):
    return postgresql_url


@pytest.fixture
def engine(app):
    with app.app_context():
        return db.engine


@pytest.mark.parametrize("running", [False, True])
def test_a_token_read_of_the_current_session_is_one_round_trip(engine, client, auth, running):
    ada = auth.sign_up()
    if running:
        assert client.post("/sessions", json={}, headers=ada.headers).status_code == 201
    client.get("/users/me", headers=ada.headers)  # the token's last use is noted here, not below
    with round_trips(engine) as sent:
        answer = client.get("/sessions/current", headers=ada.headers)
    assert answer.status_code == (200 if running else 404)
    assert sent == ["SELECT"]


def test_a_browser_read_of_the_current_session_is_one_round_trip(app, engine):
    browser = Person(app.test_client())
    browser.sign_up()
    assert browser.post("/sessions/start").status_code == 303
    with round_trips(engine) as sent:
        answer = browser.client.get("/sessions/current")
    assert answer.status_code == 200 and answer.json["status"] == "running"
    assert sent == ["SELECT"]


def test_a_write_is_one_transaction_begun_at_its_first_write(engine, client, auth):
    ada = auth.sign_up()
    started = client.post("/sessions", json={}, headers=ada.headers).json
    client.get("/users/me", headers=ada.headers)
    with round_trips(engine) as sent:
        assert client.patch(f"/sessions/{started['id']}/stop", headers=ada.headers).status_code == 200
    begun = sent.index("BEGIN")
    assert sent[:begun] == ["SELECT"]  # the log-in, the user and the open session, outside a transaction
    assert sent[begun + 1] == "UPDATE" and sent[-1] == "COMMIT"  # the rest, one transaction
    assert "BEGIN" not in sent[begun + 1:] and "ROLLBACK" not in sent
