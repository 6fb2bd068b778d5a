"""The session state machine and cycle planning.

Everything here is a function of its arguments and `now`: nothing reads the
clock, touches the database, schedules a job or publishes an event. The
functions change the objects they are given (models or any object with the
same attributes) and raise `Refused` for a transition the rules forbid.
"""
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import NamedTuple

WORK, SHORT_BREAK, LONG_BREAK = "work", "short_break", "long_break"
SESSION_TYPES = (WORK, SHORT_BREAK, LONG_BREAK)
RUNNING, PAUSED, COMPLETED, CANCELLED = "running", "paused", "completed", "cancelled"
SESSION_STATUSES = (RUNNING, PAUSED, COMPLETED, CANCELLED)
OPEN_STATUSES = (RUNNING, PAUSED)
ACTIVE, FINISHED = "active", "finished"
CYCLE_STATUSES = (ACTIVE, FINISHED)

DURATION_FIELD = {
    WORK: "work_seconds",
    SHORT_BREAK: "short_break_seconds",
    LONG_BREAK: "long_break_seconds",
}


class Refused(Exception):
    """A transition the rules do not allow (answered with 409)."""


def _require(session, allowed, action):
    if session.status not in allowed:
        raise Refused(f"A {session.status} session cannot be {action}.")


def remaining_at(session, now: datetime) -> float:
    """Seconds left on the session's clock at `now`, never below zero."""
    if session.status == RUNNING:
        return max(0.0, (session.ends_at - now).total_seconds())
    return session.remaining_seconds


def is_overdue(session, now: datetime) -> bool:
    """True when a running session's clock has run out by `now`."""
    return session.status == RUNNING and now >= session.ends_at


def start(session, duration_seconds: int, now: datetime) -> None:
    session.status = RUNNING
    session.duration_seconds = duration_seconds
    session.remaining_seconds = float(duration_seconds)
    session.started_at = now
    session.ends_at = now + timedelta(seconds=duration_seconds)
    session.paused_at = None


def pause(session, now: datetime) -> None:
    _require(session, (RUNNING,), "paused")
    if is_overdue(session, now):
        raise Refused("The session has already run out.")
    session.remaining_seconds = remaining_at(session, now)
    session.status = PAUSED
    session.ends_at = None
    session.paused_at = now


def resume(session, now: datetime) -> None:
    _require(session, (PAUSED,), "resumed")
    session.status = RUNNING
    session.ends_at = now + timedelta(seconds=session.remaining_seconds)
    session.paused_at = None


def complete(session, now: datetime) -> None:
    """End the session as done: by its clock, or finished early by the user.

    A session whose clock ran out ends at its `ends_at`, however late the
    completion is noticed, so the record says when it really ended.
    """
    _require(session, OPEN_STATUSES, "completed")
    if is_overdue(session, now):
        ended = session.ends_at
    else:
        ended = now
    session.remaining_seconds = remaining_at(session, ended)
    session.status = COMPLETED
    session.completed_at = ended
    session.ends_at = ended
    session.paused_at = None


def cancel(session, now: datetime) -> None:
    """Skip the session: it ends without counting."""
    _require(session, OPEN_STATUSES, "cancelled")
    if is_overdue(session, now):
        raise Refused("The session has already run out.")
    session.remaining_seconds = remaining_at(session, now)
    session.status = CANCELLED
    session.cancelled_at = now
    session.ends_at = None
    session.paused_at = None


# The transition that leads to each status (PATCH .../status, the page's buttons).
TRANSITIONS = {PAUSED: pause, RUNNING: resume, COMPLETED: complete, CANCELLED: cancel}


def advance_cycle(cycle, session, now: datetime) -> None:
    """Move the cycle on after `session` ended (completed or cancelled).

    A completed work session counts towards the long break; a skipped one does
    not, and work stays next. A short break leads back to work, unless the long
    break is owed (someone took a short break in its place); the long break,
    however it ends, closes the cycle.
    """
    if session.type == WORK:
        if session.status == COMPLETED:
            cycle.completed_work_sessions += 1
        if cycle.completed_work_sessions >= cycle.long_break_interval:
            cycle.next_session_type = LONG_BREAK
        elif session.status == COMPLETED:
            cycle.next_session_type = SHORT_BREAK
        else:
            cycle.next_session_type = WORK
    elif session.type == SHORT_BREAK:
        owed = cycle.completed_work_sessions >= cycle.long_break_interval
        cycle.next_session_type = LONG_BREAK if owed else WORK
    else:
        finish_cycle(cycle, now)


def finish_cycle(cycle, now: datetime) -> None:
    cycle.status = FINISHED
    cycle.finished_at = now


def auto_start_type(cycle, settings) -> str | None:
    """The type to start at once after a completion, or None to wait."""
    if cycle.status != ACTIVE:
        return None
    wanted = settings.auto_start_work if cycle.next_session_type == WORK else settings.auto_start_breaks
    return cycle.next_session_type if wanted else None


def duration_for(settings, session_type: str) -> int:
    return getattr(settings, DURATION_FIELD[session_type])


MAX_SESSION_SECONDS = 86400  # a session, extensions included, lasts at most a day


def extend(session, seconds: int, now: datetime) -> None:
    """Give a running or paused session `seconds` more: its duration and what
    is left grow, and a running one ends that much later."""
    _require(session, OPEN_STATUSES, "extended")
    if is_overdue(session, now):
        raise Refused("The session has already run out.")
    if session.duration_seconds + seconds > MAX_SESSION_SECONDS:
        raise Refused("A session can last at most a day, extensions included.")
    session.duration_seconds += seconds
    session.remaining_seconds += seconds
    if session.status == RUNNING:
        session.ends_at += timedelta(seconds=seconds)


# -- the cycle ahead, as the timer page shows it --------------------------------

class Following(NamedTuple):
    type: str
    seconds: int
    auto: bool  # starts by itself


def following(cycle, session, settings) -> Following:
    """What follows `session` once it completes, by the cycle rules themselves
    (after the long break, a new cycle starts with work)."""
    preview = SimpleNamespace(status=ACTIVE, completed_work_sessions=cycle.completed_work_sessions,
                              long_break_interval=cycle.long_break_interval,
                              next_session_type=cycle.next_session_type)
    advance_cycle(preview, SimpleNamespace(type=session.type, status=COMPLETED), session.started_at)
    if preview.status != ACTIVE:
        preview.next_session_type = WORK
        preview.status = ACTIVE
    return Following(preview.next_session_type, duration_for(settings, preview.next_session_type),
                     auto_start_type(preview, settings) is not None)


def cycle_plan(cycle, session, settings) -> list[dict]:
    """The cycle laid out: each focus and the break after it, as {type, number,
    state}, the state "done", "current" (the open session), "next" or "upcoming".
    With no cycle yet, the one a start would make from `settings`."""
    interval = cycle.long_break_interval if cycle else settings.long_break_interval
    done_work = min(cycle.completed_work_sessions, interval) if cycle else 0
    at_type = session.type if session else (cycle.next_session_type if cycle else WORK)
    if at_type == WORK:
        at = 2 * min(done_work, interval - 1)
    elif at_type == SHORT_BREAK:
        at = 2 * max(done_work - 1, 0) + 1
    else:
        at = 2 * interval - 1
    steps = []
    for number in range(1, interval + 1):
        steps.append({"type": WORK, "number": number})
        steps.append({"type": LONG_BREAK if number == interval else SHORT_BREAK, "number": number})
    for index, step in enumerate(steps):
        if index < at:
            step["state"] = "done"
        elif index == at:
            step["state"] = "current" if session else "next"
        else:
            step["state"] = "upcoming"
    return steps
