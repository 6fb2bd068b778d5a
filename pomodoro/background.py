"""Background work: slow side effects (a webhook delivery, say) run here, never
inside a request and never on the path that completes sessions.

One face, `run(job, *args, at=None)`: run the plain function named by the
dotted path `job` (it takes ids, and runs inside an app context) now or at
`at`, trying again a few times if it raises (`run_each` hands several calls
of one job over at once). Two adapters behind it:
- `LocalBackground` (embedded mode, and inside each `background` process): a
  scheduler thread and a small pool of threads in this process;
- `RQBackground` (production): a job due now is pushed on a Redis list (one
  round trip), a job due later is an RQ job in RQ's schedule; the
  `background` processes (`RQBackground.work`) take the list in batches and
  work the RQ queue, and hand each job straight to their own
  `LocalBackground`, so a slow job never holds up the jobs behind it. (An RQ
  job costs RQ's dozen Redis round trips one at a time on its loop: too slow
  for the burst of deliveries a burst of completions makes.) The `worker`
  processes that keep the clock never run one: what they start is sent by
  another process.

`every(seconds)` registers a sweep, run periodically (by the embedded
process's reconciler, or by each `background` process) to pick up what a
restart lost (work lives in rows; a job only says "now").
"""
import heapq
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import redis
from flask import current_app
from rq import Queue, Retry
from werkzeug.utils import import_string

from .models import utcnow

log = logging.getLogger(__name__)

# Seconds before each new try of a job that raised.
RETRY_AFTER = (1, 5, 30)


def run(job: str, *args, at: datetime | None = None) -> None:
    """Run `job(*args)` in the background, now or at `at`."""
    current_app.extensions["pomodoro.background"].run(job, *args, at=at)


def run_each(job: str, calls: list[tuple]) -> None:
    """Run `job(*args)` now for each `args` of `calls`, handed over together
    (in production one Redis round trip for them all)."""
    if calls:
        current_app.extensions["pomodoro.background"].run_each(job, calls)


_sweeps: list[tuple[float, Callable[[], None]]] = []


def every(seconds: float):
    """Have the sweeps (the embedded process's reconciler, or each `background`
    process) run the decorated function (no arguments, in an app context)
    about every `seconds`."""
    def register(sweep: Callable[[], None]) -> Callable[[], None]:
        _sweeps.append((seconds, sweep))
        return sweep
    return register


class Sweeps:
    """When each registered sweep last ran, for one reconciler loop."""

    def __init__(self):
        self._last: dict[Callable, datetime] = {}

    def run_due(self, now: datetime | None = None) -> None:
        now = now or utcnow()
        for seconds, sweep in _sweeps:
            last = self._last.get(sweep)
            if last is None or now - last >= timedelta(seconds=seconds):
                self._last[sweep] = now
                try:
                    sweep()
                except Exception:
                    log.exception("sweep %s failed; it runs again next time", sweep.__name__)


def _sweep_forever(app, every: float) -> None:
    from .extensions import db

    sweeps = Sweeps()
    while True:
        with app.app_context():
            try:
                sweeps.run_due()
            finally:
                db.session.remove()
        time.sleep(every)


class LocalBackground:
    """Jobs on a heap by due time; each runs on a small pool when due (a job
    due now goes to the pool at once)."""

    def __init__(self, app, threads: int = 4):
        self.app = app
        self._heap: list = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread = None
        self._stopped = False
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="background")

    def run(self, job: str, *args, at: datetime | None = None, attempt: int = 0) -> None:
        if at is None:
            with self._wake:
                if not self._stopped:
                    self._pool.submit(self._perform, job, args, attempt)
            return
        with self._wake:
            heapq.heappush(self._heap, (at, next(self._order), job, args, attempt))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="background", daemon=True)
                self._thread.start()
            self._wake.notify()

    def run_each(self, job: str, calls: list[tuple]) -> None:
        for args in calls:
            self.run(job, *args)

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._heap or self._heap[0][0] > utcnow()):
                    timeout = (self._heap[0][0] - utcnow()).total_seconds() if self._heap else None
                    self._wake.wait(timeout)
                if self._stopped:
                    return
                _, _, job, args, attempt = heapq.heappop(self._heap)
            self._pool.submit(self._perform, job, args, attempt)

    def _perform(self, job: str, args: tuple, attempt: int) -> None:
        from .extensions import db

        with self.app.app_context():
            try:
                import_string(job)(*args)
            except Exception:
                db.session.rollback()
                if attempt >= len(RETRY_AFTER):
                    log.exception("background job %s%r failed for good", job, args)
                    return
                log.warning("background job %s%r failed; trying again", job, args, exc_info=True)
                self.run(job, *args, at=utcnow() + timedelta(seconds=RETRY_AFTER[attempt]), attempt=attempt + 1)
            finally:
                db.session.remove()


class RQBackground:
    """Production: each job travels to a `background` process, through a Redis
    list if it is due now, as an RQ job if it is due later."""

    QUEUE = "pomodoro-background"
    NOW = "pomodoro:background:now"  # the list of jobs due now, as JSON [job, args]
    BATCH = 100

    def __init__(self, queue):
        self.queue = queue

    @classmethod
    def connect(cls, redis_url: str) -> "RQBackground":
        """The adapter on its queue at `redis_url` (nothing connects until used)."""
        return cls(Queue(cls.QUEUE, connection=redis.Redis.from_url(redis_url)))

    def work(self, app, sweep_every: float = 1.0) -> None:
        """Be a `background` process until SIGTERM or SIGINT: RQ's worker and
        scheduler on this queue, handing each job to this process's threads,
        and the sweeps."""
        from .timers import work_queue

        local = app.extensions["pomodoro.background.local"] = LocalBackground(app)
        threading.Thread(target=_sweep_forever, args=(app, sweep_every), name="sweeps", daemon=True).start()
        threading.Thread(target=self._take_forever, args=(local,), name="background-list", daemon=True).start()
        work_queue(self.queue)

    def take(self, local: "LocalBackground", wait: float = 5) -> int:
        """Hand the jobs due now (waiting up to `wait` seconds for the first)
        to `local`'s threads; how many there were."""
        connection = self.queue.connection
        first = connection.blpop([self.NOW], timeout=wait)
        if first is None:
            return 0
        batch = [first[1], *(connection.lpop(self.NOW, self.BATCH) or [])]
        for raw in batch:
            job, args = json.loads(raw)
            local.run(job, *args)
        return len(batch)

    def _take_forever(self, local: "LocalBackground") -> None:
        while True:
            try:
                self.take(local)
            except redis.RedisError as error:  # what was queued lives in rows: the sweeps send it
                log.warning("could not take background jobs (%s); trying again in a second", error)
                time.sleep(1)

    def run(self, job: str, *args, at: datetime | None = None) -> None:
        try:
            if at is None or at <= utcnow():
                self.queue.connection.rpush(self.NOW, json.dumps([job, list(args)]))
            else:
                self.queue.enqueue_at(at, hand_over, job, *args, result_ttl=0, failure_ttl=3600,
                                      retry=Retry(max=len(RETRY_AFTER), interval=list(RETRY_AFTER)))
        except redis.RedisError as error:  # the work is in rows: a sweep queues it again
            log.warning("could not queue %s%r: %s", job, args, error)

    def run_each(self, job: str, calls: list[tuple]) -> None:
        try:
            self.queue.connection.rpush(self.NOW, *(json.dumps([job, list(args)]) for args in calls))
        except redis.RedisError as error:  # as above: a sweep queues them again
            log.warning("could not queue %d of %s: %s", len(calls), job, error)


def hand_over(job: str, *args) -> None:
    """The RQ job: hand `job` to this process's own threads (or run it here, in
    a process that has none)."""
    local = current_app.extensions.get("pomodoro.background.local")
    if local is None:
        import_string(job)(*args)
    else:
        local.run(job, *args)
