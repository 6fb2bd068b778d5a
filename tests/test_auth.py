"""Credentials: how passwords and tokens are kept, logging in and its rate
limit, and what a browser's cookie may and may not do to the API."""
import hashlib
import re

import pytest
from sqlalchemy import text

from pomodoro import create_app
from pomodoro.extensions import db
from pomodoro.models import BrowserSession

from .helpers import assert_error, stored_rows
from .live import wait_until

URLSAFE_256_BITS = re.compile(r"^[A-Za-z0-9_-]{43,}$")
TIGHT_LIMIT = {"LOGIN_RATE_LIMIT": "3 per 2 second"}


def rows(app, query: str) -> list:
    with app.app_context():
        return db.session.execute(text(query)).all()


def log_in(client, email, password):
    return client.post("/auth/token", json={"email": email, "password": password})


def test_scrypt_is_the_default_hash(monkeypatch):
    monkeypatch.delenv("PASSWORD_HASH_METHOD", raising=False)
    app = create_app({"SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": None})
    assert app.config["PASSWORD_HASH_METHOD"] == "scrypt"


@pytest.mark.parametrize("app_config", [{"PASSWORD_HASH_METHOD": "scrypt"}], ids=["scrypt"])
def test_passwords_are_stored_as_salted_scrypt_hashes(client, app, auth):
    auth.sign_up(email="ada@example.org", password="correct horse battery")
    auth.sign_up(email="bo@example.org", password="correct horse battery")
    hashes = [row.password_hash for row in rows(app, "SELECT password_hash FROM users ORDER BY email")]
    assert all(stored.startswith("scrypt:") for stored in hashes), hashes
    assert not any("correct horse" in stored for stored in hashes)
    assert hashes[0] != hashes[1]  # salted: the same password never looks the same twice


def test_a_change_of_hash_method_keeps_every_stored_password_working(client, app, auth):
    ada = auth.sign_up(email="ada@example.org")
    app.config["PASSWORD_HASH_METHOD"] = "scrypt"
    assert log_in(client, ada.email, ada.password).status_code == 201
    auth.sign_up(email="bo@example.org")
    hashes = [row.password_hash for row in rows(app, "SELECT password_hash FROM users ORDER BY email")]
    assert [stored.split(":", 1)[0] for stored in hashes] == ["pbkdf2", "scrypt"]


def test_tokens_are_stored_only_as_their_sha256(client, app, auth):
    account = auth.sign_up()
    stored = rows(app, "SELECT * FROM api_tokens")
    assert [row.token_hash for row in stored] == [hashlib.sha256(account.token.encode()).hexdigest()]
    everything = str(stored_rows(app))
    assert account.token not in everything


def test_tokens_carry_at_least_256_bits_and_never_repeat(client, auth):
    account = auth.sign_up()
    tokens = [log_in(client, account.email, account.password).json["token"] for _ in range(3)] + [account.token]
    assert all(URLSAFE_256_BITS.match(token) for token in tokens), tokens
    assert len(set(tokens)) == len(tokens)


def test_a_wrong_password_or_an_unknown_e_mail_gets_the_same_401(client, app, auth):
    ada = auth.sign_up("ada@example.org")  # password "correct horse"
    before = stored_rows(app)
    wrong_password = log_in(client, ada.email, "wrong horse")
    unknown = log_in(client, "nobody@example.org", "correct horse")
    assert_error(wrong_password, 401, "unauthorized")
    assert (unknown.status_code, unknown.json) == (wrong_password.status_code, wrong_password.json)
    assert stored_rows(app) == before  # no token was issued


@pytest.mark.parametrize("app_config", [TIGHT_LIMIT], ids=["3 per 2 s"])
def test_repeated_failures_are_rate_limited_until_the_window_passes(client, auth):
    account = auth.sign_up()
    for email in (account.email, "nobody@example.org", account.email):  # guessing e-mails counts too
        assert_error(log_in(client, email, "wrong horse"), 401)
    limited = log_in(client, "nobody@example.org", "wrong horse")
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 0
    assert_error(log_in(client, account.email, account.password), 429)  # even the right password waits

    granted = wait_until(lambda: (r := log_in(client, account.email, account.password)).status_code == 201 and r,
                         6, interval=0.1)
    assert client.get("/users/me", headers={"Authorization": f"Bearer {granted.json['token']}"}).status_code == 200


@pytest.mark.parametrize("app_config", [TIGHT_LIMIT], ids=["3 per 2 s"])
def test_successful_logins_do_not_count_toward_the_limit(client, auth):
    account = auth.sign_up()
    for _ in range(5):
        assert log_in(client, account.email, account.password).status_code == 201
    for _ in range(3):
        assert_error(log_in(client, account.email, "wrong horse"), 401)
    assert_error(log_in(client, account.email, "wrong horse"), 429, "rate_limited")


def test_token_authenticated_answers_set_no_cookie(client, app, auth):
    account = auth.sign_up()
    session = client.post("/sessions", json={}, headers=account.headers)
    responses = [
        log_in(client, account.email, "correct horse"),
        client.get("/users/me", headers=account.headers),
        session,
        client.patch(f"/sessions/{session.json['id']}/stop", headers=account.headers),
        client.get("/cycles", headers=account.headers),
        client.delete("/auth/token", headers=account.headers),
    ]
    assert [response.status_code for response in responses] == [201, 200, 201, 200, 200, 204]
    assert [response.headers.getlist("Set-Cookie") for response in responses] == [[]] * len(responses)


def page_csrf_token(client) -> str:
    page = client.get("/", headers={"Accept": "text/html"})
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page.get_data(as_text=True)).group(1)


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}], ids=["CSRF on"])
def test_a_cookie_authenticated_write_needs_the_csrf_token(client, app, auth):
    ada = auth.sign_up()
    with app.app_context():  # signed in, as the login page would leave the browser
        log_in_record = BrowserSession(user_id=ada.id)
        db.session.add(log_in_record)
        db.session.commit()
    with client.session_transaction() as browser_session:
        browser_session["_user_id"] = log_in_record.id
    me = client.get("/users/me")
    assert me.status_code == 200 and me.json["id"] == ada.id  # reads need only the cookie

    before = stored_rows(app)
    writes = [("POST", "/sessions", {}), ("POST", "/cycles", {}),
              ("PATCH", f"/users/{ada.id}/configuration", {"work_seconds": 60})]
    for method, path, body in writes:
        for headers in ({}, {"X-CSRFToken": "not-the-token"}):
            refused = client.open(path, method=method, json=body, headers=headers)
            error = assert_error(refused, 400)
            assert "CSRF" in error["message"], error
    assert stored_rows(app) == before

    started = client.post("/sessions", json={}, headers={"X-CSRFToken": page_csrf_token(client)})
    assert started.status_code == 201 and started.json["status"] == "running"


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}], ids=["CSRF on"])
def test_a_token_authenticated_write_needs_no_csrf_token(client, app, auth):
    ada = auth.sign_up()
    assert client.post("/sessions", json={}, headers=ada.headers).status_code == 201
