"""Tasks at scale: the timer page and `GET /tasks` for a user with 500 open
tasks and 20,000 past sessions, against users with no tasks, in one run.

    .venv/bin/python -m bench.tasks [--mode production|embedded] [--requests 300]

Time to first byte is measured on a raw socket (the request written, the clock
stopped at the first byte of the answer), one request at a time over a
kept-alive connection, after a warm-up.
"""
import argparse
import json
import random
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from pomodoro import create_app, rules
from pomodoro.extensions import db
from pomodoro.models import Cycle, Session, Task

from .common import percentiles, seed_users
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
        db.engine.dispose()


def first_bytes(base: str, path: str, headers: dict, count: int) -> dict:
    """Milliseconds to the first byte of `count` GETs, one after another on one connection."""
    host, port = base.removeprefix("http://").split(":")
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n"
               + "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n").encode()
    timings = []
    with socket.create_connection((host, int(port))) as connection:
        reader = connection.makefile("rb")
        for number in range(count + 20):  # the first 20 warm up
            started = time.perf_counter()
            connection.sendall(request)
            status = reader.readline()
            elapsed = time.perf_counter() - started
            assert status.startswith(b"HTTP/1.1 200"), status
            length, chunked = None, False
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                if name.lower() == "transfer-encoding" and "chunked" in value:
                    chunked = True
            if chunked:
                while (size := int(reader.readline().strip(), 16)) > 0:
                    reader.read(size + 2)
                reader.readline()
            else:
                reader.read(length)
            if number >= 20:
                timings.append(elapsed * 1000)
    return percentiles(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("production", "embedded"), default="production")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    starter = production_stack if args.mode == "production" else embedded_stack
    options = {} if args.mode == "production" else {"tmp_path": __import__("pathlib").Path(
        __import__("tempfile").mkdtemp())}
    with starter(**options) as stack:
        url = stack.env["DATABASE_URL"]
        people = {}
        for name, tasks, sessions in (("no tasks, no sessions", False, False),
                                      ("no tasks, 20,000 sessions", False, True),
                                      ("500 open tasks, 20,000 sessions", True, True)):
            ((user_id, token),) = seed_users(url, 1)
            fill(url, user_id, tasks, sessions)
            people[name] = (user_id, token)
        results = {}
        for name, (user_id, token) in people.items():
            cookie = session_cookie(stack.env["SECRET_KEY"], user_id)
            results[f"timer page · {name}"] = first_bytes(stack.base, "/", {"Cookie": f"session={cookie}"},
                                                          args.requests)
            results[f"GET /tasks · {name}"] = first_bytes(stack.base, "/tasks",
                                                         {"Authorization": f"Bearer {token}"}, args.requests)
        print(json.dumps(results, indent=2))
        base = results["timer page · no tasks, no sessions"]["p50"]
        full = results["timer page · 500 open tasks, 20,000 sessions"]["p50"]
        print(f"timer page p50: {full:.1f} ms with 500 tasks vs {base:.1f} ms with none: {full / base:.2f}x")
        print(f"GET /tasks p50 with 500 tasks: {results['GET /tasks · 500 open tasks, 20,000 sessions']['p50']:.1f} ms")


if __name__ == "__main__":
    main()
