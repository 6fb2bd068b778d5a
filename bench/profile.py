"""Where an authenticated read's CPU goes: the WSGI app called in-process, with
no server and no network, for `GET /sessions/current` with a bearer token (a
running session), on a fresh PostgreSQL database and Redis, beside the two
baselines of bench/bare.py called the same way.

    .venv/bin/python -m bench.profile [--requests 3000] [--top 25] [--path /sessions/current]

Prints each one's CPU per request (the least of five rounds) and, for the product, the functions that
take the most of it (cProfile, cumulative). Figures are per process, without
the load generator and server that bench.http adds.
"""
import argparse
import cProfile
import io
import os
import pstats
import time

from werkzeug.test import EnvironBuilder

from tests.conftest import fresh_postgres_database, migrated
from tests.live import RedisServer, free_port

from .common import seed_users


def environ_for(app, path: str, headers: dict) -> dict:
    return EnvironBuilder(path=path, headers=headers, base_url="http://127.0.0.1:5000").get_environ()


def call(app, environ: dict) -> int:
    """One request through the WSGI app; its status code."""
    status = []
    body = app(dict(environ), lambda code, headers, exc_info=None: status.append(code))
    for _ in body:
        pass
    getattr(body, "close", lambda: None)()
    return int(status[0].split()[0])


def cpu_per_request(app, environ: dict, requests: int) -> float:
    started = time.process_time()
    for _ in range(requests):
        call(app, environ)
    return (time.process_time() - started) / requests * 1000


def least_cpu(cases: dict, requests: int, rounds: int = 5) -> dict:
    """Each case's CPU per request: the least of `rounds` rounds, the cases taken
    in turn in each round (so that what else the machine does falls on all alike)."""
    for app, environ in cases.values():
        cpu_per_request(app, environ, 200)  # warm: pool, caches, compiled and prepared statements
    figures = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (app, environ) in cases.items():
            figures[name].append(cpu_per_request(app, environ, requests // rounds))
    return {name: min(values) for name, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--path", default="/sessions/current")
    parser.add_argument("--sort", default="cumulative", help="cumulative or tottime")
    args = parser.parse_args()
    redis = RedisServer(free_port()).start()
    try:
        with fresh_postgres_database() as url:
            migrated(url)
            os.environ.update({"DATABASE_URL": url, "REDIS_URL": redis.url, "SECRET_KEY": "bench"})
            from bench import bare
            from pomodoro import create_app

            app = create_app()
            ((_user, token),) = seed_users(url, 1, work_seconds=86400)
            client = app.test_client()
            started = client.post("/sessions", json={}, headers={"Authorization": f"Bearer {token}"})
            assert started.status_code == 201, started.get_data(as_text=True)
            product = environ_for(app, args.path, {"Authorization": f"Bearer {token}"})
            assert call(app, product) == 200
            figures = least_cpu({
                "bare": (bare.app, environ_for(bare.app, "/bare", {})),
                "bare + SELECT 1": (bare.app, environ_for(bare.app, "/bare-db", {})),
                f"GET {args.path}": (app, product),
            }, args.requests)
            for name, ms in figures.items():
                print(f"{name:32} {ms:.3f} ms CPU a request")
            profiler = cProfile.Profile(time.process_time)  # CPU, not the waits on the database
            profiler.enable()
            for _ in range(args.requests):
                call(app, product)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
            print(out.getvalue())
            app.extensions["pomodoro.timers"].queue.connection.close()
            from pomodoro.extensions import db

            with app.app_context():
                db.engine.dispose()
            bare.engine().dispose()
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
