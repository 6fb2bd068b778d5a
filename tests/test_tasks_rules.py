"""The day's plan and extending a session, on plain objects (no app, no database).

The plan is checked against a slow, obvious model: the rest of the day
written out second by second, one letter a second.
"""
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pomodoro import planning, rules

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def user(**overrides):
    values = dict(work_seconds=1500, short_break_seconds=300, long_break_seconds=900, long_break_interval=4)
    return SimpleNamespace(**{**values, **overrides})


def cycle(completed=0, interval=4, next_type=rules.WORK):
    return SimpleNamespace(status=rules.ACTIVE, completed_work_sessions=completed, long_break_interval=interval,
                           next_session_type=next_type, finished_at=None)


def session(type=rules.WORK, duration=1500, now=T0):
    record = SimpleNamespace(type=type, status=None, duration_seconds=None, remaining_seconds=None,
                             started_at=None, ends_at=None, paused_at=None, completed_at=None, cancelled_at=None)
    rules.start(record, duration, now)
    return record


# -- examples ---------------------------------------------------------------------

def test_four_pomodoros_from_a_new_cycle_have_three_short_breaks_between_them():
    plan = planning.plan(4, user(), None, None, False, T0)
    assert plan.pomodoros_left == 4
    assert plan.focus_seconds_left == 4 * 1500
    assert plan.finish_at == T0 + timedelta(seconds=4 * 1500 + 3 * 300)


def test_the_long_break_falls_after_the_cycles_last_pomodoro():
    plan = planning.plan(3, user(), cycle(completed=3), None, False, T0)
    # work (4th of the cycle), long break, work, short break, work
    assert plan.finish_at == T0 + timedelta(seconds=3 * 1500 + 900 + 300)


def test_a_running_focus_session_counts_as_the_first_pomodoro_with_what_it_has_left():
    current = session(rules.WORK, 1500)
    now = T0 + timedelta(seconds=600)
    plan = planning.plan(2, user(), cycle(), current, True, now)
    assert plan.focus_seconds_left == 900 + 1500
    assert plan.finish_at == T0 + timedelta(seconds=1500 + 300 + 1500)


def test_a_running_break_comes_before_the_pomodoros():
    current = session(rules.SHORT_BREAK, 300)
    plan = planning.plan(1, user(), cycle(completed=1, next_type=rules.SHORT_BREAK), current, False, T0)
    assert plan.focus_seconds_left == 1500
    assert plan.finish_at == T0 + timedelta(seconds=300 + 1500)


def test_nothing_left_means_no_finish_time():
    assert planning.plan(0, user(), None, session(), False, T0) == planning.Plan(0, 0.0, None)


# -- against the slow, obvious model ------------------------------------------------

def written_out(left, settings, cycle_state, current_type, current_left, current_counts):
    """The rest of the day, a letter a second: F for a pomodoro toward the plan,
    - for anything else. Breaks follow the cycle as a person would tell it:
    after each pomodoro a short break, but a long one after the cycle's last;
    a long break starts a new cycle."""
    done, interval, upcoming = cycle_state
    day = []

    def run(kind, seconds, counts):
        nonlocal done, interval, upcoming
        day.extend(("F" if counts else "-") * seconds)
        if kind == rules.WORK:
            done += 1
            upcoming = rules.LONG_BREAK if done >= interval else rules.SHORT_BREAK
        elif kind == rules.SHORT_BREAK:
            upcoming = rules.LONG_BREAK if done >= interval else rules.WORK
        else:
            done, interval, upcoming = 0, settings.long_break_interval, rules.WORK

    if current_type is not None:
        counts = current_type == rules.WORK and current_counts and left > 0
        run(current_type, current_left, counts)
        left -= counts
    while left > 0:
        kind = upcoming
        run(kind, rules.duration_for(settings, kind), kind == rules.WORK)
        left -= kind == rules.WORK
    return day


durations = st.integers(1, 40)


@settings(max_examples=300, deadline=None)
@given(
    left=st.integers(0, 14),
    work=durations, short=durations, long=durations, settings_interval=st.integers(1, 5),
    cycle_interval=st.integers(1, 5), done=st.integers(0, 5),
    upcoming=st.sampled_from(rules.SESSION_TYPES), has_cycle=st.booleans(),
    current_type=st.none() | st.sampled_from(rules.SESSION_TYPES), current_left=st.integers(1, 40),
    current_counts=st.booleans(), paused=st.booleans(),
)
def test_the_plan_agrees_with_the_day_written_out_second_by_second(
        left, work, short, long, settings_interval, cycle_interval, done, upcoming, has_cycle,
        current_type, current_left, current_counts, paused):
    settings_ = user(work_seconds=work, short_break_seconds=short, long_break_seconds=long,
                     long_break_interval=settings_interval)
    done = min(done, cycle_interval)
    active = cycle(done, cycle_interval, upcoming) if has_cycle else None
    current = None
    if current_type is not None:
        current = session(current_type, current_left + 7, T0 - timedelta(seconds=7))
        if paused:
            rules.pause(current, T0)
    cycle_state = (done, cycle_interval, upcoming) if has_cycle else (0, settings_interval, rules.WORK)

    plan = planning.plan(left, settings_, active, current, current_counts, T0)

    day = written_out(left, settings_, cycle_state, current_type, current_left, current_counts)
    assert plan.pomodoros_left == left
    assert plan.focus_seconds_left == day.count("F")
    if left == 0:
        assert plan.finish_at is None
    else:
        assert plan.finish_at == T0 + timedelta(seconds=len(day))


def test_many_pomodoros_plan_quickly():
    plan = planning.plan(99 * 500, user(), cycle(completed=2), session(), True, T0)
    assert plan.focus_seconds_left == 99 * 500 * 1500


# -- extending -----------------------------------------------------------------------

def test_extending_a_running_session_moves_its_end():
    running = session(rules.WORK, 1500)
    rules.extend(running, 60, T0 + timedelta(seconds=100))
    assert running.duration_seconds == 1560
    assert running.ends_at == T0 + timedelta(seconds=1560)
    assert rules.remaining_at(running, T0 + timedelta(seconds=100)) == 1460


def test_extending_a_paused_session_grows_what_it_has_left():
    paused = session(rules.WORK, 1500)
    rules.pause(paused, T0 + timedelta(seconds=500))
    rules.extend(paused, 300, T0 + timedelta(seconds=900))
    assert (paused.duration_seconds, paused.remaining_seconds, paused.ends_at) == (1800, 1300, None)


@pytest.mark.parametrize("end", [rules.complete, rules.cancel])
def test_an_ended_session_cannot_be_extended(end):
    ended = session()
    end(ended, T0 + timedelta(seconds=10))
    with pytest.raises(rules.Refused):
        rules.extend(ended, 60, T0 + timedelta(seconds=20))


def test_a_session_that_ran_out_cannot_be_extended():
    with pytest.raises(rules.Refused):
        rules.extend(session(duration=60), 60, T0 + timedelta(seconds=60))


def test_a_session_cannot_be_extended_past_a_day_in_total():
    long = session(duration=86400 - 60)
    rules.extend(long, 60, T0)
    with pytest.raises(rules.Refused, match="a day"):
        rules.extend(long, 1, T0)
    assert long.duration_seconds == 86400
