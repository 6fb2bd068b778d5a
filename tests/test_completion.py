"""Completing is an idempotent compare-and-set, and the RQ adapter schedules,
replaces and withdraws real jobs on a real Redis."""
import gc
import threading
from datetime import timedelta

import pytest
import redis as redis_lib
from rq import Queue
from rq.job import Job

from pomodoro import actions, announcements, jobs, webhooks
from pomodoro.events import RESYNC, Listener
from pomodoro.extensions import db as _db
from pomodoro.models import Session, utcnow
from pomodoro.timers import RQTimers
from pomodoro.reconciler import HANDOVER, reconcile

from .helpers import drain, dying_right_after_the_commit, statements, user_record, wait_for_the_relay
from .live import wait_until


@pytest.fixture
def ada(db, auth):
    return user_record(db, auth.sign_up("ada@example.org", work_seconds=60, auto_start_breaks=False))


@pytest.fixture
def heard(app, ada):
    """What Ada's sockets would hear."""
    listener = Listener(ada.id)
    app.extensions["pomodoro.events"].subscribe(listener)
    return lambda: drain(listener)


def worker_timers(app):
    """The precise timers of one more `worker` process."""
    return app.extensions["pomodoro.timers"].worker_timers(app)


def completions(frames):
    return [frame for frame in frames if isinstance(frame, str) and '"session.completed"' in frame]


def test_a_job_that_runs_early_changes_nothing(ada, heard):
    session = actions.start_session(ada)
    assert actions.complete_by_clock(session.id, session.version, session.ends_at - timedelta(milliseconds=1)) is False
    assert _db.session.get(Session, session.id).status == "running"
    assert completions(heard()) == []


def test_a_job_that_runs_twice_completes_once(ada, heard):
    session = actions.start_session(ada)
    due = session.ends_at
    assert actions.complete_by_clock(session.id, session.version, due) is True
    assert actions.complete_by_clock(session.id, session.version, due + timedelta(seconds=1)) is False
    assert _db.session.get(Session, session.id).completed_at == due
    assert len(completions(heard())) == 1


def test_a_job_for_a_session_paused_or_resumed_since_changes_nothing(ada, heard):
    session = actions.start_session(ada)
    scheduled_version = session.version
    actions.pause_session(ada, session.id)
    actions.resume_session(ada, session.id)
    later = _db.session.get(Session, session.id).ends_at
    assert actions.complete_by_clock(session.id, scheduled_version, later + timedelta(seconds=1)) is False
    assert _db.session.get(Session, session.id).status == "running"
    assert completions(heard()) == []


def test_concurrent_completions_store_exactly_one(app, ada):
    session = actions.start_session(ada)
    results = []
    barrier = threading.Barrier(4)

    def complete():
        with app.app_context():
            barrier.wait()
            results.append(actions.complete_by_clock(session.id, session.version, session.ends_at))

    threads = [threading.Thread(target=complete) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == [False, False, False, True]


@pytest.mark.parametrize("endpoints", [0, 1])
def test_a_completion_read_ahead_only_writes_at_its_moment(app, ada, endpoints):
    """What a completion can read before `ends_at` (the session, its user and
    cycle, the user's webhook endpoints) it reads ahead, so that at the moment
    itself it only stores the change: every read there would make the notice later."""
    for number in range(endpoints):
        webhooks.create(ada, f"https://example.org/hook-{number}")
    session = actions.start_session(ada)
    with app.app_context():  # as a timer thread does: a database session of its own
        ahead = actions.read_ahead(session.id)
        gc.collect()  # whatever nothing holds is gone, as it would be after the wait
        with statements() as sent:
            assert actions.complete_by_clock(session.id, session.version, session.ends_at, ahead=ahead)
    assert sent and all(statement.split()[0] in ("UPDATE", "INSERT") for statement in sent), sent
    assert sum(statement.startswith("INSERT INTO webhook_deliveries") for statement in sent) == endpoints


# -- the RQ adapter on a real Redis ------------------------------------------

@pytest.fixture
def rq_queue(app, clean_redis):
    return app.extensions["pomodoro.timers"].queue


def test_starting_schedules_one_job_due_before_ends_at_and_pausing_withdraws_it(ada, rq_queue, redis_url):
    session = actions.start_session(ada)
    registry = rq_queue.scheduled_job_registry
    job_id = RQTimers.job_id(session.id)
    assert registry.get_job_ids() == [job_id]
    due = registry.get_scheduled_time(job_id)
    assert session.ends_at - RQTimers.LEAD - timedelta(seconds=1) <= due <= session.ends_at - RQTimers.LEAD

    actions.pause_session(ada, session.id)
    assert registry.get_job_ids() == []
    actions.resume_session(ada, session.id)
    assert registry.get_job_ids() == [job_id], "resuming schedules again, under the same id"


def test_pausing_as_the_worker_finishes_the_job_is_still_a_pause(ada, rq_queue, monkeypatch):
    """The job can run (and, kept for no time, vanish) between the fetch that
    finds it and its delete: the pause goes through all the same."""
    session = actions.start_session(ada)
    fetch = Job.fetch

    def fetched_then_run(job_id, connection):
        job = fetch(job_id, connection=connection)
        rq_queue.scheduled_job_registry.remove(job)  # taken off the schedule, run,
        connection.delete(job.key)  # and gone, as a job kept for no time (result_ttl=0)
        return job

    monkeypatch.setattr(Job, "fetch", staticmethod(fetched_then_run))
    paused = actions.pause_session(ada, session.id)
    assert paused.status == "paused"
    assert rq_queue.scheduled_job_registry.get_job_ids() == []


def test_the_job_arms_the_workers_timer_which_completes_on_ends_at(app, ada, rq_queue, heard):
    ada.work_seconds = 1
    _db.session.commit()
    session = actions.start_session(ada)
    timers = worker_timers(app)
    app.extensions["pomodoro.worker"] = timers
    try:
        jobs.complete_session(session.id, session.version, session.ends_at.isoformat())
        assert timers.armed(session.id)
        wait_until(lambda: completions(heard()), 5, message="the armed timer to complete the session")
        stored = _db.session.get(Session, session.id, populate_existing=True)
        assert stored.status == "completed" and stored.completed_at == session.ends_at
    finally:
        timers.stop()


def test_the_reconciler_restores_lost_jobs_and_completes_overdue_sessions(app, ada, rq_queue, db):
    session = actions.start_session(ada)
    rq_queue.connection.flushdb()  # Redis restarted empty
    timers = worker_timers(app)
    try:
        assert reconcile(timers)["rescheduled"] == 1
        assert rq_queue.scheduled_job_registry.get_job_ids() == [RQTimers.job_id(session.id)]
        assert reconcile(timers)["rescheduled"] == 0, "a job that is there is left alone"

        overdue = session.ends_at + timedelta(seconds=1)
        assert reconcile(timers, now=overdue)["completed"] == 1
        assert db.session.get(Session, session.id, populate_existing=True).completed_at == session.ends_at
    finally:
        timers.stop()


def test_the_reconciler_says_hello_before_it_tells_of_newer_completions(app, ada, rq_queue, db, heard):
    """A process stored a change of Ada's and died before saying so, and a
    session of hers has run out meanwhile. The next pass brings her sockets up
    to date (a fresh hello) before it tells of that completion: a listener
    that heard the completion first would take the hello for news older than
    what it had, and the change the dead process made would go untold."""
    session = actions.start_session(ada)
    wait_for_the_relay(ada.id, heard)
    ada.name = "Ada L."
    announcements.announce(ada.id, announcements.CONFIGURATION_UPDATED, {})
    with dying_right_after_the_commit(_db.session):
        announcements.commit(refusal="no")
    timers = worker_timers(app)
    try:
        later = session.ends_at + timedelta(seconds=5)  # past the dead process's grace, and the session's end
        assert reconcile(timers, now=later)["completed"] == 1
        frames = []
        wait_until(lambda: frames.extend(heard()) or (RESYNC in frames and completions(frames)), 5,
                   message="the hello and the completion")
        assert frames.index(RESYNC) < frames.index(completions(frames)[0])
    finally:
        timers.stop()


def test_the_reconciler_leaves_a_session_to_the_timer_of_a_live_worker(app, ada, rq_queue, db):
    """A burst of completions runs a little late; a reconciler that raced the
    timers for them would complete its share one by one, later still."""
    session = actions.start_session(ada)
    holding, other = worker_timers(app), worker_timers(app)
    try:
        holding.alive()
        holding.arm(session.id, session.version, session.ends_at)
        just_overdue = session.ends_at + timedelta(milliseconds=50)
        assert reconcile(holding, now=just_overdue)["completed"] == 0, "its own timer is on it"
        assert reconcile(other, now=just_overdue)["completed"] == 0, "a live worker's timer is on it"
        assert db.session.get(Session, session.id, populate_existing=True).status == "running"

        stuck = session.ends_at + HANDOVER + timedelta(milliseconds=50)
        assert reconcile(other, now=stuck)["completed"] == 1, "the backstop for a timer stuck in a live worker"
        assert db.session.get(Session, session.id, populate_existing=True).completed_at == session.ends_at
    finally:
        holding.stop()
        other.stop()


def test_a_dead_workers_sessions_are_taken_over_at_once(app, ada, rq_queue, db):
    session = actions.start_session(ada)
    dead, other, third = (worker_timers(app) for _ in range(3))
    try:
        app.extensions["pomodoro.timers"].cancel(session.id)  # its job ran, which leaves no job behind,
        dead.alive()
        dead.arm(session.id, session.version, session.ends_at)  # and armed this worker
        two_seconds_before_its_end = session.ends_at - timedelta(seconds=2)
        assert reconcile(other, now=two_seconds_before_its_end, everything=False)["armed"] == 0, "left to it"
        dead.stop()  # then it was killed, which closes its connections to Redis
        assert reconcile(other, now=two_seconds_before_its_end, everything=False)["armed"] == 1
        assert other.armed(session.id, session.version)

        just_overdue = session.ends_at + timedelta(milliseconds=50)  # and that one died too
        assert reconcile(third, now=just_overdue)["completed"] == 1
        assert db.session.get(Session, session.id, populate_existing=True).completed_at == session.ends_at
    finally:
        for timers in (dead, other, third):
            timers.stop()


def test_a_session_whose_timer_here_gave_up_is_completed_at_once(app, ada, rq_queue, db):
    session = actions.start_session(ada)
    timers = worker_timers(app)
    try:
        timers.alive()
        timers.arm(session.id, session.version, session.ends_at)
        timers.cancel(session.id)  # as a failed completion leaves it: noted in Redis, no longer armed
        assert reconcile(timers, now=session.ends_at + timedelta(milliseconds=50))["completed"] == 1
    finally:
        timers.stop()


def test_the_frequent_pass_arms_what_is_due_soon_and_leaves_later_sessions_to_the_full_pass(app, ada, rq_queue, db,
                                                                                            auth):
    soon = actions.start_session(ada)  # 60 s
    later_user = user_record(db, auth.sign_up("bo@example.org", work_seconds=3600))
    later = actions.start_session(later_user)
    rq_queue.connection.flushdb()  # Redis restarted empty
    timers = worker_timers(app)
    try:
        two_seconds_before_its_end = soon.ends_at - timedelta(seconds=2)
        assert reconcile(timers, now=two_seconds_before_its_end, everything=False) == {"completed": 0, "rescheduled": 0, "armed": 1}
        assert timers.armed(soon.id) and not timers.armed(later.id)
        assert rq_queue.scheduled_job_registry.get_job_ids() == []
        assert reconcile(timers, now=two_seconds_before_its_end, everything=True)["rescheduled"] == 1
        assert rq_queue.scheduled_job_registry.get_job_ids() == [RQTimers.job_id(later.id)]
    finally:
        timers.stop()


def test_redis_down_does_not_fail_a_start(app, ada, db):
    app.extensions["pomodoro.timers"] = RQTimers(Queue("pomodoro", connection=redis_lib.Redis(port=1)))
    session = actions.start_session(ada)
    assert db.session.get(Session, session.id).status == "running"
    assert utcnow() < session.ends_at


def test_a_change_committed_by_a_process_that_died_before_publishing_it_still_reaches_the_sockets(
        app, ada, heard, rq_queue):
    """The commit and the publishing cannot be one step: a worker killed between
    them has completed the session but told no one. A later reconciler pass has
    the user's sockets send a fresh hello instead."""
    session = actions.start_session(ada)
    frames = []
    wait_until(lambda: frames.extend(heard()) or frames, 5, message="the start to be relayed")
    with dying_right_after_the_commit(_db.session):
        actions.complete_by_clock(session.id, session.version, session.ends_at)
    assert _db.session.get(Session, session.id, populate_existing=True).status == "completed"
    assert completions(heard()) == [], "the dead process published nothing"

    timers = worker_timers(app)
    try:
        reconcile(timers, now=utcnow() + timedelta(seconds=5))  # a pass of any worker's reconciler, soon after
        frames = []
        wait_until(lambda: frames.extend(heard()) or RESYNC in frames, 5,
                   message="Ada's sockets to be asked for a fresh hello")
        reconcile(timers, now=utcnow() + timedelta(seconds=10))
        actions.update_configuration(ada, {"work_seconds": 1200})  # published after anything the pass sent
        frames = []
        wait_until(lambda: frames.extend(heard()) or '"configuration.updated"' in str(frames), 5,
                   message="the configuration change to be relayed")
        assert RESYNC not in frames, "a note is acted on once"
    finally:
        timers.stop()
