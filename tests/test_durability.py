"""Nothing is lost when a worker dies, Redis is flushed or restarts empty, or a
web process restarts: every session completes once, on its rules, and every
connected socket hears of it (after a reconnect, from `hello`)."""
import os
import signal
import time

import psutil
import pytest
import redis

from .live import completed_session, parse_time, wait_until
from .stacks import embedded_stack, production_stack


@pytest.fixture(scope="module")
def production():
    with production_stack() as stack:
        yield stack


def run_users(stack, count, **settings):
    users = [stack.user(**settings) for _ in range(count)]
    listeners = [user.listen() for user in users]
    sessions = [user.start() for user in users]
    return users, listeners, sessions


def assert_completed_once(user, listener, session, timeout=20):
    """The session completed by its clock, exactly once, and the socket heard it once."""
    listener.wait_for(lambda f: completed_session(f, session["id"]), timeout=timeout, message="session.completed")
    stored = user.call("GET", f"/sessions/{session['id']}")
    assert stored["status"] == "completed"
    assert stored["completed_at"] == session["ends_at"], "completed at its end, however late it was noticed"
    notices = [f for f in listener.events("session.completed") if f["data"]["session"]["id"] == session["id"]]
    assert len(notices) == 1
    arrived = next(at for at, f in listener.arrivals("session.completed") if f["data"]["session"]["id"] == session["id"])
    assert arrived >= parse_time(session["ends_at"]).timestamp(), "never before ends_at"


def test_a_worker_killed_mid_flight_loses_nothing(production):
    users, listeners, sessions = run_users(production, 5, work_seconds=3, short_break_seconds=1)
    notes = redis.Redis.from_url(production.redis.url)
    # Mid-flight: the jobs have been taken from Redis and armed in the worker's memory.
    wait_until(lambda: all(notes.exists(f"pomodoro:armed:{s['id']}") for s in sessions), 10,
               message="the worker to arm every session")
    production.worker.stop(signal.SIGKILL)
    production.worker.start()
    for user, listener, session in zip(users, listeners, sessions):
        assert_completed_once(user, listener, session)
        following = listener.wait_for(lambda f: completed_session(f, session["id"]))["data"]["next_session"]
        assert following["type"] == "short_break"  # auto_start_breaks: the cycle went on
        assert_completed_once(user, listener, following)


def test_a_second_worker_takes_a_killed_workers_sessions_over_at_once():
    """The killed worker held every session in its timer; the other one knows
    at its next pass (not after a heartbeat runs out) and completes them on
    time, give or take a loaded machine."""
    with production_stack(workers=2) as stack:
        notes = redis.Redis.from_url(stack.redis.url)
        holder, other = stack.workers
        other.stop()  # so that every job goes to `holder`
        users, listeners, sessions = run_users(stack, 4, work_seconds=6, auto_start_breaks=False)
        wait_until(lambda: all(notes.exists(f"pomodoro:armed:{s['id']}") for s in sessions), 10,
                   message="the worker to arm every session")
        other.start()
        wait_until(lambda: notes.scard("rq:workers") == 3, 20, message="the second worker to be up")  # + background
        last_moment = min(parse_time(s["ends_at"]).timestamp() for s in sessions) - 0.5
        assert time.time() < last_moment, "the second worker came up too late for this test"
        wait_until(lambda: time.time() >= last_moment, 10, message="half a second before the first end")
        holder.stop(signal.SIGKILL)
        for user, listener, session in zip(users, listeners, sessions):
            assert_completed_once(user, listener, session)
            arrived = listener.arrivals("session.completed")[0][0]
            assert arrived - parse_time(session["ends_at"]).timestamp() < 1.5, "taken over at once"


def test_the_worker_stops_at_once_on_sigterm_and_the_next_one_carries_on(production):
    notes = redis.Redis.from_url(production.redis.url)
    wait_until(lambda: any(notes.hget(key, "state") == b"idle" for key in notes.smembers("rq:workers")), 20,
               message="RQ's worker loop to be waiting for jobs")
    production.worker.send_signal(signal.SIGTERM)  # a deploy, say
    production.worker.popen.wait(timeout=5)  # raises if the signal was not heard
    production.worker.popen = None
    production.worker.start()
    users, listeners, sessions = run_users(production, 2, work_seconds=2, auto_start_breaks=False)
    for user, listener, session in zip(users, listeners, sessions):
        assert_completed_once(user, listener, session)


def test_redis_flushed_loses_nothing_and_stays_on_time(production):
    users, listeners, sessions = run_users(production, 5, work_seconds=9, auto_start_breaks=False)
    redis.Redis.from_url(production.redis.url).flushall()  # the scheduled jobs are gone
    for user, listener, session in zip(users, listeners, sessions):
        assert_completed_once(user, listener, session)
        arrived = listener.arrivals("session.completed")[0][0]
        assert arrived - parse_time(session["ends_at"]).timestamp() < 0.5, "the reconciler re-scheduled it in time"


def test_redis_restarted_empty_loses_nothing(production):
    users, listeners, sessions = run_users(production, 5, work_seconds=9, auto_start_breaks=False)
    production.redis.stop(signal.SIGKILL)
    production.redis.start()
    for user, listener, session in zip(users, listeners, sessions):
        assert_completed_once(user, listener, session)


def test_a_restarted_web_process_resynchronises_its_sockets_from_hello(production):
    users, listeners, sessions = run_users(production, 3, work_seconds=2, short_break_seconds=30)
    production.web.stop(signal.SIGKILL)
    time.sleep(max(0.0, parse_time(sessions[0]["ends_at"]).timestamp() - time.time()) + 0.5)  # ends while down
    production.start_web()
    for user, listener, session in zip(users, listeners, sessions):
        hello = listener.wait_for(lambda f: f["event"] == "hello" and f["data"]["session"]
                                  and f["data"]["session"]["type"] == "short_break", timeout=30,
                                  message="a hello showing the break that started while the server was down")
        assert listener.connections == 2
        current = user.call("GET", "/sessions/current")
        assert hello["data"]["session"]["id"] == current["id"]
        assert current["started_at"] == user.call("GET", f"/sessions/{session['id']}")["completed_at"]


def test_the_embedded_process_restarted_catches_up_on_its_own(tmp_path):
    with embedded_stack(tmp_path) as stack:
        ada = stack.user(work_seconds=1, short_break_seconds=1, auto_start_breaks=True)
        listener = ada.listen()
        first = ada.start()
        stack.web.stop(signal.SIGKILL)
        time.sleep(2.5)  # both the work session and the break it starts end while no process runs
        stack.start_web()
        hello = listener.wait_for(lambda f: f["event"] == "hello" and f["data"]["session"] is None, timeout=30,
                                  message="a hello after the restart with nothing running")
        assert hello
        work, pause = ada.call("GET", f"/cycles/{first['cycle_id']}/sessions")["items"]
        assert (work["status"], pause["status"]) == ("completed", "completed")
        assert work["completed_at"] == first["ends_at"] and pause["started_at"] == work["completed_at"]


def test_each_web_process_subscribes_to_redis_once_however_many_sockets(production):
    users = [production.user() for _ in range(5)]
    listeners = [user.listen() for user in users for _ in range(20)]
    assert len(listeners) == 100
    channels = redis.Redis.from_url(production.redis.url).pubsub_numsub("pomodoro:events")
    assert 1 <= channels[0][1] <= int(production.env["WEB_CONCURRENCY"])


def test_a_worker_killed_alone_takes_its_scheduler_with_it_and_the_next_one_takes_over(production):
    """SIGKILL of the worker's own process (not its group): RQ's scheduler, a
    child process holding the scheduler lock, must not live on as an orphan."""
    notes = redis.Redis.from_url(production.redis.url)
    lock = "rq:scheduler-lock:pomodoro"
    worker = psutil.Process(production.worker.popen.pid)
    scheduler = wait_until(lambda: worker.children(), 20, message="the worker to fork its scheduler")[0]
    held_by = wait_until(lambda: notes.get(lock), 20, message="the scheduler lock")
    os.kill(worker.pid, signal.SIGKILL)  # the main process only: the child is not signalled
    production.worker.popen.wait(5)
    production.worker.popen = None
    wait_until(lambda: not scheduler.is_running() or scheduler.status() == psutil.STATUS_ZOMBIE, 5,
               message="the orphaned scheduler to stop")
    production.worker.start()
    wait_until(lambda: notes.get(lock) not in (None, held_by), 15, message="the next worker's scheduler to take the lock")
