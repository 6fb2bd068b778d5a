"""Completion timers: have a session completed at its `ends_at`.

Two adapters behind one face, `schedule(session)` and `cancel(session_id)`:
- `LocalTimers` (embedded mode, and inside each RQ worker): a thread that
  sleeps until the earliest `ends_at` and completes that session;
- `RQTimers` (production): an RQ delayed job per session, due `LEAD`
  before `ends_at`. RQ's scheduler keeps whole seconds and polls once a
  second, and a burst of jobs queues up, so the job is timed to arrive well
  ahead; the worker that runs it hands the session to its own `LocalTimers`,
  which completes it on the dot. A job that arrives late completes the
  session at once.

Completion itself (`actions.complete_by_clock`) is a compare-and-set on the
session's version, so a timer that fires twice, early, or for a session
changed since, does nothing.
"""
import heapq
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job

from .models import utcnow

log = logging.getLogger(__name__)


class LocalTimers:
    """One thread keeps a heap of (ends_at, session id, version) and fires each
    at its time on a small pool, so one slow completion does not delay the next.
    A completion starts `READ_AHEAD` early (`actions.read_ahead`: it reads the
    session and leaves the events note) and stores it on the dot, so less of
    its work lies between `ends_at` and the notice.

    This is per-process state by design: the embedded mode is one process, and
    a worker's armed timers are recovered by the reconciler if it dies.
    """

    READ_AHEAD = timedelta(milliseconds=30)

    def __init__(self, app, threads: int = 4):
        self.app = app
        self._heap: list[tuple[datetime, str, int]] = []
        self._armed: dict[str, int] = {}
        self._wake = threading.Condition()
        self._thread = None
        self._stopped = False
        self._stop_requested = threading.Event()
        self._reconciler = None
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="complete")

    def schedule(self, session) -> None:
        self.arm(session.id, session.version, session.ends_at)

    def arm(self, session_id: str, version: int, ends_at: datetime) -> None:
        with self._wake:
            self._armed[session_id] = version
            heapq.heappush(self._heap, (ends_at, session_id, version))
            self._start()
            self._wake.notify()

    def cancel(self, session_id: str) -> None:
        with self._wake:
            self._armed.pop(session_id, None)

    def armed(self, session_id: str, version: int | None = None) -> bool:
        """Whether a timer here will complete, or is completing, this session (at this version)."""
        with self._wake:
            armed = self._armed.get(session_id)
        return armed is not None and version in (None, armed)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="timers", daemon=True)
            self._thread.start()

    def start(self, reconcile_every: float = 5.0) -> None:
        """Embedded mode: arm the running sessions of a fresh process and keep
        checking for overdue ones (a completion that failed, say)."""
        with self._wake:
            if self._reconciler is not None:
                return
            self._reconciler = threading.Thread(
                target=self._reconcile_forever, args=(reconcile_every,), name="reconciler", daemon=True
            )
        self._reconciler.start()

    def reconcile(self) -> None:
        """Complete the overdue sessions no timer here is on, and arm the others."""
        from .actions import complete_by_clock, running_sessions

        now = utcnow()
        for row in running_sessions():
            if self.armed(row.id, row.version):
                continue  # a timer is on it, or completing it right now: racing it would only delay it
            if row.ends_at <= now:
                complete_by_clock(row.id, row.version, now)
            else:
                self.arm(row.id, row.version, row.ends_at)

    def _reconcile_forever(self, every: float) -> None:
        from .background import Sweeps
        from .extensions import db

        sweeps = Sweeps()
        while not self._stopped:
            with self.app.app_context():
                try:
                    self.reconcile()
                    sweeps.run_due()
                except Exception:
                    log.exception("reconciling failed; trying again")
                finally:
                    db.session.remove()
            self._stop_requested.wait(every)

    def stop(self) -> None:
        """End the thread (tests make many apps in one process)."""
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._stop_requested.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._heap or self._heap[0][0] - self.READ_AHEAD > utcnow()):
                    timeout = (self._heap[0][0] - self.READ_AHEAD - utcnow()).total_seconds() if self._heap else None
                    self._wake.wait(timeout)
                if self._stopped:
                    return
                ends_at, session_id, version = heapq.heappop(self._heap)
                if self._armed.get(session_id) != version:
                    continue  # withdrawn or superseded
            # Still armed until completed: the reconciler leaves it to this timer meanwhile.
            self._pool.submit(self._complete, session_id, version, ends_at)

    def _complete(self, session_id: str, version: int, ends_at: datetime) -> None:
        from .actions import complete_by_clock, read_ahead

        with self.app.app_context():
            try:
                read_ahead(session_id)  # then wait for the moment itself
                wait = (ends_at - utcnow()).total_seconds()
                if wait > 0 and self._stop_requested.wait(wait):
                    return
                complete_by_clock(session_id, version, ahead=True)
            except Exception:
                log.exception("completing session %s failed; the reconciler will retry", session_id)
            finally:
                with self._wake:
                    if self._armed.get(session_id) == version:
                        del self._armed[session_id]


class RQTimers:
    """Production: one RQ delayed job per session (its id names the session,
    so scheduling again replaces the job)."""

    # RQ's queue backs up while the worker is busy completing a burst of
    # sessions (by up to 8 s with 1,000 ending within 6 s); a job that came
    # after `ends_at` would complete its session late, so jobs come this early.
    LEAD = timedelta(seconds=30)

    def __init__(self, queue):
        self.queue = queue

    @staticmethod
    def job_id(session_id: str) -> str:
        return f"complete-{session_id}"

    def schedule(self, session) -> None:
        try:
            self._enqueue(session)
        except redis.RedisError as error:  # the reconciler schedules it once Redis is back
            log.warning("could not schedule session %s: %s", session.id, error)

    def _enqueue(self, session) -> None:
        args = (session.id, session.version, session.ends_at.isoformat())
        # result_ttl=0: a finished job leaves nothing behind, so an existing job
        # always means one still to run (the reconciler relies on that).
        options = {"job_id": self.job_id(session.id), "result_ttl": 0, "failure_ttl": 3600}
        due = session.ends_at - self.LEAD
        if due <= utcnow():
            self.queue.enqueue("pomodoro.jobs.complete_session", *args, **options)
        else:
            self.queue.enqueue_at(due, "pomodoro.jobs.complete_session", *args, **options)

    def cancel(self, session_id: str) -> None:
        """Withdraw the job; one already run or gone is fine (a stale job changes nothing)."""
        try:
            Job.fetch(self.job_id(session_id), connection=self.queue.connection).delete()
        except NoSuchJobError:
            pass
        except redis.RedisError as error:
            log.warning("could not withdraw the job of session %s: %s", session_id, error)
