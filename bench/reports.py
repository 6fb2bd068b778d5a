"""Reports on a long history: GET /stats, the reports page and the export for
one user with 50,000 completed focus sessions over ten years, on PostgreSQL.

Production mode (the Procfile's web line: gunicorn, gevent, 2 workers; its
worker; PostgreSQL and Redis), one client asking one request at a time. The
baselines come from the same run: GET /users/me for the API, the
timer page (same user) for the reports page.

    .venv/bin/python -m bench.reports [--sessions 50000] [--samples 40]

Targets (issue 13): /stats for a year p50 <= 50 ms, for ten years <= 250 ms;
the reports page's first byte within 3x the timer page's; the export of all
sessions sends its first byte within 100 ms and grows the web process by
less than 20 MB.
"""
import argparse
import json
import random
import threading
import time
from datetime import UTC, date, datetime, timedelta

import psutil
import requests

from pomodoro import create_app
from pomodoro.extensions import db
from tests.live import session_cookie
from tests.reports_data import add_sessions
from tests.stacks import production_stack

from .common import percentiles, seed_log_in, seed_users

YEARS = 10


def seed_history(database_url: str, user_id: str, sessions: int, today: date) -> None:
    """`sessions` completed 25-minute focus sessions spread over the last ten years:
    busy days and empty ones, between 06:00 and 22:00 UTC, a few finished early."""
    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None})
    rng = random.Random(13)
    first = today - timedelta(days=365 * YEARS)
    span = (today - first).days
    starts = sorted(datetime.combine(first + timedelta(days=rng.randrange(span)), datetime.min.time(), UTC)
                    + timedelta(hours=6, seconds=rng.randrange(16 * 3600)) for _ in range(sessions))
    with app.app_context():
        for chunk in range(0, sessions, 5000):
            add_sessions(db.session, user_id, [(start, 1500 if rng.random() > 0.1 else 900, 1500)
                                               for start in starts[chunk:chunk + 5000]])
            db.session.commit()
        db.session.execute(db.text("ANALYZE sessions"))
        db.session.commit()
        db.engine.dispose()


def timed(get, samples: int) -> dict:
    """Milliseconds to the first byte of each of `samples` requests, one after another."""
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        response = get()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        response.close()
    return {key: round(value, 1) if isinstance(value, float) else value for key, value in percentiles(times).items()}


def sql_floor(database_url: str, user_id: str, since: date, samples: int) -> dict:
    """The floor under /stats for ten years, measured now: one bare count over the same rows."""
    import psycopg

    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        def count():
            connection.execute("SELECT count(*) FROM sessions WHERE user_id = %s AND type = 'work' "
                               "AND status = 'completed' AND started_at >= %s", (user_id, since)).fetchone()
            return type("Answer", (), {"status_code": 200, "close": lambda self: None})()

        return timed(count, samples)


def web_processes(stack) -> list:
    parent = psutil.Process(stack.web.popen.pid)
    return [parent, *parent.children(recursive=True)]


def export_run(stack, client: requests.Session) -> dict:
    """First byte, first session row, and the web processes' growth in memory (peak RSS sampled every 10 ms
    while the whole CSV is read and thrown away)."""
    processes = web_processes(stack)
    before = {process.pid: process.memory_info().rss for process in processes}
    peak = dict(before)
    reading = True

    def sample():
        while reading:
            for process in processes:
                try:
                    peak[process.pid] = max(peak[process.pid], process.memory_info().rss)
                except psutil.Error:
                    pass
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    response = client.get(stack.base + "/export/sessions.csv", stream=True, timeout=120)
    body = response.raw.read(1)
    first_byte = (time.perf_counter() - started) * 1000
    while body.count(b"\r\n") < 2:  # the header, then the first session
        body += response.raw.read(1)
    first_row = (time.perf_counter() - started) * 1000
    size = len(body)
    while chunk := response.raw.read(65536):
        size += len(chunk)
    total = (time.perf_counter() - started) * 1000
    reading = False
    sampler.join()
    growth = max(peak[pid] - before[pid] for pid in before)
    return {"first_byte_ms": round(first_byte, 1), "first_session_ms": round(first_row, 1),
            "whole_ms": round(total), "bytes": size,
            "rows": None, "growth_mb": round(growth / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    results = {}
    with production_stack() as stack:
        ((user_id, token),) = seed_users(stack.env["DATABASE_URL"], 1, timezone="Europe/Berlin")
        today = datetime.now(UTC).date()
        seeding = time.perf_counter()
        seed_history(stack.env["DATABASE_URL"], user_id, args.sessions, today)
        results["seeded"] = {"sessions": args.sessions, "seconds": round(time.perf_counter() - seeding, 1)}
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"
        browser = requests.Session()
        log_in = seed_log_in(stack.env["DATABASE_URL"], user_id)
        browser.cookies.set("session", session_cookie(stack.env["SECRET_KEY"], log_in))
        page = browser.get(stack.base + "/", allow_redirects=False)
        assert page.status_code == 200 and 'id="timer"' in page.text, page.status_code

        def stats(first: date):
            return api.get(stack.base + "/stats", params={"from": first.isoformat(), "to": today.isoformat()})

        stats(today)  # warm both web processes' connections and caches
        n = args.samples
        results["GET /users/me, baseline"] = timed(lambda: api.get(stack.base + "/users/me"), n)
        results["GET /stats, a week"] = timed(lambda: stats(today - timedelta(days=6)), n)
        results["GET /stats, a year"] = timed(lambda: stats(today - timedelta(days=364)), n)
        results["GET /stats, ten years"] = timed(lambda: stats(today - timedelta(days=3649)), max(n // 2, 5))
        results["SQL floor: count(*) of ten years' sessions"] = sql_floor(
            stack.env["DATABASE_URL"], user_id, today - timedelta(days=3650), max(n // 2, 5))
        results["timer page, baseline"] = timed(lambda: browser.get(stack.base + "/", stream=True), n)
        for view in ("week", "month", "year"):
            results[f"reports page, {view}"] = timed(
                lambda: browser.get(stack.base + "/reports", params={"view": view}, stream=True), n)
        results["export, all sessions (CSV)"] = export_run(stack, browser)
        results["export, all sessions (CSV)"]["rows"] = args.sessions
        results["export, again"] = export_run(stack, browser)
        results["export, again"]["rows"] = args.sessions
    print(json.dumps(results, indent=2))
    timer = results["timer page, baseline"]["p50"]
    print(f"reports page p50 / timer page p50: " + ", ".join(
        f"{view} {results[f'reports page, {view}']['p50'] / timer:.2f}x" for view in ("week", "month", "year")))


if __name__ == "__main__":
    main()
