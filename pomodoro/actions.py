"""Each user action end to end: apply the rules, commit, then schedule or
withdraw the completion and publish the events.

The JSON API, the pages, the socket and the completion jobs all come through
here, so the sequence is written once. Functions take the acting user and
`now`, and raise `rules.Refused` (409) or `NotFound` (404).
"""
from contextlib import contextmanager
from datetime import datetime
from typing import NamedTuple

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from . import rules
from .extensions import db
from .models import Cycle, Session, User, utcnow
from .schemas import configuration_json, cycle_json, session_json


class NotFound(Exception):
    """The record does not exist or belongs to someone else."""


def _timers():
    return current_app.extensions["pomodoro.timers"]


def _events():
    return current_app.extensions["pomodoro.events"]


def _announce(user_id: str, announcements: list, pending) -> None:
    _events().publish(user_id, announcements, pending)


def _commit(user_id: str, refusal: str, pending=None):
    """Commit, turning a lost race (another request changed the same rows) into a refusal.

    The events adapter hears first that this user's events are coming (unless
    it heard already: `pending`), so that if this process dies before
    `_announce`, the user's sockets are brought up to date all the same.
    Returns what `_announce` needs to say they went out.
    """
    pending = pending if pending is not None else _events().expect(user_id)
    with lost_race(refusal, withdraw=pending):
        db.session.commit()
    return pending


@contextmanager
def lost_race(refusal: str, withdraw=None):
    """Turn what a concurrent request's change makes the database refuse (a
    unique index, a stale version), at a flush or at the commit, into a
    refusal (409), rolling back (and withdrawing the events note `withdraw`)."""
    try:
        yield
    except (IntegrityError, StaleDataError):
        db.session.rollback()
        _events().withdraw(withdraw)
        raise rules.Refused(refusal) from None


# -- reading -----------------------------------------------------------------

def get_cycle(user: User, cycle_id: str) -> Cycle:
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None or cycle.user_id != user.id:
        raise NotFound("No such cycle.")
    return cycle


def get_session(user: User, session_id: str, now: datetime | None = None) -> Session:
    settle(user, now)
    session = db.session.get(Session, session_id)
    if session is None or session.user_id != user.id:
        raise NotFound("No such session.")
    return session


def open_session(user: User) -> Session | None:
    return db.session.scalar(
        select(Session)
        .where(Session.user_id == user.id, Session.status.in_(rules.OPEN_STATUSES))
        .execution_options(populate_existing=True)
    )


def active_cycle(user: User) -> Cycle | None:
    return db.session.scalar(select(Cycle).where(Cycle.user_id == user.id, Cycle.status == rules.ACTIVE))


def current_session(user: User, now: datetime | None = None) -> Session | None:
    """The user's running or paused session, after completing it if its time is up."""
    return settle(user, now)


# -- completing --------------------------------------------------------------

def settle(user: User, now: datetime | None = None) -> Session | None:
    """Complete the user's sessions whose clock has run out (the backstop for a
    missed job) and return the open session that remains, if any."""
    now = now or utcnow()
    session = open_session(user)
    while session is not None and rules.is_overdue(session, now):
        complete_by_clock(session.id, session.version, now)
        session = open_session(user)
    return session


class ReadAhead(NamedTuple):
    """A completion made ready before its moment: the session with its cycle
    and user, and the events note that goes before the commit."""
    session: Session | None
    pending: object = None


def read_ahead(session_id: str) -> ReadAhead:
    """Do ahead of `ends_at` what completing the session can do early, so less
    of it lies between `ends_at` and the notice."""
    session = db.session.get(
        Session, session_id, populate_existing=True,
        options=[joinedload(Session.cycle), joinedload(Session.user)],
    )
    if session is None or session.status != rules.RUNNING:
        return ReadAhead(session)
    return ReadAhead(session, _events().expect(session.user_id))


def complete_by_clock(session_id: str, version: int, now: datetime | None = None,
                      ahead: ReadAhead | None = None) -> bool:
    """Complete a session whose clock ran out, if it is still the same running
    session (`version`) and its `ends_at` has come. Safe to call any number of
    times, early, or for a session changed since: those calls change nothing.
    `ahead` is what `read_ahead` made ready a moment before, if the caller
    read ahead (a change since is caught by the version check when the
    completion is stored). Returns True when this call completed it.
    """
    now = now or utcnow()
    ahead = ahead or read_ahead(session_id)
    session = ahead.session
    if session is None or session.version != version or not rules.is_overdue(session, now):
        db.session.rollback()
        _events().withdraw(ahead.pending)
        return False
    try:
        _finish(session, now, rules.complete, ahead.pending)
    except rules.Refused:  # another process changed the session first
        return False
    return True


def running_sessions(until: datetime | None = None) -> list:
    """The (id, version, ends_at) rows of the running sessions (only those
    ending by `until`, if given): what the reconcilers look over."""
    query = select(Session.id, Session.version, Session.ends_at).where(Session.status == rules.RUNNING)
    if until is not None:
        query = query.where(Session.ends_at <= until)
    running = db.session.execute(query).all()
    db.session.rollback()
    return running


def _finish(session: Session, now: datetime, end, pending=None) -> None:
    """End `session` with `end` (complete or cancel), advance its cycle and,
    after a completion, start the next session if the user asked for that.
    Commits (after the events note `pending`, if one was left already) and announces."""
    user, cycle = session.user, session.cycle
    by_clock = rules.is_overdue(session, now)
    with db.session.no_autoflush:  # a lost race must surface in _commit, as a refusal
        end(session, now)
        rules.advance_cycle(cycle, session, session.completed_at or now)
        following = None
        if session.status == rules.COMPLETED:
            next_type = rules.auto_start_type(cycle, user)
            if next_type:
                following = _new_session(user, cycle, next_type, session.completed_at, session.position + 1)
    pending = _commit(user.id, "The session changed meanwhile; reload it.", pending)
    if not by_clock:  # ended by the user: withdraw the pending completion
        _timers().cancel(session.id)
    event = "session.completed" if session.status == rules.COMPLETED else "session.cancelled"
    announcements = [(event, {"session": session_json(session),
                              "next_session": following and session_json(following)})]
    if cycle.status == rules.FINISHED:
        announcements.append(("cycle.finished", {"cycle": cycle_json(cycle)}))
    if following is not None:
        _timers().schedule(following)
        announcements.append(("session.started", {"session": session_json(following)}))
    _announce(user.id, announcements, pending)


# -- user actions ------------------------------------------------------------

def _new_session(user: User, cycle: Cycle, session_type: str, now: datetime, position: int | None = None) -> Session:
    if position is None:
        position = 1 + (db.session.scalar(select(func.max(Session.position)).where(Session.cycle_id == cycle.id)) or 0)
    session = Session(user_id=user.id, cycle_id=cycle.id, type=session_type, position=position)
    session.cycle = cycle
    rules.start(session, rules.duration_for(user, session_type), now)
    db.session.add(session)
    return session


def _new_cycle(user: User, now: datetime) -> tuple[Cycle, list]:
    """A new active cycle, finishing the previous one; with its announcements."""
    announcements = []
    previous = active_cycle(user)
    with lost_race("Another request started a cycle meanwhile; try again."):
        if previous is not None:
            rules.finish_cycle(previous, now)
            db.session.flush()  # the previous cycle leaves 'active' before the new one takes its place
            announcements.append(("cycle.finished", {"cycle": cycle_json(previous)}))
        cycle = Cycle(user_id=user.id, long_break_interval=user.long_break_interval, created_at=now)
        db.session.add(cycle)
        db.session.flush()
    announcements.append(("cycle.created", {"cycle": cycle_json(cycle)}))
    return cycle, announcements


def create_cycle(user: User, now: datetime | None = None) -> Cycle:
    now = now or utcnow()
    if settle(user, now) is not None:
        raise rules.Refused("Finish or skip the current session before starting a new cycle.")
    cycle, announcements = _new_cycle(user, now)
    pending = _commit(user.id, "Another request changed this account; try again.")
    _announce(user.id, announcements, pending)
    return cycle


def start_session(user: User, cycle_id: str | None = None, session_type: str | None = None,
                  now: datetime | None = None) -> Session:
    now = now or utcnow()
    if settle(user, now) is not None:
        raise rules.Refused("A session is already running or paused.")
    announcements = []
    if cycle_id is not None:
        cycle = get_cycle(user, cycle_id)
        if cycle.status != rules.ACTIVE:
            raise rules.Refused("That cycle is finished.")
    else:
        cycle = active_cycle(user)
        if cycle is None:
            cycle, announcements = _new_cycle(user, now)
    session = _new_session(user, cycle, session_type or cycle.next_session_type, now)
    pending = _commit(user.id, "A session is already running or paused.")
    _timers().schedule(session)
    announcements.append(("session.started", {"session": session_json(session)}))
    _announce(user.id, announcements, pending)
    return session


def _change(user: User, session_id: str, change, now: datetime | None) -> Session:
    """Apply a pause, resume, completion or skip chosen by the user."""
    now = now or utcnow()
    session = get_session(user, session_id, now)
    if change in (rules.complete, rules.cancel):
        _finish(session, now, change)
        return session
    change(session, now)
    pending = _commit(user.id, "The session changed meanwhile; reload it.")
    if session.status == rules.RUNNING:
        _timers().schedule(session)
    else:
        _timers().cancel(session.id)
    event = "session.resumed" if session.status == rules.RUNNING else "session.paused"
    _announce(user.id, [(event, {"session": session_json(session)})], pending)
    return session


def pause_session(user, session_id, now=None):
    return _change(user, session_id, rules.pause, now)


def resume_session(user, session_id, now=None):
    return _change(user, session_id, rules.resume, now)


def set_session_status(user, session_id, status, now=None):
    changes = {rules.PAUSED: rules.pause, rules.RUNNING: rules.resume,
               rules.COMPLETED: rules.complete, rules.CANCELLED: rules.cancel}
    return _change(user, session_id, changes[status], now)


def update_configuration(user: User, changes: dict) -> User:
    for field, value in changes.items():
        setattr(user, field, value)
    pending = _commit(user.id, "Another request changed this account; try again.")
    _announce(user.id, [("configuration.updated", {"configuration": configuration_json(user)})], pending)
    return user
