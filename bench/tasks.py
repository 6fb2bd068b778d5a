"""Tasks at scale: the timer page and `GET /tasks` for a user with 500 open
tasks and 20,000 past sessions, against users with no tasks, in one run.

    .venv/bin/python -m bench.tasks [--mode production|embedded|in-process] [--requests 300]

Time to first byte is measured on a raw socket (the request written, the clock
stopped at the first byte of the answer), one request at a time over a
kept-alive connection per user and URL, the users taken in turn (so the shared
machine's ups and downs fall on all alike), after a warm-up.
"""
import argparse
import json
import random
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from pomodoro import create_app, rules
from pomodoro.extensions import db
from pomodoro.models import Cycle, Session, Task

from .common import percentiles, seed_log_in, seed_users
from tests.live import session_cookie
from tests.stacks import embedded_stack, production_stack

OPEN_TASKS, DONE_TASKS, PAST_SESSIONS = 500, 200, 20_000


def fill(database_url: str, user_id: str, tasks: bool, sessions: bool) -> None:
    """Give the user 500 open tasks (and 200 done) and 20,000 past sessions, in bulk."""
    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None})
    now = datetime.now(UTC)
    rng = random.Random(7)
    with app.app_context():
        task_ids = []
        if tasks:
            rows = []
            for number in range(OPEN_TASKS + DONE_TASKS):
                done = number >= OPEN_TASKS
                task_id = uuid.uuid4().hex
                task_ids.append(task_id)
                rows.append({"id": task_id, "user_id": user_id, "title": f"Task number {number}: a title of some length",
                             "notes": "Notes " * rng.randint(0, 20), "tags": rng.sample(["work", "home", "q3", "deep"], 2),
                             "estimated_pomodoros": rng.randint(0, 6), "done": done,
                             "done_at": now - timedelta(days=rng.randint(0, 300)) if done else None,
                             "active": number == 0, "position": number + 1,
                             "created_at": now - timedelta(days=400), "updated_at": now - timedelta(days=1)})
            db.session.execute(insert(Task), rows)
        if sessions:
            per_cycle = 8
            for first in range(0, PAST_SESSIONS, per_cycle):
                started = now - timedelta(minutes=30 * (PAST_SESSIONS - first) + 60)
                cycle_id = uuid.uuid4().hex
                db.session.execute(insert(Cycle), [{
                    "id": cycle_id, "user_id": user_id, "status": rules.FINISHED, "completed_work_sessions": 4,
                    "long_break_interval": 4, "next_session_type": rules.WORK, "created_at": started,
                    "finished_at": started + timedelta(hours=3)}])
                rows = []
                for position in range(per_cycle):
                    kind = rules.WORK if position % 2 == 0 else rules.SHORT_BREAK
                    at = started + timedelta(minutes=30 * position)
                    rows.append({"id": uuid.uuid4().hex, "user_id": user_id, "cycle_id": cycle_id, "type": kind,
                                 "status": rules.COMPLETED, "position": position + 1, "duration_seconds": 1500,
                                 "remaining_seconds": 0.0, "started_at": at, "ends_at": at + timedelta(minutes=25),
                                 "completed_at": at + timedelta(minutes=25), "version": 2,
                                 "task_id": rng.choice(task_ids) if task_ids and kind == rules.WORK else None,
                                 "note": "Did a thing" if position == 0 else None})
                db.session.execute(insert(Session), rows)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":  # as autovacuum would soon: plans made without statistics mislead
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("ANALYZE"))
        db.engine.dispose()


class Connection:
    """One kept-alive connection asking for one URL; `first_byte()` times one GET."""

    def __init__(self, base: str, path: str, headers: dict):
        host, port = base.removeprefix("http://").split(":")
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n"
                        + "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n").encode()
        self.socket = socket.create_connection((host, int(port)))
        self.reader = self.socket.makefile("rb")

    def first_byte(self) -> float:
        """Milliseconds from sending the request to the first byte of the answer (read whole after)."""
        started = time.perf_counter()
        self.socket.sendall(self.request)
        status = self.reader.readline()
        elapsed = time.perf_counter() - started
        assert status.startswith(b"HTTP/1.1 200"), status
        length, chunked = 0, False
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            if name.lower() == "transfer-encoding" and "chunked" in value:
                chunked = True
        if chunked:
            while (size := int(self.reader.readline().strip(), 16)) > 0:
                self.reader.read(size + 2)
            self.reader.readline()
        else:
            self.reader.read(length)
        return elapsed * 1000

    def close(self) -> None:
        self.socket.close()


def interleaved(connections: dict, count: int) -> dict:
    """Time `count` GETs on each connection, taking them in turn so that the
    machine's ups and downs fall on all of them alike (after 20 each to warm up)."""
    timings = {name: [] for name in connections}
    for number in range(count + 20):
        for name, connection in connections.items():
            elapsed = connection.first_byte()
            if number >= 20:
                timings[name].append(elapsed)
    return {name: percentiles(values) for name, values in timings.items()}


def in_process(requests: int) -> dict:
    """The code's own cost, with no server, network or load generator in the
    way: whole requests through Flask's test client on PostgreSQL, in turn."""
    from tests.conftest import config, fresh_postgres_database, migrated

    with fresh_postgres_database() as url:
        migrated(url)
        app = create_app(config(url))
        clients = {}
        for name, tasks, sessions in PEOPLE:
            ((user_id, token),) = seed_users(url, 1)
            fill(url, user_id, tasks, sessions)
            page = app.test_client()
            page.set_cookie("session", session_cookie("test", seed_log_in(url, user_id)))
            clients[f"timer page · {name}"] = (page, "/", {})
            clients[f"GET /tasks · {name}"] = (app.test_client(), "/tasks", {"Authorization": f"Bearer {token}"})
        timings = {name: [] for name in clients}
        for number in range(requests + 20):
            for name, (client, path, headers) in clients.items():
                started = time.perf_counter()
                assert client.get(path, headers=headers).status_code == 200
                if number >= 20:
                    timings[name].append((time.perf_counter() - started) * 1000)
        with app.app_context():
            db.engine.dispose()
    return {name: percentiles(values) for name, values in timings.items()}


PEOPLE = (("no tasks, no sessions", False, False), ("no tasks, 20,000 sessions", False, True),
          ("500 open tasks, 20,000 sessions", True, True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("production", "embedded", "in-process"), default="production")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    if args.mode == "in-process":
        report(in_process(args.requests))
        return
    starter = production_stack if args.mode == "production" else embedded_stack
    options = {} if args.mode == "production" else {"tmp_path": __import__("pathlib").Path(
        __import__("tempfile").mkdtemp())}
    with starter(**options) as stack:
        url = stack.env["DATABASE_URL"]
        people = {}
        for name, tasks, sessions in PEOPLE:
            ((user_id, token),) = seed_users(url, 1)
            fill(url, user_id, tasks, sessions)
            people[name] = (user_id, token)
        connections = {}
        for name, (user_id, token) in people.items():
            cookie = session_cookie(stack.env["SECRET_KEY"], seed_log_in(stack.env["DATABASE_URL"], user_id))
            connections[f"timer page · {name}"] = Connection(stack.base, "/", {"Cookie": f"session={cookie}"})
            connections[f"GET /tasks · {name}"] = Connection(stack.base, "/tasks", {"Authorization": f"Bearer {token}"})
        results = interleaved(connections, args.requests)
        for connection in connections.values():
            connection.close()
        report(results)


def report(results: dict) -> None:
    print(json.dumps(results, indent=2))
    for name, figures in results.items():
        print(f"{name:45s} p50 {figures['p50']:6.1f} ms  p99 {figures['p99']:6.1f} ms")
    base = results["timer page · no tasks, no sessions"]["p50"]
    full = results["timer page · 500 open tasks, 20,000 sessions"]["p50"]
    print(f"timer page p50: {full:.1f} ms with 500 tasks vs {base:.1f} ms with none: {full / base:.2f}x")
    print(f"GET /tasks p50 with 500 tasks: {results['GET /tasks · 500 open tasks, 20,000 sessions']['p50']:.1f} ms")


if __name__ == "__main__":
    main()
