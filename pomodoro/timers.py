"""Completion timers: have a session completed at its `ends_at`.

The face the actions use, in every process: `schedule(session)` and
`cancel(session_id)`. The face the reconciler uses (`reconciler.py`):
`armed`, `arm`, `restore`, `whereabouts` and `alive`. Three adapters:
- `LocalTimers` (embedded mode): a thread that sleeps until the earliest
  `ends_at` and completes that session;
- `RQTimers` (production, every process): an RQ delayed job per session, due
  `LEAD` before `ends_at`. RQ's scheduler keeps whole seconds and polls once
  a second, and a burst of jobs queues up, so the job is timed to arrive well
  ahead; the worker that runs it hands the session to its own `WorkerTimers`,
  which completes it on the dot. A job that arrives late completes the
  session at once. `RQTimers.work` is the RQ worker loop itself;
- `WorkerTimers` (inside each `worker` process): `LocalTimers` that leave a
  note in Redis for each armed session, so that the reconcilers of other
  workers leave it alone while this worker lives.

Completion itself (`actions.complete_by_clock`) is a compare-and-set on the
session's version, so a timer that fires twice, early, or for a session
changed since, does nothing.
"""
import ctypes
import heapq
import logging
import os
import signal
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import redis
from rq import Queue, SimpleWorker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from .models import utcnow

log = logging.getLogger(__name__)
ARMED_KEY = "pomodoro:armed:{}"  # "<version> <worker id>": which worker's timer holds the session
# A worker lives while its own connection to Redis, under this name, is open:
# Redis sees the connection close the moment the process dies, however it dies.
PRESENCE = "pomodoro-worker-{}"


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
        """Embedded mode: have the reconciler arm the running sessions of a fresh
        process and keep checking for overdue ones (a completion that failed, say)."""
        from .reconciler import Reconciler

        with self._wake:
            if self._reconciler is not None or self._stopped:
                return
            self._reconciler = Reconciler(self.app, self, every=reconcile_every)
        self._reconciler.start()

    # -- what the reconciler asks of a timers adapter ---------------------------

    def restore(self, session) -> None:
        """Give a running session that has lost its timer one again."""
        self.schedule(session)

    def whereabouts(self, rows: list) -> list[tuple[bool, bool]]:
        """For each (id, version, ends_at) row no timer here is on: is a job
        coming for it, and does a live timer elsewhere hold it? In one process,
        neither."""
        return [(False, False)] * len(rows)

    def alive(self) -> None:
        """Say that this process lives (one process has no one to tell)."""

    def stop(self) -> None:
        """End the thread (tests make many apps in one process)."""
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._stop_requested.set()
        if self._reconciler is not None:
            self._reconciler.stop()
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
                ahead = read_ahead(session_id)  # then wait for the moment itself
                wait = (ends_at - utcnow()).total_seconds()
                if wait > 0 and self._stop_requested.wait(wait):
                    return
                complete_by_clock(session_id, version, ahead=ahead)
            except Exception:
                log.exception("completing session %s failed; the reconciler will retry", session_id)
            finally:
                with self._wake:
                    if self._armed.get(session_id) == version:
                        del self._armed[session_id]


class WorkerTimers(LocalTimers):
    """The timers of one `worker` process: jobs from RQ arm them; each armed
    session gets a note in Redis naming this worker, so that the reconcilers
    of other workers leave it alone while this worker lives: while its
    presence, a connection to Redis named after it, is open (`alive`, every
    reconciler pass, opens it again if Redis lost it). A killed worker's
    connection closes with it, so the others take its sessions over at
    their next pass, not after a heartbeat runs out."""

    THREADS = 12  # completions mostly wait on the database: overlap them

    def __init__(self, app, jobs: "RQTimers"):
        super().__init__(app, threads=self.THREADS)
        self.jobs = jobs
        self.connection = jobs.queue.connection
        self.id = uuid.uuid4().hex[:12]
        pool = self.connection.connection_pool
        self._presence = pool.connection_class(**{**pool.connection_kwargs, "client_name": PRESENCE.format(self.id)})

    def arm(self, session_id, version, ends_at):
        super().arm(session_id, version, ends_at)
        ttl = int((ends_at - utcnow()).total_seconds()) + 5
        try:
            self.connection.set(ARMED_KEY.format(session_id), f"{version} {self.id}", ex=max(ttl, 1))
        except redis.RedisError:
            pass  # the note only saves other workers some work

    def alive(self) -> None:
        """Keep this worker's presence open: connect (under its name) if it is
        not, or if Redis lost it."""
        for attempt in range(2):  # a connection Redis lost (a restart) fails once, then reconnects
            try:
                self._presence.send_command("PING")
                self._presence.read_response()
                return
            except (redis.ConnectionError, redis.TimeoutError):
                self._presence.disconnect()
                if attempt:
                    raise

    def stop(self) -> None:
        super().stop()
        self._presence.disconnect()

    def restore(self, session) -> None:
        """The session's job was lost (Redis flushed, say): queue it again."""
        self.jobs.schedule(session)

    def whereabouts(self, rows: list) -> list[tuple[bool, bool]]:
        with self.connection.pipeline(transaction=False) as pipe:
            for row in rows:
                pipe.exists(Job.key_for(self.jobs.job_id(row.id)))
                pipe.get(ARMED_KEY.format(row.id))
            found = pipe.execute()
        held = self._held_elsewhere([(row.version, note) for row, note in zip(rows, found[1::2])])
        return [(bool(job), elsewhere) for job, elsewhere in zip(found[::2], held)]

    def _held_elsewhere(self, notes: list) -> list[bool]:
        """For each (version, note) of a session: does a live worker other than
        this one hold that version of the session in its timer?"""
        holders = [self._holder(version, note) for version, note in notes]
        if not any(holder not in (None, self.id) for holder in holders):
            return [False] * len(holders)
        present = {client.get("name") for client in self.connection.client_list(_type="normal")}
        return [holder not in (None, self.id) and PRESENCE.format(holder) in present for holder in holders]

    @staticmethod
    def _holder(version: int, note: bytes | None) -> str | None:
        """The id of the worker whose note says it holds this version, if any."""
        if note is None:
            return None
        noted_version, _, holder = note.decode().partition(" ")
        return holder if noted_version == str(version) else None


class RQTimers:
    """Production: one RQ delayed job per session (its id names the session,
    so scheduling again replaces the job)."""

    # RQ's queue backs up while the worker is busy completing a burst of
    # sessions; a job that came after `ends_at` would complete its session
    # late, so jobs come this early (bench/README.md has the figures).
    LEAD = timedelta(seconds=30)

    def __init__(self, queue):
        self.queue = queue

    @classmethod
    def connect(cls, redis_url: str) -> "RQTimers":
        """The adapter on the queue at `redis_url` (nothing connects until used)."""
        return cls(Queue("pomodoro", connection=redis.Redis.from_url(redis_url)))

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
        except (NoSuchJobError, InvalidJobOperation):  # gone before the fetch, or between it and the delete
            pass
        except redis.RedisError as error:
            log.warning("could not withdraw the job of session %s: %s", session_id, error)

    def worker_timers(self, app) -> WorkerTimers:
        """The precise timers of a `worker` process, which this queue's jobs arm."""
        return WorkerTimers(app, self)

    def work(self) -> None:
        """Run RQ's worker and its scheduler on this queue (jobs run in this
        process) until SIGTERM or SIGINT."""
        work_queue(self.queue)


def work_queue(queue) -> None:
    """RQ's worker and its scheduler on `queue`, jobs run in this process,
    until SIGTERM or SIGINT; started again after anything else."""
    os.register_at_fork(after_in_child=_stops_when_parent_dies(os.getpid()))
    while True:
        worker = None
        try:
            worker = PomodoroWorker([queue], connection=queue.connection, worker_ttl=18, maintenance_interval=3)
            worker.work(with_scheduler=True, logging_level="WARNING")
        except redis.ConnectionError:
            pass
        # RQ's loop also ends, without raising, on any error it did not expect
        # (Redis going away in the middle of a job, say); only a signal stops us.
        if worker is not None and worker.asked_to_stop:
            return
        log.warning("RQ's worker loop ended (Redis unreachable?); it starts again in a second")
        time.sleep(1)
        if worker is not None and worker.asked_to_stop:  # a signal while we waited
            return


def _stops_when_parent_dies(parent: int):
    """For the children RQ's worker forks (its scheduler): have the kernel send
    SIGTERM when the worker dies, however it dies (SIGKILL included). RQ's
    scheduler stops on SIGTERM and releases its lock, so the next worker's
    scheduler takes the lock over within seconds instead of an orphan holding
    it for as long as it lives."""
    def in_child() -> None:
        if sys.platform != "linux":
            return
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the worker died before the line above
            os.kill(os.getpid(), signal.SIGTERM)
    return in_child


PR_SET_PDEATHSIG = 1  # linux/prctl.h


class PomodoroWorker(SimpleWorker):
    """RQ's worker, recovering from a Redis restart within seconds (RQ backs off
    up to a minute between reconnects and checks on its scheduler process every
    ten minutes; a timer service can't wait that long), and noting a signal."""

    max_connection_wait_time = 2.0
    asked_to_stop = False

    def request_stop(self, signum, frame):
        """SIGTERM or SIGINT (RQ's own handler, which it installs for both)."""
        self.asked_to_stop = True
        super().request_stop(signum, frame)
