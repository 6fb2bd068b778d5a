"""Each timer action end to end: apply the rules, record the change and what
it says (`announcements`), then schedule or withdraw the completion.

The JSON API, the pages, the socket and the completion jobs all come through
here, so the sequence is written once. Functions take the acting user and
`now`, and raise `rules.Refused` (409) or `NotFound` (404).
"""
from contextlib import contextmanager
from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, func, select, update
from sqlalchemy import event as orm_event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from . import announcements as said
from . import rules
from .database import OPENS_TRANSACTION
from .extensions import db
from .models import Cycle, Session, Task, User, new_id, utcnow
from .schemas import configuration_json, cycle_json, session_json, task_json


class NotFound(Exception):
    """The record does not exist or belongs to someone else."""


def _timers():
    return current_app.extensions["pomodoro.timers"]


CHANGED_MEANWHILE = "The session changed meanwhile; reload it."
ACCOUNT_CHANGED = "Another request changed this account; try again."


# -- reading -----------------------------------------------------------------

def own_record(user: User, model, record_id: str, missing: str, error=NotFound):
    """The user's record of `model` with this id; `error(missing)` when there is
    none, or it is someone else's (the two answer alike: 404)."""
    record = db.session.get(model, record_id)
    if record is None or record.user_id != user.id:
        raise error(missing)
    return record


def _own_cycle(user: User, cycle_id: str) -> Cycle:
    return own_record(user, Cycle, cycle_id, "No such cycle.")


def get_cycle(user: User, cycle_id: str, now: datetime | None = None) -> Cycle:
    """One of the user's cycles as it stands (sessions whose clock ran out completed)."""
    settle(user, now)
    return _own_cycle(user, cycle_id)


def cycles_page(user: User, number: int, per_page: int, now: datetime | None = None,
                with_sessions: bool = False) -> tuple[list[Cycle], int]:
    """Page `number` of the user's cycles as they stand, newest first, and how many there are."""
    settle(user, now)
    mine = select(Cycle).where(Cycle.user_id == user.id)
    total = db.session.scalar(select(func.count()).select_from(mine.subquery()))
    if with_sessions:
        mine = mine.options(selectinload(Cycle.sessions).joinedload(Session.task))
    cycles = db.session.scalars(
        mine.order_by(Cycle.created_at.desc(), Cycle.id.desc()).limit(per_page).offset((number - 1) * per_page)
    ).all()
    return cycles, total


def get_session(user: User, session_id: str, now: datetime | None = None) -> Session:
    current = settle(user, now)
    if current is not None and current.id == session_id:  # most often: the open session, read with the log-in
        return current
    return own_record(user, Session, session_id, "No such session.")


OPEN_SESSION = (  # built once: the statement of every read of a user's open session
    select(Session)
    .where(Session.user_id == bindparam("user_id"), Session.is_open())
    .execution_options(populate_existing=True)
)
# The open session as the log-in read it, beside the user (`auth`), in the
# database session's `info`: the transaction's first `open_session` takes it
# instead of asking again. A commit or a rollback forgets it.
READ_WITH_LOG_IN = "pomodoro.open_session"


def read_with_log_in(user: User, session: Session | None) -> None:
    db.session.info[READ_WITH_LOG_IN] = (user.id, session)


def open_session(user: User) -> Session | None:
    read = db.session.info.pop(READ_WITH_LOG_IN, None)
    if read is not None and read[0] == user.id:
        return read[1]
    return db.session.scalar(OPEN_SESSION, {"user_id": user.id})


@orm_event.listens_for(OrmSession, "after_commit")
@orm_event.listens_for(OrmSession, "after_soft_rollback")
def _forget_what_the_log_in_read(session, *_transaction) -> None:
    session.info.pop(READ_WITH_LOG_IN, None)


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


def read_ahead(session_id: str) -> Session | None:
    """Do ahead of `ends_at` what completing the session can do early (read it
    with its cycle and user, leave the events note), so less of it lies
    between `ends_at` and the notice."""
    session = db.session.get(
        Session, session_id, populate_existing=True,
        options=[joinedload(Session.cycle), joinedload(Session.user)],
        execution_options=OPENS_TRANSACTION,  # its BEGIN now, not at the moment
    )
    if session is not None and session.status == rules.RUNNING:
        said.expect(session.user_id)
    return session


def complete_by_clock(session_id: str, version: int, now: datetime | None = None,
                      ahead: Session | None = None) -> bool:
    """Complete a session whose clock ran out, if it is still the same running
    session (`version`) and its `ends_at` has come. Safe to call any number of
    times, early, or for a session changed since: those calls change nothing.
    `ahead`: what `read_ahead` returned a moment before in this database
    session (a change since is caught by the version check when the
    completion is stored). The caller holds it until now: the identity map
    keeps unchanged records only while something refers to them, and a
    dropped one would be read again, with its user and cycle, after `ends_at`.
    Returns True when this call completed it.
    """
    now = now or utcnow()
    session = ahead if ahead is not None else read_ahead(session_id)
    if session is None or session.version != version or not rules.is_overdue(session, now):
        db.session.rollback()
        return False
    try:
        _finish(session, now, rules.complete)
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


def _finish(session: Session, now: datetime, end) -> None:
    """End `session` with `end` (complete or cancel), advance its cycle and,
    after a completion, start the next session if the user asked for that."""
    user, cycle = session.user, session.cycle
    by_clock = rules.is_overdue(session, now)
    with db.session.no_autoflush:  # a lost race must surface in the commit, as a refusal
        end(session, now)
        counted = count_toward(session.task_id, session) if session.status == rules.COMPLETED else None
        rules.advance_cycle(cycle, session, session.completed_at or now)
        following = None
        if session.status == rules.COMPLETED:
            next_type = rules.auto_start_type(cycle, user)
            if next_type:
                following = _new_session(user, cycle, next_type, session.completed_at, session.position + 1)
    event = said.SESSION_COMPLETED if session.status == rules.COMPLETED else said.SESSION_CANCELLED
    said.announce(user.id, event, {"session": session_json(session),
                                   "next_session": following and session_json(following)})
    _announce_tasks(user, [counted])
    if cycle.status == rules.FINISHED:
        said.announce(user.id, said.CYCLE_FINISHED, {"cycle": cycle_json(cycle)})
    if following is not None:
        said.announce(user.id, said.SESSION_STARTED, {"session": session_json(following)})
    said.commit(CHANGED_MEANWHILE)
    if not by_clock:  # ended by the user: withdraw the pending completion
        _timers().cancel(session.id)
    if following is not None:
        _timers().schedule(following)


# -- user actions ------------------------------------------------------------

EMAIL_TAKEN = "That e-mail is already registered."


def sign_up(email: str, password: str, name: str = "", timezone: str = "UTC") -> User:
    """A new account; `rules.Refused` when the e-mail is taken (also by a
    concurrent sign-up)."""
    if User.by_email(email) is not None:
        raise rules.Refused(EMAIL_TAKEN)
    user = User(email=email, name=name, timezone=timezone)
    user.set_password(password)
    db.session.add(user)
    said.commit(EMAIL_TAKEN)
    return user


def _new_session(user: User, cycle: Cycle, session_type: str, now: datetime, position: int | None = None) -> Session:
    if position is None:
        position = 1 + (db.session.scalar(select(func.max(Session.position)).where(Session.cycle_id == cycle.id)) or 0)
    task_id = None
    if session_type == rules.WORK:  # a focus session counts toward the active task
        task_id = db.session.scalar(select(Task.id).where(Task.user_id == user.id, Task.active))
    # The id is given here, not at the flush, so the session can be announced before the commit.
    session = Session(id=new_id(), user_id=user.id, cycle_id=cycle.id, type=session_type, position=position,
                      task_id=task_id)
    session.cycle = cycle
    rules.start(session, rules.duration_for(user, session_type), now)
    db.session.add(session)
    return session


@contextmanager
def lost_race(refusal: str):
    """A flush before the commit meets concurrent requests' changes as the
    commit does: what the database refuses (a unique index, a stale version)
    rolls back and is refused (409), never a 500."""
    try:
        yield
    except (IntegrityError, StaleDataError):
        db.session.rollback()
        raise rules.Refused(refusal) from None


def _new_cycle(user: User, now: datetime) -> Cycle:
    """A new active cycle, finishing the previous one."""
    previous = active_cycle(user)
    with lost_race("Another request started a cycle meanwhile; try again."):
        if previous is not None:
            rules.finish_cycle(previous, now)
            db.session.flush()  # the previous cycle leaves 'active' before the new one takes its place
            said.announce(user.id, said.CYCLE_FINISHED, {"cycle": cycle_json(previous)})
        cycle = Cycle(user_id=user.id, long_break_interval=user.long_break_interval, created_at=now)
        db.session.add(cycle)
        db.session.flush()
    said.announce(user.id, said.CYCLE_CREATED, {"cycle": cycle_json(cycle)})
    return cycle


def create_cycle(user: User, now: datetime | None = None) -> Cycle:
    now = now or utcnow()
    if settle(user, now) is not None:
        raise rules.Refused("Finish or skip the current session before starting a new cycle.")
    cycle = _new_cycle(user, now)
    said.commit(ACCOUNT_CHANGED)
    return cycle


ACTIVE_TASK = object()  # start_session's task_id when none is named: the active task


def start_session(user: User, cycle_id: str | None = None, session_type: str | None = None,
                  now: datetime | None = None, task_id=ACTIVE_TASK) -> Session:
    """Start a session; a focus session counts toward `task_id` (None: no task),
    by default the active task."""
    now = now or utcnow()
    named = None if task_id in (ACTIVE_TASK, None) else own_task(user, task_id)  # an unknown one is bad input first
    if settle(user, now) is not None:
        raise rules.Refused("A session is already running or paused.")
    if cycle_id is not None:
        cycle = _own_cycle(user, cycle_id)
        if cycle.status != rules.ACTIVE:
            raise rules.Refused("That cycle is finished.")
    else:
        cycle = active_cycle(user) or _new_cycle(user, now)
    session = _new_session(user, cycle, session_type or cycle.next_session_type, now)
    if task_id is not ACTIVE_TASK and session.type == rules.WORK:
        session.task_id = named and named.id
    said.announce(user.id, said.SESSION_STARTED, {"session": session_json(session)})
    said.commit("A session is already running or paused.")
    _timers().schedule(session)
    return session


def _change(user: User, session_id: str, change, now: datetime | None) -> Session:
    """Apply a pause, resume, completion or skip chosen by the user."""
    now = now or utcnow()
    session = get_session(user, session_id, now)
    if change in (rules.complete, rules.cancel):
        _finish(session, now, change)
        return session
    change(session, now)
    event = said.SESSION_RESUMED if session.status == rules.RUNNING else said.SESSION_PAUSED
    said.announce(user.id, event, {"session": session_json(session)})
    said.commit(CHANGED_MEANWHILE)
    if session.status == rules.RUNNING:
        _timers().schedule(session)
    else:
        _timers().cancel(session.id)
    return session


def pause_session(user, session_id, now=None):
    return _change(user, session_id, rules.pause, now)


def resume_session(user, session_id, now=None):
    return _change(user, session_id, rules.resume, now)


def set_session_status(user, session_id, status, now=None):
    return _change(user, session_id, rules.TRANSITIONS[status], now)


def update_configuration(user: User, changes: dict) -> User:
    for field, value in changes.items():
        setattr(user, field, value)
    said.announce(user.id, said.CONFIGURATION_UPDATED, {"configuration": configuration_json(user)})
    said.commit(ACCOUNT_CHANGED)
    return user


# -- tasks: the task and note of a session, extending it, interruptions -------------

class TaskNotFound(NotFound):
    """The task named does not exist or belongs to someone else."""


def own_task(user: User, task_id: str) -> Task:
    return own_record(user, Task, task_id, "No such task.", TaskNotFound)


def count_toward(task_id: str | None, session: Session, sign: int = 1) -> Task | None:
    """Add a completed focus session to its task's counts (`sign` -1: take it
    away), in the database itself so concurrent completions all count; the
    task as the update left it (None if no task counted it)."""
    if task_id is None or session.type != rules.WORK:
        return None
    ran = session.duration_seconds - session.remaining_seconds
    return db.session.scalar(
        update(Task).where(Task.id == task_id)
        .values(completed_pomodoros=Task.completed_pomodoros + sign, focused_seconds=Task.focused_seconds + sign * ran)
        .returning(Task).execution_options(populate_existing=True)
    )


def _announce_tasks(user: User, tasks) -> None:
    """`task.updated` for each task whose counts moved."""
    for task in tasks:
        if task is not None:
            said.announce(user.id, said.TASK_UPDATED, {"task": task_json(task)})


def _session_changed(user: User, session: Session, event: str) -> Session:
    """Announce and store a change to `session`. Any change bumps its version,
    so a running one gets its completion again, for the new version."""
    said.announce(user.id, event, {"session": session_json(session)})
    said.commit(CHANGED_MEANWHILE)
    if session.status == rules.RUNNING:
        _timers().schedule(session)
    return session


def update_session(user: User, session_id: str, changes: dict, now: datetime | None = None) -> Session:
    """Change the task a session counts toward, or its note (at any status: a
    note is often written after the end)."""
    session = get_session(user, session_id, now)
    if "task_id" in changes:
        task_id = None if changes["task_id"] is None else own_task(user, changes["task_id"]).id
        if task_id != session.task_id and session.status == rules.COMPLETED:  # its count moves too
            _announce_tasks(user, [count_toward(session.task_id, session, -1), count_toward(task_id, session)])
        session.task_id = task_id
    if "note" in changes:
        session.note = changes["note"] or None
    return _session_changed(user, session, said.SESSION_UPDATED)


def extend_session(user: User, session_id: str, seconds: int, now: datetime | None = None) -> Session:
    """Give a running or paused session more time; a running one completes later."""
    now = now or utcnow()
    session = get_session(user, session_id, now)
    rules.extend(session, seconds, now)
    return _session_changed(user, session, said.SESSION_EXTENDED)


def log_interruption(user: User, session_id: str, kind: str, now: datetime | None = None) -> Session:
    """Count an interruption (`internal` or `external`) of a running or paused focus session."""
    now = now or utcnow()
    session = get_session(user, session_id, now)
    if session.type != rules.WORK or session.status not in rules.OPEN_STATUSES:
        raise rules.Refused("Interruptions are logged during a running or paused focus session.")
    if kind == "internal":
        session.interruptions_internal += 1
    else:
        session.interruptions_external += 1
    return _session_changed(user, session, said.SESSION_UPDATED)
