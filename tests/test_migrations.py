"""The migrations build exactly the schema the models describe, on SQLite and
PostgreSQL, and `flask db upgrade` works from every accepted DATABASE_URL form."""
import os
import subprocess
import sys
import warnings
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pomodoro import create_app, rules
from pomodoro.extensions import db as _db
from pomodoro.models import Cycle, Session, User

from .conftest import ROOT, config, fresh_postgres_database

FLASK = os.path.join(os.path.dirname(sys.executable), "flask")


def schema_differences(database_url: str) -> list:
    """What autogenerate would write to bring the database in line with the models."""
    app = create_app(config(database_url))
    with app.app_context():
        try:
            with _db.engine.connect() as connection:
                context = MigrationContext.configure(
                    connection, opts={"compare_type": True, "compare_server_default": True}
                )
                return compare_metadata(context, _db.metadata)
        finally:
            _db.engine.dispose()


def test_sqlite_schema_matches_the_models(sqlite_url):
    with warnings.catch_warnings():
        # SQLite cannot reflect the expression index lower(email); PostgreSQL checks it below.
        warnings.filterwarnings("ignore", message=".*expression-based index uq_users_email_lower")
        assert schema_differences(sqlite_url) == []


def test_postgresql_schema_matches_the_models_including_the_email_index(postgresql_url):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*expression-based index")  # compared here, never skipped
        assert schema_differences(postgresql_url) == []


# The partial unique indexes are compared by name and columns only; their WHERE
# clauses are what makes them right, so check what they let through.

def test_migrated_database_allows_one_open_session_and_one_active_cycle_per_user(db):
    now = datetime.now(UTC)
    user = User(email="one@example.org", password_hash="x")
    db.session.add(user)
    db.session.flush()
    first = Cycle(user_id=user.id, long_break_interval=4)
    db.session.add(first)
    db.session.flush()

    def session(status, position):
        record = Session(user_id=user.id, cycle_id=first.id, type=rules.WORK, position=position)
        rules.start(record, 60, now)
        record.status = status
        return record

    # Ended sessions and finished cycles do not count against the limit.
    db.session.add_all([session(rules.COMPLETED, 1), session(rules.CANCELLED, 2), session(rules.RUNNING, 3)])
    db.session.add(Cycle(user_id=user.id, long_break_interval=4, status=rules.FINISHED, finished_at=now))
    db.session.commit()

    db.session.add(session(rules.PAUSED, 4))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()

    db.session.add(Cycle(user_id=user.id, long_break_interval=4))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_emails_are_unique_whatever_their_case(db):
    db.session.add(User(email="Ada@Example.org", password_hash="x"))
    db.session.commit()
    db.session.add(User(email="ada@example.ORG", password_hash="x"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_timestamps_come_back_timezone_aware_utc(db):
    started = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))  # an aware non-UTC time
    user = User(email="tz@example.org", password_hash="x")
    db.session.add(user)
    db.session.flush()
    cycle = Cycle(user_id=user.id, long_break_interval=4)
    db.session.add(cycle)
    db.session.flush()
    session = Session(user_id=user.id, cycle_id=cycle.id, type=rules.WORK, position=1)
    rules.start(session, 1500, started)
    db.session.add(session)
    db.session.commit()
    user_id, session_id = user.id, session.id
    db.session.remove()  # read back from the database, not from the identity map

    stored_user = db.session.get(User, user_id)
    stored = db.session.scalar(select(Session).where(Session.id == session_id))
    for value in (stored_user.created_at, stored.started_at, stored.ends_at):
        assert value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)
    assert stored.started_at == started
    assert stored.started_at.hour == 1  # 03:30+02:00 stored as 01:30 UTC
    assert stored.ends_at == started + timedelta(seconds=1500)
    assert abs(stored_user.created_at - datetime.now(UTC)) < timedelta(minutes=1)


URL_FORMS = ("postgresql+psycopg", "postgresql", "postgres")


def as_form(url: str, form: str) -> str:
    return f"{form}://{url.split('://', 1)[1]}"


def alembic_head() -> str:
    return ScriptDirectory(str(ROOT / "migrations")).get_current_head()


def test_flask_db_upgrade_creates_the_schema_from_each_url_form():
    """Each form a hosting provider may hand out, each on its own fresh database
    (upgraded side by side to keep the run short)."""
    with ExitStack() as stack:
        databases = {form: stack.enter_context(fresh_postgres_database()) for form in URL_FORMS}
        upgrades = {
            form: subprocess.Popen(
                [FLASK, "--app", "wsgi", "db", "upgrade"], cwd=ROOT, text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env={**os.environ, "DATABASE_URL": as_form(url, form), "SECRET_KEY": "migration-test", "REDIS_URL": ""},
            )
            for form, url in databases.items()
        }
        for form, upgrade in upgrades.items():
            _, errors = upgrade.communicate(timeout=60)
            assert upgrade.returncode == 0, f"{form}://: {errors}"

        for form, url in databases.items():
            with psycopg.connect(url) as connection:
                tables = {row[0] for row in connection.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
                version = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
            assert tables >= {"alembic_version", "users", "api_tokens", "cycles", "sessions"}, form
            assert tables >= {"tasks", "webhooks", "webhook_deliveries"}, form
            assert "browser_sessions" in tables, form
            assert version == alembic_head(), form
            assert schema_differences(url) == [], form
