"""The day's plan: from the pomodoros the open tasks still need (added up by
`tasks.open_work`), how much focus that is, and when it will all be done with
the breaks between.

Free of I/O like `rules`: functions of their arguments and `now`. The cycle
is walked with `rules.advance_cycle` itself, so the breaks fall where the
timer will really put them (short, or long by their place in the cycle).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

from . import rules


@dataclass(frozen=True)
class Plan:
    pomodoros_left: int
    focus_seconds_left: float
    finish_at: datetime | None  # None when nothing is left to do


def plan(left: int, settings, cycle, current, current_counts: bool, now: datetime) -> Plan:
    """The plan for `left` pomodoros, starting `now`.

    `settings` holds the durations and `long_break_interval`; `cycle` is the
    active cycle (None: a new one starts); `current` the running or paused
    session (None if none), taken as running from now on with what it has
    left; `current_counts` says whether it is a focus session counting toward
    one of the pomodoros left (its remainder then is the first of them). The
    breaks are those the cycle puts before and between the pomodoros; none
    is counted after the last one.
    """
    state, at, focus, to_go = _walker(cycle, settings), now, 0.0, left
    if current is not None:
        remainder = rules.remaining_at(current, now)
        at += timedelta(seconds=remainder)
        if current.type == rules.WORK and current_counts and to_go > 0:
            focus += remainder
            to_go -= 1
        state = _after(state, current.type, settings)
    if left == 0:
        return Plan(0, 0.0, None)
    while to_go > 0:
        if _fresh(state) and to_go > state.long_break_interval:
            # Whole cycles at once (each followed by more work): 99 x 500 pomodoros stay quick.
            interval = state.long_break_interval
            # (a cycle made before the interval setting changed keeps its own: it goes alone)
            cycles = (to_go - 1) // interval if interval == settings.long_break_interval else 1
            at += timedelta(seconds=cycles * _whole_cycle_seconds(settings, interval))
            focus += cycles * interval * settings.work_seconds
            to_go -= cycles * interval
            state = _new_cycle(settings)
            continue
        session_type = state.next_session_type
        seconds = rules.duration_for(settings, session_type)
        at += timedelta(seconds=seconds)
        if session_type == rules.WORK:
            focus += seconds
            to_go -= 1
        state = _after(state, session_type, settings)
    return Plan(left, focus, at)


def _walker(cycle, settings):
    """A copy of the cycle to walk ahead on (a new one when none is active)."""
    if cycle is None or cycle.status != rules.ACTIVE:
        return _new_cycle(settings)
    return SimpleNamespace(status=cycle.status, completed_work_sessions=cycle.completed_work_sessions,
                           long_break_interval=cycle.long_break_interval, next_session_type=cycle.next_session_type,
                           finished_at=None)


def _new_cycle(settings):
    return SimpleNamespace(status=rules.ACTIVE, completed_work_sessions=0,
                           long_break_interval=settings.long_break_interval, next_session_type=rules.WORK,
                           finished_at=None)


def _fresh(state) -> bool:
    return state.completed_work_sessions == 0 and state.next_session_type == rules.WORK


def _whole_cycle_seconds(settings, interval: int) -> int:
    """A cycle from its first pomodoro to the end of its long break."""
    return (interval * settings.work_seconds + (interval - 1) * settings.short_break_seconds
            + settings.long_break_seconds)


def _after(state, session_type: str, settings):
    """The cycle once a session of `session_type` has run to its end."""
    rules.advance_cycle(state, SimpleNamespace(type=session_type, status=rules.COMPLETED), None)
    return state if state.status == rules.ACTIVE else _new_cycle(settings)
