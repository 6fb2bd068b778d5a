"""Background work: a job named by its dotted path runs now or at its time,
inside an app context, and is tried again when it raises; in production it
travels over RQ and the worker hands it to its own threads."""
import threading
from datetime import timedelta

import pytest
import redis as redis_lib
from flask import current_app
from rq import SimpleWorker

from pomodoro import background
from pomodoro.background import LocalBackground, RQBackground, hand_over
from pomodoro.models import utcnow

from .live import wait_until

RAN: list[tuple] = []  # (what, when, thread name) of each run of the jobs below
FAILURES: dict[str, int] = {}


def record(what: str) -> None:
    """A job: note that it ran, when, where, and that it had an app."""
    RAN.append((what, utcnow(), threading.current_thread().name, current_app.name))


def fail_first(what: str, times: int) -> None:
    """A job that raises its first `times` runs, then records."""
    FAILURES[what] = FAILURES.get(what, 0) + 1
    if FAILURES[what] <= times:
        raise RuntimeError(f"{what}: failure {FAILURES[what]}")
    record(what)


def always_fail(what: str) -> None:
    FAILURES[what] = FAILURES.get(what, 0) + 1
    raise RuntimeError(f"{what} never works")


RECORD, FAIL_FIRST, ALWAYS_FAIL = (f"{__name__}.{job.__name__}" for job in (record, fail_first, always_fail))


@pytest.fixture
def database_url(sqlite_url):
    """The jobs here touch no rows: one database is enough."""
    return sqlite_url


@pytest.fixture(autouse=True)
def forget():
    RAN.clear()
    FAILURES.clear()


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(background, "RETRY_AFTER", (0.05, 0.05, 0.05))


def ran(what: str) -> list[tuple]:
    return [one for one in RAN if one[0] == what]


# -- in this process (the embedded mode) ---------------------------------------

def test_a_job_runs_now_on_a_background_thread_in_an_app_context(app, db):
    assert isinstance(app.extensions["pomodoro.background"], LocalBackground)
    background.run(RECORD, "now")
    [(_, _, thread, app_name)] = wait_until(lambda: ran("now"), 5, message="the job to run")
    assert thread != threading.current_thread().name and app_name == app.name


def test_several_calls_handed_over_together_each_run_once(app, db):
    background.run_each(RECORD, [("one",), ("two",)])
    wait_until(lambda: ran("one") and ran("two"), 5, message="both calls to run")
    assert len(RAN) == 2


def test_a_job_given_a_time_runs_at_that_time_not_before(app, db):
    due = utcnow() + timedelta(milliseconds=300)
    background.run(RECORD, "later", at=due)
    background.run(RECORD, "sooner")
    [(_, when, _, _)] = wait_until(lambda: ran("later"), 5, message="the timed job to run")
    assert when >= due
    assert ran("sooner")[0][1] < due, "a job due now does not wait behind one due later"


def test_a_job_that_raises_is_tried_again(app, db, quick_retries):
    background.run(FAIL_FIRST, "flaky", 2)
    wait_until(lambda: ran("flaky"), 5, message="the third try to succeed")
    assert FAILURES["flaky"] == 3


def test_a_job_that_always_raises_is_given_up_after_its_retries(app, db, quick_retries):
    background.run(ALWAYS_FAIL, "broken")
    wait_until(lambda: FAILURES.get("broken") == 1 + len(background.RETRY_AFTER), 5, message="every try")
    background.run(RECORD, "after")
    wait_until(lambda: ran("after"), 5, message="a later job")
    assert FAILURES["broken"] == 4, "no more tries"


def test_a_failing_job_does_not_stop_the_others(app, db, quick_retries):
    for number in range(3):
        background.run(ALWAYS_FAIL, f"broken-{number}")
    for number in range(10):
        background.run(RECORD, f"fine-{number}")
    wait_until(lambda: len(RAN) == 10, 5, message="every good job to run")


# -- over RQ (production) ----------------------------------------------------------

@pytest.fixture
def queue(app, clean_redis):
    return app.extensions["pomodoro.background"].queue


def test_over_redis_a_job_due_now_reaches_a_background_process_threads(app, db, queue):
    adapter = app.extensions["pomodoro.background"]
    assert isinstance(adapter, RQBackground)
    background.run(RECORD, "over redis")
    background.run(RECORD, "and another")
    assert queue.connection.llen(RQBackground.NOW) == 2 and RAN == [], "queued, not run in the request"
    local = LocalBackground(app)
    try:
        assert adapter.take(local, wait=1) == 2, "taken in one batch"
        [(_, _, thread, _)] = wait_until(lambda: ran("over redis"), 5, message="the process's threads to run it")
        assert thread.startswith("background")
        wait_until(lambda: ran("and another"), 5, message="the second job")
        assert adapter.take(local, wait=0.1) == 0, "nothing left"
    finally:
        local.stop()


def test_over_redis_several_calls_handed_over_together_each_run_once(app, db, queue):
    background.run_each(RECORD, [("first of three",), ("second of three",), ("third of three",)])
    assert queue.connection.llen(RQBackground.NOW) == 3 and RAN == [], "queued, not run in the request"
    local = LocalBackground(app)
    try:
        assert app.extensions["pomodoro.background"].take(local, wait=1) == 3
        wait_until(lambda: all(ran(f"{which} of three") for which in ("first", "second", "third")), 5,
                   message="each of the three to run")
        assert len(RAN) == 3
    finally:
        local.stop()


def test_over_rq_a_job_due_later_reaches_a_background_process_threads(app, db, queue):
    queue.enqueue(hand_over, RECORD, "over rq")  # what RQ's scheduler puts on the queue once it is due
    local = app.extensions["pomodoro.background.local"] = LocalBackground(app)
    try:
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        [(_, _, thread, _)] = wait_until(lambda: ran("over rq"), 5, message="the process's threads to run it")
        assert thread.startswith("background"), "handed over, not run on RQ's own loop"
    finally:
        local.stop()


def test_over_rq_a_job_given_a_time_waits_in_rqs_schedule(app, db, queue):
    due = utcnow() + timedelta(minutes=5)
    background.run(RECORD, "later", at=due)
    [job_id] = queue.scheduled_job_registry.get_job_ids()
    assert abs(queue.scheduled_job_registry.get_scheduled_time(job_id) - due) < timedelta(seconds=1)
    assert queue.count == 0


def test_over_rq_redis_down_does_not_fail_the_caller(app, db):
    from rq import Queue

    app.extensions["pomodoro.background"] = RQBackground(Queue("pomodoro", connection=redis_lib.Redis(port=1)))
    background.run(RECORD, "lost")  # the work is in rows: a sweep queues it again


# -- sweeps ------------------------------------------------------------------------

def test_the_reconciler_runs_each_sweep_about_as_often_as_it_asked(app):
    ran_at = []

    @background.every(0.2)
    def sweep():
        # Sweeps are registered for every app in the process: count this app's
        # reconciler only, not one an earlier test's app left running.
        if current_app._get_current_object() is app:
            ran_at.append(utcnow())

    try:
        app.extensions["pomodoro.timers"].start(reconcile_every=0.05)  # as a first request does, but quicker
        wait_until(lambda: len(ran_at) >= 3, 10, message="three sweeps")
        gaps = [later - earlier for earlier, later in zip(ran_at, ran_at[1:])]
        assert all(gap >= timedelta(seconds=0.2) for gap in gaps), gaps
    finally:
        background._sweeps.remove((0.2, sweep))
