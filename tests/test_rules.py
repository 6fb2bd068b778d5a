"""The session state machine and cycle planning, on plain objects.

`pomodoro.rules` works on anything with the attributes of a Session or a
Cycle, so these tests need no app and no database.
"""
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pomodoro import rules

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def new_session(type=rules.WORK, duration=1500, now=T0):
    session = SimpleNamespace(
        type=type, status=None, duration_seconds=None, remaining_seconds=None, started_at=None,
        ends_at=None, paused_at=None, completed_at=None, cancelled_at=None,
    )
    rules.start(session, duration, now)
    return session


def new_cycle(long_break_interval=4):
    return SimpleNamespace(
        status=rules.ACTIVE, completed_work_sessions=0, long_break_interval=long_break_interval,
        next_session_type=rules.WORK, finished_at=None,
    )


def configuration(**overrides):
    values = dict(work_seconds=1500, short_break_seconds=300, long_break_seconds=900,
                  long_break_interval=4, auto_start_breaks=True, auto_start_work=False)
    return SimpleNamespace(**{**values, **overrides})


def paused_session(after=60, duration=1500):
    session = new_session(duration=duration)
    rules.pause(session, T0 + seconds(after))
    return session


def completed_session():
    session = new_session()
    rules.complete(session, T0 + seconds(10))
    return session


def cancelled_session():
    session = new_session()
    rules.cancel(session, T0 + seconds(10))
    return session


# -- starting, pausing, resuming ---------------------------------------------

def test_start_runs_for_the_configured_duration():
    session = new_session(duration=1500)
    assert session.status == rules.RUNNING
    assert session.started_at == T0
    assert session.ends_at == T0 + seconds(1500)
    assert session.remaining_seconds == 1500
    assert rules.remaining_at(session, T0 + seconds(100)) == 1400


def test_pause_keeps_the_time_left_and_clears_ends_at():
    session = paused_session(after=600)
    assert session.status == rules.PAUSED
    assert session.remaining_seconds == 900
    assert session.ends_at is None
    assert session.paused_at == T0 + seconds(600)
    # The clock stands still while paused.
    assert rules.remaining_at(session, T0 + seconds(5000)) == 900


def test_resume_moves_ends_at_by_the_paused_time():
    session = paused_session(after=600)
    rules.resume(session, T0 + seconds(1000))
    assert session.status == rules.RUNNING
    assert session.ends_at == T0 + seconds(1500 + 400)
    assert session.paused_at is None


def test_remaining_time_never_goes_below_zero():
    session = new_session(duration=60)
    assert rules.remaining_at(session, T0 + seconds(3600)) == 0


def test_is_overdue_only_for_a_running_session_past_its_end():
    session = new_session(duration=60)
    assert not rules.is_overdue(session, T0 + seconds(59))
    assert rules.is_overdue(session, T0 + seconds(60))
    rules.pause(session, T0 + seconds(30))
    assert not rules.is_overdue(session, T0 + seconds(3600))


# -- refused transitions -----------------------------------------------------

def test_pausing_a_paused_session_is_refused():
    session = paused_session()
    with pytest.raises(rules.Refused):
        rules.pause(session, T0 + seconds(120))
    assert session.status == rules.PAUSED


def test_resuming_a_running_session_is_refused():
    session = new_session()
    with pytest.raises(rules.Refused):
        rules.resume(session, T0 + seconds(10))
    assert session.ends_at == T0 + seconds(1500)


@pytest.mark.parametrize("ended", [completed_session, cancelled_session])
@pytest.mark.parametrize("action", [rules.pause, rules.resume, rules.complete, rules.cancel])
def test_nothing_is_allowed_on_an_ended_session(ended, action):
    session = ended()
    before = dict(vars(session))
    with pytest.raises(rules.Refused):
        action(session, T0 + seconds(20))
    assert vars(session) == before


@pytest.mark.parametrize("status", rules.SESSION_STATUSES)
def test_transition_refuses_anything_on_an_ended_session(status):
    session = completed_session()
    with pytest.raises(rules.Refused):
        rules.TRANSITIONS[status](session, T0 + seconds(20))


@pytest.mark.parametrize("action", [rules.pause, rules.cancel])
@pytest.mark.parametrize("late", [0, 0.000001, 3600])
def test_pausing_or_skipping_after_the_clock_ran_out_is_refused(action, late):
    session = new_session(duration=60)
    with pytest.raises(rules.Refused):
        action(session, T0 + seconds(60 + late))
    assert session.status == rules.RUNNING
    assert session.ends_at == T0 + seconds(60)


def test_a_paused_session_can_be_skipped_however_long_it_has_been_paused():
    session = paused_session(after=30, duration=60)
    rules.cancel(session, T0 + seconds(86400))
    assert session.status == rules.CANCELLED
    assert session.cancelled_at == T0 + seconds(86400)
    assert session.remaining_seconds == 30


# -- completing --------------------------------------------------------------

def test_an_overdue_session_completes_at_its_ends_at_however_late_it_is_noticed():
    session = new_session(duration=60)
    rules.complete(session, T0 + seconds(3600))
    assert session.status == rules.COMPLETED
    assert session.completed_at == T0 + seconds(60)
    assert session.ends_at == T0 + seconds(60)
    assert session.remaining_seconds == 0


def test_finishing_early_ends_now_and_keeps_the_time_left():
    session = new_session(duration=1500)
    rules.complete(session, T0 + seconds(1000))
    assert session.status == rules.COMPLETED
    assert session.completed_at == T0 + seconds(1000)
    assert session.remaining_seconds == 500


def test_finishing_a_paused_session_ends_now_and_keeps_the_time_left():
    session = paused_session(after=600, duration=1500)
    rules.complete(session, T0 + seconds(7200))
    assert session.status == rules.COMPLETED
    assert session.completed_at == T0 + seconds(7200)
    assert session.remaining_seconds == 900
    assert session.paused_at is None


def test_skipping_a_running_session_keeps_the_time_left():
    session = new_session(duration=1500)
    rules.cancel(session, T0 + seconds(100))
    assert session.status == rules.CANCELLED
    assert session.cancelled_at == T0 + seconds(100)
    assert session.remaining_seconds == 1400
    assert session.completed_at is None


@pytest.mark.parametrize("status, expected", [
    (rules.PAUSED, rules.PAUSED), (rules.COMPLETED, rules.COMPLETED), (rules.CANCELLED, rules.CANCELLED),
])
def test_transition_leads_to_the_status_asked_for(status, expected):
    session = new_session()
    rules.TRANSITIONS[status](session, T0 + seconds(10))
    assert session.status == expected


def test_transition_to_running_resumes_a_paused_session():
    session = paused_session(after=10)
    rules.TRANSITIONS[rules.RUNNING](session, T0 + seconds(20))
    assert session.status == rules.RUNNING
    assert session.ends_at == T0 + seconds(1510)


# -- the cycle ---------------------------------------------------------------

def ended(type, status):
    return SimpleNamespace(type=type, status=status)


def test_a_completed_work_session_is_followed_by_a_short_break():
    cycle = new_cycle(4)
    rules.advance_cycle(cycle, ended(rules.WORK, rules.COMPLETED), T0)
    assert cycle.completed_work_sessions == 1
    assert cycle.next_session_type == rules.SHORT_BREAK


def test_a_skipped_work_session_does_not_count_and_work_stays_next():
    cycle = new_cycle(4)
    rules.advance_cycle(cycle, ended(rules.WORK, rules.CANCELLED), T0)
    assert cycle.completed_work_sessions == 0
    assert cycle.next_session_type == rules.WORK


@pytest.mark.parametrize("status", [rules.COMPLETED, rules.CANCELLED])
def test_a_short_break_leads_back_to_work(status):
    cycle = new_cycle(4)
    cycle.next_session_type = rules.SHORT_BREAK
    rules.advance_cycle(cycle, ended(rules.SHORT_BREAK, status), T0)
    assert cycle.next_session_type == rules.WORK
    assert cycle.status == rules.ACTIVE


def test_the_long_break_comes_after_the_interval_of_work_sessions():
    cycle = new_cycle(2)
    rules.advance_cycle(cycle, ended(rules.WORK, rules.COMPLETED), T0)
    rules.advance_cycle(cycle, ended(rules.SHORT_BREAK, rules.COMPLETED), T0)
    rules.advance_cycle(cycle, ended(rules.WORK, rules.COMPLETED), T0)
    assert cycle.next_session_type == rules.LONG_BREAK


@pytest.mark.parametrize("status", [rules.COMPLETED, rules.CANCELLED])
def test_the_long_break_however_it_ends_finishes_the_cycle(status):
    cycle = new_cycle(1)
    rules.advance_cycle(cycle, ended(rules.WORK, rules.COMPLETED), T0)
    rules.advance_cycle(cycle, ended(rules.LONG_BREAK, status), T0 + seconds(60))
    assert cycle.status == rules.FINISHED
    assert cycle.finished_at == T0 + seconds(60)


@pytest.mark.parametrize("next_type, flags, expected", [
    (rules.SHORT_BREAK, dict(auto_start_breaks=True), rules.SHORT_BREAK),
    (rules.SHORT_BREAK, dict(auto_start_breaks=False), None),
    (rules.LONG_BREAK, dict(auto_start_breaks=True), rules.LONG_BREAK),
    (rules.LONG_BREAK, dict(auto_start_breaks=False), None),
    (rules.WORK, dict(auto_start_work=True), rules.WORK),
    (rules.WORK, dict(auto_start_work=False, auto_start_breaks=True), None),
    (rules.SHORT_BREAK, dict(auto_start_work=True, auto_start_breaks=False), None),
])
def test_auto_start_honours_the_configuration(next_type, flags, expected):
    cycle = new_cycle()
    cycle.next_session_type = next_type
    assert rules.auto_start_type(cycle, configuration(**flags)) == expected


def test_nothing_starts_by_itself_after_the_cycle_is_finished():
    cycle = new_cycle(1)
    rules.advance_cycle(cycle, ended(rules.WORK, rules.COMPLETED), T0)
    rules.advance_cycle(cycle, ended(rules.LONG_BREAK, rules.COMPLETED), T0)
    assert rules.auto_start_type(cycle, configuration(auto_start_breaks=True, auto_start_work=True)) is None


@pytest.mark.parametrize("type, field", [
    (rules.WORK, "work_seconds"), (rules.SHORT_BREAK, "short_break_seconds"), (rules.LONG_BREAK, "long_break_seconds"),
])
def test_each_session_type_lasts_its_configured_duration(type, field):
    assert rules.duration_for(configuration(**{field: 4242}), type) == 4242


# -- properties --------------------------------------------------------------

gaps = st.one_of(
    st.integers(1, 1000).map(lambda n: timedelta(microseconds=n)),
    st.integers(1, 3600_000).map(lambda n: timedelta(milliseconds=n)),
    st.integers(1, 4 * 3600).map(lambda n: timedelta(seconds=n)),
)


@settings(max_examples=200, deadline=None)
@given(duration=st.integers(1, 86400), steps=st.lists(gaps, max_size=30), final=gaps)
def test_pauses_and_resumes_never_add_or_lose_time(duration, steps, final):
    """Whatever the pauses and resumes, the clock runs for exactly its duration."""
    session = new_session(duration=duration)
    now = T0
    running_since = T0
    ran = timedelta(0)
    remaining = float(duration)

    def check_remaining():
        nonlocal remaining
        left = rules.remaining_at(session, now)
        assert 0 <= left <= remaining
        remaining = left

    for gap in steps:
        now += gap
        check_remaining()
        if session.status == rules.RUNNING:
            if rules.is_overdue(session, now):
                with pytest.raises(rules.Refused):
                    rules.pause(session, now)
                break
            rules.pause(session, now)
            ran += now - running_since
        else:
            rules.resume(session, now)
            running_since = now
        check_remaining()

    if session.status == rules.PAUSED:
        now += final
        rules.resume(session, now)
        running_since = now
    now = max(now, session.ends_at) + final
    check_remaining()
    rules.complete(session, now)

    assert session.status == rules.COMPLETED
    assert session.completed_at == session.ends_at
    assert session.remaining_seconds == 0
    ran += session.completed_at - running_since
    assert ran == timedelta(seconds=duration)


cycle_steps = st.lists(st.booleans(), max_size=60)  # True: the session completes, False: it is skipped


@settings(max_examples=200, deadline=None)
@given(interval=st.integers(1, 12), outcomes=cycle_steps)
def test_the_long_break_comes_after_exactly_the_interval_of_completed_work(interval, outcomes):
    cycle = new_cycle(interval)
    completed_work = 0
    for number, completes in enumerate(outcomes):
        if cycle.status == rules.FINISHED:
            break
        session_type = cycle.next_session_type
        assert (session_type == rules.LONG_BREAK) == (completed_work == interval)
        status = rules.COMPLETED if completes else rules.CANCELLED
        rules.advance_cycle(cycle, ended(session_type, status), T0 + seconds(number))
        if session_type == rules.WORK and completes:
            completed_work += 1
        assert cycle.completed_work_sessions == completed_work
        if session_type == rules.LONG_BREAK:
            assert cycle.status == rules.FINISHED
            assert cycle.finished_at == T0 + seconds(number)
        else:
            assert cycle.status == rules.ACTIVE
            assert cycle.finished_at is None


def test_a_short_break_taken_instead_of_the_long_break_leaves_the_long_break_owed():
    cycle = SimpleNamespace(status="active", completed_work_sessions=2, long_break_interval=2,
                            next_session_type=rules.LONG_BREAK, finished_at=None)
    short_break = SimpleNamespace(type=rules.SHORT_BREAK, status=rules.COMPLETED)
    rules.advance_cycle(cycle, short_break, T0)
    assert cycle.next_session_type == rules.LONG_BREAK
    assert cycle.status == "active"


# -- the cycle ahead, as the timer page shows it ---------------------------------

def states(plan):
    return [(step["type"], step["number"], step["state"]) for step in plan]


def test_with_no_cycle_the_plan_is_the_one_a_start_would_make():
    plan = rules.cycle_plan(None, None, configuration(long_break_interval=2))
    assert states(plan) == [(rules.WORK, 1, "next"), (rules.SHORT_BREAK, 1, "upcoming"),
                            (rules.WORK, 2, "upcoming"), (rules.LONG_BREAK, 2, "upcoming")]


def test_the_plan_marks_what_is_done_and_the_session_now_running():
    cycle = new_cycle(long_break_interval=2)
    cycle.completed_work_sessions, cycle.next_session_type = 1, rules.SHORT_BREAK
    plan = rules.cycle_plan(cycle, new_session(type=rules.SHORT_BREAK, duration=300), configuration())
    assert [state for _, _, state in states(plan)] == ["done", "current", "upcoming", "upcoming"]


def test_the_long_break_is_the_last_step_and_current_when_owed():
    cycle = new_cycle(long_break_interval=3)
    cycle.completed_work_sessions, cycle.next_session_type = 3, rules.LONG_BREAK
    plan = rules.cycle_plan(cycle, None, configuration())
    assert states(plan)[-1] == (rules.LONG_BREAK, 3, "next")
    assert all(state == "done" for _, _, state in states(plan)[:-1])


def test_what_follows_a_work_session_is_its_break_starting_by_itself_if_so_configured():
    cycle = new_cycle()
    assert rules.following(cycle, new_session(), configuration()) == (rules.SHORT_BREAK, 300, True)
    assert rules.following(cycle, new_session(), configuration(auto_start_breaks=False)).auto is False
    assert cycle.completed_work_sessions == 0, "a preview changes nothing"


def test_after_the_long_break_a_new_cycle_starts_with_work():
    cycle = new_cycle(long_break_interval=1)
    cycle.completed_work_sessions, cycle.next_session_type = 1, rules.LONG_BREAK
    after = rules.following(cycle, new_session(type=rules.LONG_BREAK, duration=900), configuration())
    assert after == (rules.WORK, 1500, False)
    assert cycle.status == rules.ACTIVE
