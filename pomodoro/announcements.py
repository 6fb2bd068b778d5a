"""What a change says, and when it says it: the catalogue of event names, and
the unit of work every action ends with.

An action changes rows, `announce`s what happened, and `commit`s. The
announcements wait in the database session until its commit and are then
published to the user's sockets through the events adapter; a rollback drops
them, so nothing is said of a change that was not stored.

A commit and the publishing after it cannot be one step: a process can die in
between. So before the commit the events adapter is told that a user's events
are coming (`expect`), and the note is cleared when they go out; a completion
timer leaves that note ahead of its moment (`expect` from `actions.read_ahead`)
so that less lies between `ends_at` and the notice.

Features join the unit of work through three hooks: `when_expected`
functions run when a user's change is first expected in a transaction (ahead
of a completion's moment, or just before the commit), to read what the commit
will need while there is time; `before_commit` functions run inside the
transaction (a webhook delivery is stored with the change that caused it);
`after_commit` functions run once it is stored.
"""
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from flask import current_app
from sqlalchemy import event as orm_event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm.exc import StaleDataError

from . import rules
from .extensions import db
from .models import utcnow

SESSION_STARTED = "session.started"
SESSION_PAUSED = "session.paused"
SESSION_RESUMED = "session.resumed"
SESSION_COMPLETED = "session.completed"
SESSION_CANCELLED = "session.cancelled"
SESSION_EXTENDED = "session.extended"
SESSION_UPDATED = "session.updated"
CYCLE_CREATED = "cycle.created"
CYCLE_FINISHED = "cycle.finished"
CONFIGURATION_UPDATED = "configuration.updated"
TASK_CREATED = "task.created"
TASK_UPDATED = "task.updated"
TASK_DELETED = "task.deleted"
HELLO = "hello"  # sent by a socket itself on connect: never announced
WEBHOOK_TEST = "webhook.test"  # sent to one webhook on request: never to sockets

USER_EVENTS = (
    SESSION_STARTED, SESSION_PAUSED, SESSION_RESUMED, SESSION_COMPLETED, SESSION_CANCELLED,
    SESSION_EXTENDED, SESSION_UPDATED, CYCLE_CREATED, CYCLE_FINISHED, CONFIGURATION_UPDATED,
    TASK_CREATED, TASK_UPDATED, TASK_DELETED,
)


class Announcement(NamedTuple):
    user_id: str
    event: str
    data: dict
    at: datetime


Hook = Callable[[list[Announcement]], None]
_expected: list[Callable[[str], None]] = []
_before: list[Hook] = []
_after: list[Hook] = []


def when_expected(hook: Callable[[str], None]) -> Callable[[str], None]:
    """Run `hook(user_id)` when a change of that user is first expected in a transaction."""
    _expected.append(hook)
    return hook


def before_commit(hook: Hook) -> Hook:
    """Run `hook(announced)` inside each transaction, just before it commits."""
    _before.append(hook)
    return hook


def after_commit(hook: Hook) -> Hook:
    """Run `hook(announced)` after each commit, once its events are published."""
    _after.append(hook)
    return hook


def _events():
    return current_app.extensions["pomodoro.events"]


ANNOUNCED, NOTES = "pomodoro.announced", "pomodoro.notes"  # kept in the database session's `info`


def expect(user_id: str) -> None:
    """Tell the events adapter, and the `when_expected` hooks, now that events of this user are coming."""
    notes = db.session.info.setdefault(NOTES, {})
    if user_id not in notes:
        notes[user_id] = _events().expect(user_id)
        for hook in _expected:
            hook(user_id)


def announce(user_id: str, event: str, data: dict) -> None:
    """Say `event` to the user's sockets once the current transaction commits."""
    db.session.info.setdefault(ANNOUNCED, []).append(Announcement(user_id, event, data, utcnow()))


def commit(refusal: str) -> list[Announcement]:
    """Commit, then publish what was announced. A lost race (another request
    changed the same rows) rolls back and raises `rules.Refused(refusal)`.
    Returns the announcements that went out."""
    announced = db.session.info.pop(ANNOUNCED, [])
    try:
        for user_id in dict.fromkeys(one.user_id for one in announced):
            expect(user_id)
        for hook in _before:
            hook(announced)
        db.session.commit()
    except Exception as error:
        db.session.rollback()  # which withdraws the notes (`_forget`)
        _withdraw(db.session.info.pop(NOTES, {}))
        if isinstance(error, (IntegrityError, StaleDataError)):
            raise rules.Refused(refusal) from None
        raise
    notes = db.session.info.pop(NOTES, {})
    for user_id, note in notes.items():
        _events().publish(user_id, [(one.event, one.data) for one in announced if one.user_id == user_id], note)
    for hook in _after:
        hook(announced)
    return announced


def _withdraw(notes: dict) -> None:
    for note in notes.values():
        _events().withdraw(note)


@orm_event.listens_for(OrmSession, "after_soft_rollback")
def _forget(session, _previous_transaction) -> None:
    """A rollback: nothing announced is said, and the notes left are withdrawn."""
    session.info.pop(ANNOUNCED, None)
    if notes := session.info.pop(NOTES, None):
        _withdraw(notes)
