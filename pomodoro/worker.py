"""`flask --app wsgi worker`: the production timer engine.

One process runs three things:
- an RQ worker (SimpleWorker: jobs run in this process, so the timers they
  arm live here) with RQ's scheduler, both set to recover from a Redis
  restart within seconds rather than RQ's default minutes;
- the precise timer (`LocalTimers`) that completes sessions on their `ends_at`;
- the reconciler: every second it says this worker lives, completes overdue
  sessions that no live worker's timer is on, arms those due soon whose job
  Redis lost or whose worker died, and has the sockets of users whose change
  a dead process never announced send a fresh `hello`; at start and every
  15 seconds it also restores the lost jobs of every running session.
Several such processes can run side by side: completion is a compare-and-set.
"""
import gc
import logging
import sys
import threading
import time
import uuid
from datetime import timedelta

import click
import redis
from flask import current_app
from flask.cli import with_appcontext
from rq import SimpleWorker
from sqlalchemy.exc import SQLAlchemyError

from . import actions, rules
from .background import LocalBackground, Sweeps
from .extensions import db
from .models import Session, utcnow
from .timers import LocalTimers

log = logging.getLogger(__name__)
ARMED_KEY = "pomodoro:armed:{}"  # "<version> <worker id>": which worker's timer holds the session
ALIVE_KEY = "pomodoro:worker:{}"  # set while that worker lives
ALIVE_SECONDS = 3  # a worker that has not said it lives for this long is taken for dead
# However alive its worker, a session this far past its end is taken over
# (the backstop for a timer stuck in a live process).
HANDOVER = timedelta(seconds=10)
# The frequent reconciler pass looks at the sessions ending this soon.
SOON = timedelta(seconds=3)


class PomodoroWorker(SimpleWorker):
    # RQ backs off up to a minute between reconnects and checks on its
    # scheduler process every ten minutes; a timer service can't wait that long.
    max_connection_wait_time = 2.0


class WorkerTimers(LocalTimers):
    """The worker's precise timers, leaving a note in Redis for each armed
    session so that the reconcilers of other workers leave it alone while
    this worker lives (`alive`, every reconciler pass, says so)."""

    THREADS = 12  # completions mostly wait on the database: overlap them

    def __init__(self, app, connection):
        super().__init__(app, threads=self.THREADS)
        self.connection = connection
        self.id = uuid.uuid4().hex[:12]

    def arm(self, session_id, version, ends_at):
        super().arm(session_id, version, ends_at)
        ttl = int((ends_at - utcnow()).total_seconds()) + 5
        try:
            self.connection.set(ARMED_KEY.format(session_id), f"{version} {self.id}", ex=max(ttl, 1))
        except redis.RedisError:
            pass  # the note only saves other workers some work

    def alive(self) -> None:
        self.connection.set(ALIVE_KEY.format(self.id), 1, ex=ALIVE_SECONDS)

    def held_elsewhere(self, notes: list) -> list[bool]:
        """For each (version, note) of a session: does a live worker other than
        this one hold that version of the session in its timer?"""
        holders = [self._holder(version, note) for version, note in notes]
        others = list({holder for holder in holders if holder not in (None, self.id)})
        with self.connection.pipeline(transaction=False) as pipe:
            for holder in others:
                pipe.exists(ALIVE_KEY.format(holder))
            alive = {holder for holder, found in zip(others, pipe.execute()) if found}
        return [holder in alive for holder in holders]

    @staticmethod
    def _holder(version: int, note: bytes | None) -> str | None:
        """The id of the worker whose note says it holds this version, if any."""
        if note is None:
            return None
        noted_version, _, holder = note.decode().partition(" ")
        return holder if noted_version == str(version) else None


def reconcile(timers: WorkerTimers, now=None, everything: bool = True) -> dict:
    """Complete every overdue session no timer is on and restore each missing
    completion job.

    A session held by a timer here, or by the timer of another worker that
    is alive, is left to it (an overdue one for up to `HANDOVER`): completing
    it here as well would only race it. Sessions due within `SOON` whose job
    is gone and that no live worker holds (Redis was flushed, or their worker
    died) are armed here directly; later ones get their job back. With
    `everything` false, only sessions due that soon are looked at: the
    frequent pass stays cheap however many timers are running. Last, users
    whose change was committed by a process that died before publishing its
    events get a fresh `hello` on their sockets.
    """
    now = now or utcnow()
    rq_timers = current_app.extensions["pomodoro.timers"]
    horizon = now + SOON
    # A session a timer here is on is left to it; only the others need a look in Redis.
    running = [row for row in actions.running_sessions(until=None if everything else horizon)
               if not timers.armed(row.id, row.version)]
    counts = {"completed": 0, "rescheduled": 0, "armed": 0}
    with timers.connection.pipeline(transaction=False) as pipe:
        for row in running:
            pipe.exists(f"rq:job:{rq_timers.job_id(row.id)}")
            pipe.get(ARMED_KEY.format(row.id))
        found = pipe.execute()
    held = timers.held_elsewhere([(row.version, note) for row, note in zip(running, found[1::2])])
    for row, job_exists, held_elsewhere in zip(running, found[::2], held):
        if row.ends_at <= now:
            if not (held_elsewhere and now - row.ends_at < HANDOVER):
                counts["completed"] += actions.complete_by_clock(row.id, row.version, now)
        elif job_exists or held_elsewhere:
            continue
        elif row.ends_at > horizon:
            session = db.session.get(Session, row.id)
            if session is not None and session.version == row.version and session.status == rules.RUNNING:
                rq_timers.schedule(session)
                counts["rescheduled"] += 1
            db.session.rollback()
        else:
            timers.arm(row.id, row.version, row.ends_at)
            counts["armed"] += 1
    told = current_app.extensions["pomodoro.events"].resynchronise_unannounced(now.timestamp())
    if told:
        log.warning("asked the sockets of %d user(s) for a fresh hello: a process died before announcing a change", told)
    return counts


def _reconcile_forever(app, timers, interval: float, full_every: int = 15) -> None:
    """Every `interval` seconds, the sessions due soon; every `full_every` passes
    (and the first), every running session."""
    passes = 0
    sweeps = Sweeps()
    while True:
        with app.app_context():
            try:
                timers.alive()
                counts = reconcile(timers, everything=passes % full_every == 0)
                if any(counts.values()):
                    log.info("reconciled: %s", counts)
                sweeps.run_due()
            except Exception:
                log.exception("reconciling failed; trying again")
                db.session.rollback()
            finally:
                db.session.remove()
        passes += 1
        time.sleep(interval)


def _open_connections(count: int) -> None:
    """Open now the database connections that the completion threads and the
    reconciler hold at once, not in the first burst of completions: each is a
    new server process, and the first 0.3 s of a burst of 1,000 completions
    ran up to 70 ms late while they opened."""
    try:
        connections = [db.engine.connect() for _ in range(count)]
    except SQLAlchemyError as error:
        log.warning("could not open database connections ahead (%s); they open when needed", error)
        return
    for connection in connections:
        connection.close()  # back to the pool, which keeps them open


def _asked_to_stop(worker) -> bool:
    """Whether RQ's worker heard SIGTERM or SIGINT (it notes when, idle or busy)."""
    return worker is not None and worker._shutdown_requested_date is not None


@click.command("worker")
@click.option("--reconcile-every", default=1.0, show_default=True, help="Seconds between reconciler passes.")
@with_appcontext
def worker_command(reconcile_every: float) -> None:
    """Run the timer engine: RQ worker and scheduler, precise timers, reconciler."""
    app = current_app._get_current_object()
    rq_timers = app.extensions["pomodoro.timers"]
    if not app.config["REDIS_URL"]:
        raise click.UsageError("The worker needs REDIS_URL; without it `flask run` keeps the timers itself.")
    connection = rq_timers.queue.connection
    # Latency over throughput: a completion thread waits less for the GIL behind
    # RQ's loop, and the collector neither rescans what start-up made nor runs often.
    sys.setswitchinterval(0.0005)
    _open_connections(WorkerTimers.THREADS + 1)
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    timers = WorkerTimers(app, connection)
    app.extensions["pomodoro.worker"] = timers
    app.extensions["pomodoro.background.local"] = LocalBackground(app)
    threading.Thread(
        target=_reconcile_forever, args=(app, timers, reconcile_every), name="reconciler", daemon=True
    ).start()
    while True:
        worker = None
        try:
            worker = PomodoroWorker([rq_timers.queue], connection=connection, worker_ttl=18, maintenance_interval=3)
            worker.work(with_scheduler=True, logging_level="WARNING")
        except redis.ConnectionError:
            pass
        # RQ's loop also ends, without raising, on any error it did not expect
        # (Redis going away in the middle of a job, say); only a signal stops us.
        if _asked_to_stop(worker):
            return
        log.warning("RQ's worker loop ended (Redis unreachable?); it starts again in a second")
        time.sleep(1)
        if _asked_to_stop(worker):  # a signal while we waited
            return
