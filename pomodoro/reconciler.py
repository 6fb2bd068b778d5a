"""The one reconciler, in both modes: the backstop that makes every running
session complete on time whatever was lost (a job Redis forgot, a worker that
died, a completion that failed, a process that died before announcing).

Every pass it says this process lives, has the sockets of users whose change
was never announced send a fresh `hello`, completes the overdue sessions no
live timer is on, gives a timer back to those that lost theirs, and (in the
embedded process, which has no `background` process beside it) runs the
background sweeps that are due. It works through the faces of the timers
adapter (`timers.py`) and of the events adapter (`events.py`) only, so the
same code serves the embedded process and every `worker` process.
"""
import logging
import threading
from datetime import timedelta

from flask import current_app

from . import actions, rules
from .background import Sweeps
from .extensions import db
from .models import Session, utcnow

log = logging.getLogger(__name__)
# However alive its worker, a session this far past its end is taken over
# (the backstop for a timer stuck in a live process).
HANDOVER = timedelta(seconds=10)
# The frequent pass looks at the sessions ending this soon.
SOON = timedelta(seconds=3)


def reconcile(timers, now=None, everything: bool = True) -> dict:
    """Complete every overdue session no timer is on and give each running
    session that lost its timer one again.

    A session held by a timer here, or by the timer of another process that
    is alive, is left to it (an overdue one for up to `HANDOVER`): completing
    it here as well would only race it. Sessions due within `SOON` with no
    job coming and no live holder (Redis was flushed, or their worker died)
    are armed here directly; later ones are `restore`d. With `everything`
    false, only sessions due that soon are looked at: the frequent pass stays
    cheap however many timers are running.

    First, users whose change was committed by a process that died before
    publishing its events get a fresh `hello` on their sockets: before any
    completion this pass tells of, so that no listener hears of something
    newer than what the hello then brings it up to date with.
    """
    now = now or utcnow()
    told = current_app.extensions["pomodoro.events"].resynchronise_unannounced(now.timestamp())
    if told:
        log.warning("asked the sockets of %d user(s) for a fresh hello: a process died before announcing a change", told)
    horizon = now + SOON
    # A session a timer here is on is left to it; only the others need a look further.
    running = [row for row in actions.running_sessions(until=None if everything else horizon)
               if not timers.armed(row.id, row.version)]
    counts = {"completed": 0, "rescheduled": 0, "armed": 0}
    for row, (job_coming, held_elsewhere) in zip(running, timers.whereabouts(running)):
        if row.ends_at <= now:
            if not (held_elsewhere and now - row.ends_at < HANDOVER):
                counts["completed"] += actions.complete_by_clock(row.id, row.version, now)
        elif job_coming or held_elsewhere:
            continue
        elif row.ends_at > horizon:
            session = db.session.get(Session, row.id)
            if session is not None and session.version == row.version and session.status == rules.RUNNING:
                timers.restore(session)
                counts["rescheduled"] += 1
            db.session.rollback()
        else:
            timers.arm(row.id, row.version, row.ends_at)
            counts["armed"] += 1
    return counts


class Reconciler:
    """A thread that reconciles every `every` seconds: the sessions due soon,
    and every `full_every` passes (and the first) every running session."""

    def __init__(self, app, timers, every: float, full_every: int = 1, sweeps: bool = True):
        self.app = app
        self.sweeps = Sweeps() if sweeps else None
        self.timers = timers
        self.every = every
        self.full_every = full_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._forever, name="reconciler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _forever(self) -> None:
        passes = 0
        while not self._stop.is_set():
            with self.app.app_context():
                try:
                    self.timers.alive()
                    counts = reconcile(self.timers, everything=passes % self.full_every == 0)
                    if any(counts.values()):
                        log.info("reconciled: %s", counts)
                    if self.sweeps is not None:
                        self.sweeps.run_due()
                except Exception:
                    log.exception("reconciling failed; trying again")
                    db.session.rollback()
                finally:
                    db.session.remove()
            passes += 1
            self._stop.wait(self.every)
