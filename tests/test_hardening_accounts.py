"""Accounts: log-out ends the browser's log-in on the server, log out
everywhere, the password change, a new CSRF token at log-in, the e-mail rule,
equal cost for unknown e-mails and wrong passwords, sign-up limits and
trusted proxies."""
import re

import pytest

from pomodoro.models import User, email_key

from .test_api import assert_error, stored_rows
from .test_pages import PASSWORD, Person


def signed_in(app, remember: bool = False, email: str = "ada@example.org") -> Person:
    """A browser logged in through the log-in page."""
    browser = Person(app.test_client())
    browser.get("/login")
    data = {"email": email, "password": PASSWORD} | ({"remember": "on"} if remember else {})
    assert browser.post("/login", data).status_code == 303
    return browser


def is_signed_in(client) -> bool:
    return client.get("/").status_code == 200


@pytest.fixture
def ada(app):
    Person(app.test_client()).sign_up()
    return "ada@example.org"


def test_log_out_ends_the_log_in_so_a_copied_cookie_signs_in_no_more(app, ada):
    browser = signed_in(app, remember=True)
    session, remember = browser.client.get_cookie("session").value, browser.client.get_cookie("remember_token").value
    assert browser.post("/logout").status_code == 303
    for name, value in (("session", session), ("remember_token", remember)):
        thief = app.test_client()
        thief.set_cookie(name, value)
        assert not is_signed_in(thief), f"the old {name} cookie still signs in"


def test_log_out_everywhere_ends_every_browser_and_remember_cookie(app, ada):
    here, there = signed_in(app), signed_in(app, remember=True)
    remembered = there.client.get_cookie("remember_token").value
    here.get("/settings")
    assert here.post("/logout/everywhere").status_code == 303
    assert not is_signed_in(here.client) and not is_signed_in(there.client)
    fresh = app.test_client()
    fresh.set_cookie("remember_token", remembered)
    assert not is_signed_in(fresh)
    assert is_signed_in(signed_in(app).client)  # logging in again works


def test_log_out_everywhere_leaves_api_tokens_alone(app, ada, client):
    token = client.post("/auth/token", json={"email": ada, "password": PASSWORD}).json["token"]
    browser = signed_in(app)
    browser.post("/logout/everywhere")
    assert client.get("/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_password_change_needs_the_current_password(app, ada):
    browser = signed_in(app)
    browser.get("/settings")
    before = stored_rows(app)
    wrong = browser.post("/settings/password", {"current_password": "wrong horse", "new_password": "battery staple"})
    assert wrong.status_code == 401 and 'id="current_password-error"' in wrong.text
    short = browser.post("/settings/password", {"current_password": PASSWORD, "new_password": "short"})
    assert short.status_code == 422 and 'id="new_password-error"' in short.text
    assert stored_rows(app) == before


def test_a_password_change_ends_every_other_log_in_and_keeps_this_one(app, ada, client):
    here, there = signed_in(app), signed_in(app, remember=True)
    remembered = there.client.get_cookie("remember_token").value
    here.get("/settings")
    changed = here.post("/settings/password", {"current_password": PASSWORD, "new_password": "battery staple"})
    assert changed.status_code == 303 and changed.headers["Location"] == "/settings"
    assert is_signed_in(here.client) and not is_signed_in(there.client)
    fresh = app.test_client()
    fresh.set_cookie("remember_token", remembered)
    assert not is_signed_in(fresh)
    assert_error(client.post("/auth/token", json={"email": ada, "password": PASSWORD}), 401)
    assert client.post("/auth/token", json={"email": ada, "password": "battery staple"}).status_code == 201


def test_the_csrf_token_changes_at_log_in(app, ada):
    browser = Person(app.test_client())
    browser.get("/login")
    before = browser.token
    browser.post("/login", {"email": ada, "password": PASSWORD})
    assert browser.token and browser.token != before
    old = browser.client.post("/sessions/start", data={"csrf_token": before}, headers={"HX-Request": "true"})
    assert old.status_code == 400  # the token from before log-in is worth nothing


# -- e-mail addresses: one rule, stored, on both databases ---------------------------

ADDRESSES = ["Ada@Example.org", "ÅSA@exämple.org", "straße@example.org", "ǅemal@example.org",
             "\u212aelvin@example.org", "ΣΊΣΥΦΟΣ@example.org", "İstanbul@example.org", "ｆｕｌｌ@example.org"]


@pytest.mark.parametrize("address", ADDRESSES)
def test_whatever_signs_up_can_log_in_in_any_case(client, address):
    created = client.post("/users", json={"email": address, "password": PASSWORD})
    assert created.status_code == 201, created.json
    assert created.json["email"] == address  # shown as typed
    for typed in {address, address.lower(), address.upper(), address.casefold()}:
        answer = client.post("/auth/token", json={"email": typed, "password": PASSWORD})
        if email_key(typed) == email_key(address):
            assert answer.status_code == 201, (typed, answer.json)
    again = client.post("/users", json={"email": address.upper(), "password": PASSWORD})
    if email_key(address.upper()) == email_key(address):
        assert_error(again, 409, "conflict")


def test_the_e_mail_is_stored_with_its_key(db, client):
    assert client.post("/users", json={"email": "Straße@Example.ORG", "password": PASSWORD}).status_code == 201
    user = db.session.scalar(db.select(User))
    assert user.email_key == "strasse@example.org"


def test_a_sign_up_whose_key_would_not_fit_is_refused(client):
    address = "ﷺ" * 20 + "@example.org"  # 32 characters that fold to 380
    assert_error(client.post("/users", json={"email": address, "password": PASSWORD}), 422, "invalid")


# -- what the time of an answer tells -------------------------------------------------

def test_an_unknown_e_mail_costs_a_password_check_as_a_wrong_password_does(app, ada, client, monkeypatch):
    import pomodoro.models as models

    checked = []
    real = models.check_password_hash
    monkeypatch.setattr(models, "check_password_hash", lambda *args: checked.append(1) or real(*args))
    assert_error(client.post("/auth/token", json={"email": "nobody@example.org", "password": "wrong horse"}), 401)
    assert_error(client.post("/auth/token", json={"email": ada, "password": "wrong horse"}), 401)
    browser = Person(app.test_client())
    browser.get("/login")
    assert browser.post("/login", {"email": "nobody@example.org", "password": "x"}).status_code == 401
    assert checked == [1, 1, 1]


# -- abuse limits ---------------------------------------------------------------------

@pytest.mark.parametrize("app_config", [{"SIGNUP_RATE_LIMIT": "3 per minute"}], ids=["3 a minute"])
def test_sign_ups_are_limited_per_client_address_on_the_api_and_the_page(app, client):
    for number in range(2):
        assert client.post("/users", json={"email": f"p{number}@example.org", "password": PASSWORD}).status_code == 201
    page = Person(app.test_client())
    page.get("/signup")
    assert page.post("/signup", {"email": "p2@example.org", "password": PASSWORD}).status_code == 303
    limited = client.post("/users", json={"email": "p3@example.org", "password": PASSWORD})
    assert_error(limited, 429, "rate_limited")
    other = Person(app.test_client())
    other.get("/signup")
    refused = other.post("/signup", {"email": "p4@example.org", "password": PASSWORD})
    assert refused.status_code == 429 and "Too many attempts" in refused.text
    elsewhere = client.post("/users", json={"email": "p5@example.org", "password": PASSWORD},
                            environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert elsewhere.status_code == 201  # another address has its own allowance


# -- behind a proxy -------------------------------------------------------------------

def failed_log_in(client, forwarded_for: str):
    return client.post("/auth/token", json={"email": "nobody@example.org", "password": "x"},
                       headers={"X-Forwarded-For": forwarded_for}, environ_base={"REMOTE_ADDR": "10.0.0.1"})


@pytest.mark.parametrize("app_config", [{"LOGIN_RATE_LIMIT": "2 per minute", "TRUSTED_PROXIES": 1}], ids=["1 proxy"])
def test_behind_a_trusted_proxy_each_client_has_its_own_log_in_limit(client):
    for _ in range(2):
        assert failed_log_in(client, "198.51.100.1").status_code == 401
    assert failed_log_in(client, "198.51.100.1").status_code == 429
    assert failed_log_in(client, "198.51.100.2").status_code == 401  # someone else behind the same proxy


@pytest.mark.parametrize("app_config", [{"LOGIN_RATE_LIMIT": "2 per minute"}], ids=["no proxy"])
def test_without_trusted_proxies_x_forwarded_for_is_not_believed(client):
    for number in range(2):
        assert failed_log_in(client, f"198.51.100.{number}").status_code == 401
    assert failed_log_in(client, "198.51.100.9").status_code == 429  # a forged header buys no fresh allowance


# -- the migration keeps the data ------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    from .conftest import fresh_postgres_database

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'before.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


def test_the_migration_gives_existing_addresses_their_keys_and_keeps_every_row(empty_database):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from pomodoro import create_app
    from pomodoro.extensions import db

    from .conftest import config

    app = create_app(config(empty_database))
    with app.app_context():
        upgrade(revision="c3d4e5f6a7b8")
        rows = [("1", "Ada@Example.org", "2026-01-01"), ("2", "straße@example.org", "2026-01-02"),
                ("3", "STRASSE@example.org", "2026-01-03")]  # lower() told these two apart; the new rule does not
        for user_id, email, created in rows:
            db.session.execute(text(
                "INSERT INTO users (id, email, name, password_hash, created_at, work_seconds, short_break_seconds,"
                " long_break_seconds, long_break_interval, auto_start_breaks, auto_start_work, timezone)"
                " VALUES (:id, :email, '', 'x', :created, 1500, 300, 900, 4, true, false, 'UTC')"),
                {"id": user_id, "email": email, "created": created})
        db.session.commit()
        upgrade()
        keys = dict(db.session.execute(text("SELECT id, email_key FROM users ORDER BY id")).all())
        assert keys == {"1": "ada@example.org", "2": "strasse@example.org", "3": "strasse@example.org#3"}
        assert User.by_email("STRASSE@EXAMPLE.ORG").id == "2"  # the older account keeps the address
        db.session.rollback()
        downgrade(revision="c3d4e5f6a7b8")
        emails = [row[0] for row in db.session.execute(text("SELECT email FROM users ORDER BY id"))]
        assert emails == [email for _, email, _ in rows]
        db.session.rollback()
        db.engine.dispose()


def test_log_ins_older_than_a_remember_cookie_are_forgotten(app, ada):
    from datetime import timedelta

    from pomodoro.auth import forget_old_log_ins
    from pomodoro.extensions import db
    from pomodoro.models import BrowserSession, utcnow

    browser = signed_in(app)
    with app.app_context():  # each look at the database in a context of its own, as in test_pages
        for record in db.session.scalars(db.select(BrowserSession)):
            record.created_at = utcnow() - timedelta(days=366)
        db.session.commit()
    fresh = signed_in(app)
    with app.app_context():
        forget_old_log_ins()
    assert not is_signed_in(browser.client) and is_signed_in(fresh.client)
