"""The production processes besides `web`, as Flask commands:

`flask --app wsgi worker`, the timer engine. One process runs three things,
each owned by its adapter:
- RQ's worker and scheduler on the timer queue (`RQTimers.work`): jobs run in
  this process, so the timers they arm live here;
- the precise timers (`timers.WorkerTimers`) that complete sessions on their
  `ends_at`;
- the reconciler (`reconciler.Reconciler`): four times a second it says this
  worker lives and looks at the sessions due soon, every 15 seconds at every
  running session.
Several such processes can run side by side: completion is a compare-and-set.

`flask --app wsgi background`, the background work (`RQBackground.work`):
webhook deliveries and the sweeps, in a process of their own, so that sending
never competes with the clock for a worker's interpreter.
"""
import gc
import logging
import os
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .reconciler import Reconciler
from .timers import WorkerTimers

log = logging.getLogger(__name__)
FULL_PASS_SECONDS = 15  # how often a reconciler pass looks at every running session; the others, at those due soon


def _open_connections(count: int) -> None:
    """Open now the database connections that the completion threads and the
    reconciler hold at once, not in the first burst of completions: each is a
    new server process, which made the first moments of a burst run late."""
    try:
        connections = [db.engine.connect() for _ in range(count)]
    except SQLAlchemyError as error:
        log.warning("could not open database connections ahead (%s); they open when needed", error)
        return
    for connection in connections:
        connection.close()  # back to the pool, which keeps them open


def _tune_for_latency() -> None:
    """Latency over throughput: a completion thread waits less for the GIL behind
    RQ's loop, and the collector neither rescans what start-up made nor runs often."""
    sys.setswitchinterval(0.0005)
    _open_connections(WorkerTimers.THREADS + 1)
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


@click.command("worker")
@click.option("--reconcile-every", default=0.25, show_default=True,
              help="Seconds between reconciler passes (a dead worker's sessions are taken over at the next).")
@with_appcontext
def worker_command(reconcile_every: float) -> None:
    """Run the timer engine: RQ worker and scheduler, precise timers, reconciler."""
    app = current_app._get_current_object()
    if not app.config["REDIS_URL"]:
        raise click.UsageError("The worker needs REDIS_URL; without it `flask run` keeps the timers itself.")
    jobs = app.extensions["pomodoro.timers"]
    _tune_for_latency()
    timers = app.extensions["pomodoro.worker"] = jobs.worker_timers(app)
    full_every = max(1, round(FULL_PASS_SECONDS / reconcile_every))
    Reconciler(app, timers, every=reconcile_every, full_every=full_every, sweeps=False).start()
    jobs.work()


@click.command("background")
@with_appcontext
def background_command() -> None:
    """Run the background work: webhook deliveries and the sweeps."""
    app = current_app._get_current_object()
    if not app.config["REDIS_URL"]:
        raise click.UsageError("Background work needs REDIS_URL; without it `flask run` does it itself.")
    os.nice(app.config["BACKGROUND_NICENESS"])  # on a shared host, the clock's processes come first
    app.extensions["pomodoro.background"].work(app)
