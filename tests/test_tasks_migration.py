"""The tasks migration upgrades a database in use: the users, cycles and
sessions made under the first migration are all there afterwards, with no
task, no note and no interruptions, and the downgrade gives them back as they were."""
from datetime import UTC, datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from pomodoro import create_app
from pomodoro.extensions import db

from .conftest import config, fresh_postgres_database

FIRST, TASKS = "966ffe982391", "a1b2c3d4e5f6"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC).replace(tzinfo=None)


@pytest.fixture(params=["sqlite", "postgresql"])
def first_migration_app(request, tmp_path):
    """An app on a database made by the first migration only, with a user, a cycle and two sessions."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        yield _filled(url)
    else:
        with fresh_postgres_database() as url:
            app = _filled(url)
            yield app
            with app.app_context():
                db.engine.dispose()


def _filled(url: str):
    app = create_app(config(url))
    with app.app_context():
        upgrade(revision=FIRST)
        with db.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO users (id, email, name, password_hash, created_at, work_seconds, short_break_seconds,"
                " long_break_seconds, long_break_interval, auto_start_breaks, auto_start_work, timezone)"
                " VALUES ('u1', 'old@example.org', 'Old', 'x', :now, 1500, 300, 900, 4, true, false, 'UTC')"), {"now": NOW})
            connection.execute(text(
                "INSERT INTO cycles (id, user_id, status, completed_work_sessions, long_break_interval,"
                " next_session_type, created_at) VALUES ('c1', 'u1', 'active', 1, 4, 'short_break', :now)"), {"now": NOW})
            for session_id, status, position in (("s1", "completed", 1), ("s2", "running", 2)):
                connection.execute(text(
                    "INSERT INTO sessions (id, user_id, cycle_id, type, status, position, duration_seconds,"
                    " remaining_seconds, started_at, ends_at, version)"
                    " VALUES (:id, 'u1', 'c1', 'work', :status, :position, 1500, 0, :now, :now, 3)"),
                    {"id": session_id, "status": status, "position": position, "now": NOW})
        db.engine.dispose()
    return app


def _sessions():
    return db.session.execute(text(
        "SELECT id, status, version FROM sessions ORDER BY id")).all()


def test_upgrade_keeps_sessions_with_no_task_note_or_interruptions(first_migration_app):
    with first_migration_app.app_context():
        upgrade(revision=TASKS)
        rows = db.session.execute(text(
            "SELECT id, status, version, task_id, note, interruptions_internal, interruptions_external"
            " FROM sessions ORDER BY id")).all()
        assert [tuple(row) for row in rows] == [("s1", "completed", 3, None, None, 0, 0),
                                                ("s2", "running", 3, None, None, 0, 0)]
        assert db.session.execute(text("SELECT email FROM users")).scalar() == "old@example.org"
        assert db.session.execute(text("SELECT completed_work_sessions FROM cycles")).scalar() == 1
        # the one-open-session rule survived SQLite's table copy
        with pytest.raises(Exception, match="(?i)unique"):
            db.session.execute(text(
                "INSERT INTO sessions (id, user_id, cycle_id, type, status, position, duration_seconds,"
                " remaining_seconds, started_at, ends_at, version)"
                " VALUES ('s3', 'u1', 'c1', 'work', 'paused', 3, 1500, 0, :now, :now, 1)"), {"now": NOW})
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()


def test_downgrade_gives_the_sessions_back(first_migration_app):
    with first_migration_app.app_context():
        upgrade(revision=TASKS)
        db.session.execute(text(
            "INSERT INTO tasks (id, user_id, title, notes, tags, estimated_pomodoros, completed_pomodoros,"
            " focused_seconds, done, active, position, created_at, updated_at)"
            " VALUES ('t1', 'u1', 'Write', '', '[]', 2, 1, 1500, false, true, 1, :now, :now)"),
            {"now": NOW})
        db.session.execute(text("UPDATE sessions SET task_id = 't1', note = 'done' WHERE id = 's1'"))
        db.session.commit()
        downgrade(revision=FIRST)
        assert [tuple(row) for row in _sessions()] == [("s1", "completed", 3), ("s2", "running", 3)]
        db.session.remove()
        db.engine.dispose()
