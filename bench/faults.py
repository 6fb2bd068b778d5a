"""Load with faults: while simulated users start, pause, resume, skip and
finish short sessions against the production processes, knock each process
over in turn; then check from the database that every session kept the rules
and that every listener heard of every completion.

    .venv/bin/python -m bench.faults --users 200 --seconds 60

The Procfile's web line (gunicorn + gevent, 2 workers), one RQ worker, a
private Redis and a private PostgreSQL cluster (its own directory and port, so
restarting it touches nobody else's databases) run on loopback. Every user has
a token and a reconnecting WebSocket listener. Spaced through the period:
the RQ worker is killed (SIGKILL) and started again; Redis is killed and
started again, empty; one gunicorn worker is killed (SIGKILL) and the master
left to replace it (`--web-fault all` kills and restarts the whole gunicorn
instead); PostgreSQL is restarted (`pg_ctl restart -m fast`).

After the period no more actions are made; once no session is left running
(with a deadline) the run reads the database and counts:
- early completions: a session completed by its clock before its time (the
  stored times, and the notice arriving before the `ends_at` the client saw);
- stuck sessions: still running after their `ends_at`;
- lost notices: a completed session (by its clock or by its user) whose
  user's listener heard neither `session.completed` for it nor, in the first
  `hello` after it, that it no longer ran; a hello does not make good a notice
  missed while that listener went on hearing the user's later events (later
  than the session's completion could have been made: see `notices`);
- rule violations: anything else the stored history contradicts in the rules
  (field shapes per status, the cycle replayed session by session through
  `rules.advance_cycle`, auto-starts, overlaps, one open session and one active
  cycle per user, one completion notice per session).
It exits non-zero if any of them is not 0. The load generator (one asyncio
loop, a small thread pool for HTTP) shares the machine's cores with the servers.
"""
import argparse
import asyncio
import json
import os
import pwd
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import psutil
import psycopg
import requests
from psycopg.rows import namedtuple_row
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from pomodoro import rules
from tests.live import answers, free_port, parse_time, wait_until
from tests.stacks import production_stack

from . import webhook_checks
from .common import ReceiverProcess, percentiles, seed_users

EPSILON = timedelta(milliseconds=2)  # stored times are to the microsecond; JSON ones to the millisecond
# Two processes may publish a user's events in the other order than they
# committed them (a completion, and the start that followed it): by a moment,
# not by this much.
ORDER_SLACK = timedelta(seconds=1)
UNKNOWN = object()  # the user does not know the state of their session: ask
CLOSE_TO_ITS_END = timedelta(seconds=0.2)
# What a user does with their open session, by its status: (weight, action, path after the session's, status asked for).
# Half the time a running session is left to run out: the clock ends most sessions.
MOVES = {
    rules.RUNNING: [(50, None, None, None), (10, "pause", "/stop", None), (10, "pause", "/status", rules.PAUSED),
                    (15, "skip", "/status", rules.CANCELLED), (15, "finish", "/status", rules.COMPLETED)],
    rules.PAUSED: [(30, "resume", "/resume", None), (30, "resume", "/status", rules.RUNNING),
                   (20, "skip", "/status", rules.CANCELLED), (20, "finish", "/status", rules.COMPLETED)],
}


# -- a PostgreSQL cluster of the run's own ------------------------------------

def postgres_programs() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not installed:
        raise SystemExit("PostgreSQL's server programs (initdb, pg_ctl) are not installed.")
    return installed[-1].parent


class PrivatePostgres:
    """initdb in a temp directory, served on a free port with its socket in that
    directory. As root, the programs run as the `postgres` user (initdb will not
    run as root)."""

    def __init__(self):
        self.programs = postgres_programs()
        self.folder = Path(tempfile.mkdtemp(prefix="pomodoro-faults-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/pomodoro"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.programs / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")

    def _pg_ctl(self, action: str, *args: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.data), "-w", "-t", "60", *args)

    def _serve(self, action: str, *args: str) -> None:
        self._pg_ctl(action, "-l", str(self.folder / "server.log"),
                     "-o", f"-p {self.port} -k {self.folder} -h 127.0.0.1", *args)

    def start(self) -> "PrivatePostgres":
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self._serve("start")
        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            admin.execute("CREATE DATABASE pomodoro")
        return self

    def restart(self) -> None:
        self._serve("restart", "-m", "fast")

    def stop(self) -> None:
        try:
            self._pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


# -- the simulated users ------------------------------------------------------

def settings_of(number: int) -> dict:
    """Short sessions; a mix of auto-start choices (seeded by the user's number)."""
    chance = random.Random(number)
    return {
        "work_seconds": chance.randint(2, 4),
        "short_break_seconds": chance.randint(1, 2),
        "long_break_seconds": chance.randint(1, 2),
        "long_break_interval": chance.randint(2, 4),
        "auto_start_breaks": chance.random() < 0.7,
        "auto_start_work": chance.random() < 0.3,
    }


def error_kind(error: requests.RequestException) -> str:
    if isinstance(error, requests.Timeout):
        return "timeout"
    if "Connection refused" in str(error):  # urllib3 names the errno in its message
        return "connection refused"
    return "connection dropped"


class User:
    def __init__(self, user_id: str, token: str, base: str, stats: "Stats"):
        self.id, self.token, self.base, self.stats = user_id, token, base, stats
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.current = UNKNOWN  # the open session as this user last saw it, or None
        self.frames: list[tuple[float, int, dict, datetime]] = []  # (arrived, connection number, frame, its "at")
        self.connections = 0
        self.latest_end: dict[str, datetime] = {}  # the latest ends_at seen for each session

    # what the user knows
    def see(self, session: dict | None) -> None:
        if session and session.get("ends_at"):
            ends_at = parse_time(session["ends_at"])
            if ends_at > self.latest_end.get(session["id"], ends_at - EPSILON):
                self.latest_end[session["id"]] = ends_at

    def hear(self, frame: dict, connection: int) -> None:
        self.frames.append((time.time(), connection, frame, parse_time(frame["at"])))
        event, data = frame["event"], frame["data"]
        for key in ("session", "next_session"):
            self.see(data.get(key))
        if event in ("hello", "session.started", "session.paused", "session.resumed"):
            self.current = data["session"]
        elif event in ("session.completed", "session.cancelled"):
            mine = isinstance(self.current, dict) and self.current["id"] == data["session"]["id"]
            if mine or data.get("next_session"):
                self.current = data.get("next_session")

    # what the user does
    def choose(self):
        current = self.current
        if current is UNKNOWN:
            return "refresh", "GET", "/sessions/current", None
        if current is None:
            if random.random() < 0.05:
                return "new cycle", "POST", "/cycles", {}
            return "start", "POST", "/sessions", {}
        if current["status"] == rules.RUNNING and parse_time(current["ends_at"]) < datetime.now(UTC) + CLOSE_TO_ITS_END:
            return None  # its clock is about to run out: let it
        moves = MOVES[current["status"]]
        name, suffix, status = random.choices([move[1:] for move in moves], [move[0] for move in moves])[0]
        if name is None:
            return None
        return name, "PATCH", f"/sessions/{current['id']}{suffix}", {"status": status} if status else None

    def request(self, method: str, path: str, body):
        """One HTTP call (in a pool thread): (status, data), or (error kind, None)."""
        try:
            response = self.http.request(method, self.base + path, json=body, timeout=(3, 10))
        except requests.RequestException as error:
            return error_kind(error), None
        if response.status_code >= 500:
            return "5xx", None
        return response.status_code, (response.json() if response.content else None)

    def answered(self, path: str, status, data) -> None:
        if isinstance(status, str):
            self.stats.error(f"http: {status}")
            self.current = UNKNOWN
        elif status == 409:
            self.stats.refused += 1
            self.current = UNKNOWN
        elif path == "/sessions/current" and status in (200, 404):
            self.current = data if status == 200 else None
        elif path == "/cycles" and status == 201:
            self.current = None
        elif status in (200, 201) and data and "status" in data:
            self.see(data)
            self.current = data if data["status"] in rules.OPEN_STATUSES else None
        else:
            self.stats.error(f"http: {status}")
            self.current = UNKNOWN


class Stats:
    def __init__(self):
        self.errors = Counter()
        self.error_times: list[tuple[float, str]] = []
        self.actions = Counter()
        self.refused = 0

    def error(self, kind: str) -> None:
        self.errors[kind] += 1
        self.error_times.append((time.time(), kind))


async def act(user: User, stop_at: float, think: float, pool, stats: Stats) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(random.uniform(0, think))
    while True:
        await asyncio.sleep(min(random.uniform(0.5, 1.5) * think, max(0.0, stop_at - time.time())))
        if time.time() >= stop_at:
            return
        choice = user.choose()
        if choice is None:
            continue
        name, method, path, body = choice
        stats.actions[name] += 1
        status, data = await loop.run_in_executor(pool, user.request, method, path, body)
        user.answered(path, status, data)


async def listen(user: User, url: str, stats: Stats) -> None:
    """Keep one socket open for the user, reconnecting whenever it drops (until cancelled)."""
    while True:
        try:
            async with connect(url, compression=None, ping_interval=None, open_timeout=10, close_timeout=1,
                               max_queue=None) as ws:
                user.connections += 1
                async for text in ws:
                    user.hear(json.loads(text), user.connections)
            stats.error("ws: closed by the server")
        except ConnectionClosed:
            stats.error("ws: connection dropped")
        except InvalidStatus as error:
            code = error.response.status_code
            stats.error("ws: 5xx" if code >= 500 else f"ws: {code}")
        except ConnectionRefusedError:
            stats.error("ws: connection refused")
        except TimeoutError:
            stats.error("ws: timeout")
        except (OSError, InvalidHandshake):
            stats.error("ws: connection dropped")
        await asyncio.sleep(random.uniform(0.1, 0.4))


# -- the faults -----------------------------------------------------------------

def kill_the_rq_worker(stack, _postgres) -> str:
    stack.worker.stop(signal.SIGKILL)
    stack.worker.start()
    return "SIGKILL to the RQ worker, then started again"


def kill_the_background_process(stack, _postgres) -> str:
    stack.background.stop(signal.SIGKILL)
    stack.background.start()
    return "SIGKILL to the background process (webhook deliveries), then started again"


def restart_redis_empty(stack, _postgres) -> str:
    stack.redis.stop(signal.SIGKILL)
    stack.redis.start()  # it keeps nothing on disk: it comes back empty
    return "SIGKILL to redis-server, then started again, empty"


def kill_one_web_worker(stack, _postgres) -> str:
    """SIGKILL to the gunicorn worker holding the most connections; its master starts another."""
    master = psutil.Process(stack.web.popen.pid)

    def held(worker) -> int:
        return sum(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == stack.port
                   for c in worker.net_connections(kind="tcp"))

    victim, holding = max(((worker, held(worker)) for worker in master.children()), key=lambda pair: pair[1])
    victim.send_signal(signal.SIGKILL)
    wanted = int(stack.env["WEB_CONCURRENCY"])

    def replaced():
        alive = [child for child in master.children() if child.pid != victim.pid
                 and child.status() != psutil.STATUS_ZOMBIE]
        return len(alive) >= wanted and answers(stack.base + "/openapi.json")

    wait_until(replaced, 60, interval=0.1, message="gunicorn to replace its worker")
    return f"SIGKILL to one gunicorn worker (the one holding more connections: {holding}); the master started another"


def restart_all_of_gunicorn(stack, _postgres) -> str:
    stack.web.stop(signal.SIGKILL)
    stack.start_web()
    return "SIGKILL to gunicorn (master and workers), then started again"


def restart_postgres(_stack, postgres) -> str:
    postgres.restart()
    return "pg_ctl restart -m fast"


async def inflict(faults, stack, postgres, began: float, seconds: float, log: list) -> None:
    for index, fault in enumerate(faults):
        due = began + seconds * (index + 1) / (len(faults) + 1)
        await asyncio.sleep(max(0.0, due - time.time()))
        started = time.time()
        what = await asyncio.to_thread(fault, stack, postgres)
        log.append({"at": started - began, "took": time.time() - started, "what": what})


# -- the checks -------------------------------------------------------------------

def load(database_url: str):
    with psycopg.connect(database_url, row_factory=namedtuple_row) as connection:
        users = {row.id: row for row in connection.execute("SELECT * FROM users")}
        cycles = connection.execute("SELECT * FROM cycles ORDER BY user_id, created_at").fetchall()
        sessions = connection.execute("SELECT * FROM sessions ORDER BY cycle_id, position").fetchall()
    return users, cycles, sessions


def ended_at(session):
    return session.completed_at or session.cancelled_at


def session_problems(session, user) -> tuple[list[str], bool]:
    """What the stored session contradicts in the rules; and whether it was completed early."""
    problems = []
    if session.status not in rules.SESSION_STATUSES or session.type not in rules.SESSION_TYPES:
        return [f"status {session.status!r}, type {session.type!r}"], False
    if session.duration_seconds != rules.duration_for(user, session.type):
        problems.append(f"duration {session.duration_seconds} s, configured {rules.duration_for(user, session.type)} s")
    if not 0 <= session.remaining_seconds <= session.duration_seconds:
        problems.append(f"remaining {session.remaining_seconds} s of {session.duration_seconds} s")
    ran_at_least = timedelta(seconds=session.duration_seconds - session.remaining_seconds) - EPSILON
    shape = {  # status: (the fields that must be set, the fields that must be empty)
        rules.RUNNING: (("ends_at",), ("paused_at", "completed_at", "cancelled_at")),
        rules.PAUSED: (("paused_at",), ("ends_at", "completed_at", "cancelled_at")),
        rules.COMPLETED: (("completed_at", "ends_at"), ("paused_at", "cancelled_at")),
        rules.CANCELLED: (("cancelled_at",), ("ends_at", "paused_at", "completed_at")),
    }[session.status]
    problems += [f"{session.status} without {name}" for name in shape[0] if getattr(session, name) is None]
    problems += [f"{session.status} with {name}" for name in shape[1] if getattr(session, name) is not None]
    if problems:
        return problems, False
    early = False
    if session.status == rules.RUNNING:
        if session.ends_at - session.started_at < timedelta(seconds=session.duration_seconds) - EPSILON:
            problems.append("running with an ends_at sooner than its duration allows")
    elif session.status == rules.PAUSED:
        if session.remaining_seconds <= 0 or session.paused_at - session.started_at < ran_at_least:
            problems.append("paused with a remaining time its history does not allow")
    elif session.status == rules.COMPLETED:
        if session.ends_at != session.completed_at:
            problems.append("completed with ends_at not its completed_at")
        early = session.completed_at - session.started_at < ran_at_least
    elif session.remaining_seconds <= 0 or session.cancelled_at - session.started_at < ran_at_least:
        problems.append("cancelled with a remaining time its history does not allow")
    return problems, early


def cycle_problems(cycle, sessions, user, following) -> list[str]:
    """Replay the cycle's sessions through the rules and compare with what is stored."""
    problems = []
    if cycle.long_break_interval != user.long_break_interval:
        problems.append(f"cycle interval {cycle.long_break_interval}, configured {user.long_break_interval}")
    if [s.position for s in sessions] != list(range(1, len(sessions) + 1)):
        problems.append(f"positions {[s.position for s in sessions]}")
    replay = SimpleNamespace(status=rules.ACTIVE, completed_work_sessions=0, finished_at=None,
                             long_break_interval=cycle.long_break_interval, next_session_type=rules.WORK)
    for index, session in enumerate(sessions):
        later = sessions[index + 1] if index + 1 < len(sessions) else None
        where = f"position {session.position}"
        if replay.status != rules.ACTIVE:
            problems.append(f"{where} started in a finished cycle")
        if session.type != replay.next_session_type:
            problems.append(f"{where} is a {session.type} where a {replay.next_session_type} was next")
        if session.status in rules.OPEN_STATUSES:
            if later is not None:
                problems.append(f"{where} is still {session.status} but position {later.position} started")
            break
        rules.advance_cycle(replay, session, ended_at(session))
        automatic = rules.auto_start_type(replay, user) if session.status == rules.COMPLETED else None
        if automatic and (later is None or later.started_at != session.completed_at):
            problems.append(f"{where} completed and the {automatic} asked to start by itself did not")
        elif later is not None and later.started_at < ended_at(session):
            problems.append(f"position {later.position} started before {where} ended")
        elif later is not None and not automatic and later.started_at == ended_at(session):
            problems.append(f"position {later.position} started by itself, not asked to")
    stored = (cycle.completed_work_sessions, cycle.next_session_type)
    if stored != (replay.completed_work_sessions, replay.next_session_type):
        problems.append(f"stored {cycle.completed_work_sessions} work sessions, {cycle.next_session_type} next; "
                        f"its sessions say {replay.completed_work_sessions}, {replay.next_session_type}")
    if replay.status == rules.FINISHED:
        if cycle.status != rules.FINISHED or cycle.finished_at != replay.finished_at:
            problems.append(f"the long break ended at {replay.finished_at} but the cycle is {cycle.status}")
    elif cycle.status == rules.FINISHED:  # only a new cycle finishes one before its long break
        if following is None or following.created_at != cycle.finished_at:
            problems.append("finished before its long break, with no new cycle made then")
        elif sessions and sessions[-1].status in rules.OPEN_STATUSES:
            problems.append("finished with a session open")
    elif cycle.status != rules.ACTIVE or following is not None:
        problems.append(f"{cycle.status} although a later cycle exists" if following else f"status {cycle.status!r}")
    return problems


def user_problems(cycles, sessions) -> list[str]:
    problems = []
    open_ones = [s for s in sessions if s.status in rules.OPEN_STATUSES]
    if len(open_ones) > 1:
        problems.append(f"{len(open_ones)} sessions open at once")
    if sum(c.status == rules.ACTIVE for c in cycles) > 1:
        problems.append("more than one active cycle")
    ordered = sorted(sessions, key=lambda s: s.started_at)
    for before, after in zip(ordered, ordered[1:]):
        if before.status in rules.OPEN_STATUSES or after.started_at < ended_at(before):
            problems.append(f"session {after.id} started while {before.id} was {before.status} (overlap)")
    for before, after in zip(cycles, cycles[1:]):
        if before.finished_at is None or after.created_at < before.finished_at:
            problems.append(f"cycle {after.id} made while {before.id} was still active")
    return problems


def notices(user: User, session) -> dict:
    """What the user's listener heard of the session's completion: the notice
    itself, or else the first `hello` sent after it, unless the listener was
    meanwhile hearing this user's later events (then the notice was lost on a
    healthy connection, and a hello that came later does not excuse it).

    "After it" counts from the later of the stored `completed_at` and the
    moment the session's start was announced: a session completed by its clock
    stores its `ends_at`, and when the worker is behind its start may be
    announced after that, with its completion later still."""
    heard = [(arrived, frame) for arrived, _, frame, _ in user.frames
             if frame["event"] in ("session.completed", "session.cancelled")
             and frame["data"]["session"]["id"] == session.id]
    if heard:
        return {"heard": heard}
    since = max([session.completed_at, *(at for _, _, frame, at in user.frames if starts(frame, session.id))])
    for _, _, frame, at in user.frames:
        if frame["event"] != "hello":
            if at >= since + ORDER_SLACK:
                return {}
        elif at >= since:
            shown = frame["data"]["session"]
            return {"hello": shown is None or shown["id"] != session.id or shown["status"] != rules.RUNNING}
    return {}


def starts(frame: dict, session_id: str) -> bool:
    """Whether the frame announces the start of the session (itself, or as what follows a completion)."""
    data = frame["data"] or {}
    if frame["event"] == "session.started":
        return data["session"]["id"] == session_id
    return frame["event"] == "session.completed" and (data.get("next_session") or {}).get("id") == session_id


def accounted(users_by_id: dict, completed) -> bool:
    return all(notices(users_by_id[s.user_id], s) for s in completed)


def heard_around(user: User, moment: datetime, began: float) -> str:
    """What the user's listener heard from a second before `moment` to five after
    (event, the second of the run it was sent, its connection), to tell a lost notice's story."""
    def named(frame: dict) -> str:
        session = (frame["data"] or {}).get("session") or {}
        return f" {session['id'][:6]}" if session.get("id") else ""

    return ", ".join(f"{frame['event']}{named(frame)} {at.timestamp() - began:.2f} s #{connection}"
                     for _, connection, frame, at in user.frames
                     if moment - timedelta(seconds=1) <= at <= moment + timedelta(seconds=5))


def check(database_url: str, users_by_id: dict, began: float) -> dict:
    users, cycles, sessions = load(database_url)
    now = datetime.now(UTC)
    result = Counter()
    examples: list[str] = []
    lateness, published = [], []

    def violation(what: str) -> None:
        result["rule violations"] += 1
        if len(examples) < 20:
            examples.append(what)

    by_cycle, by_user_sessions, by_user_cycles = {}, {}, {}
    for session in sessions:
        by_cycle.setdefault(session.cycle_id, []).append(session)
        by_user_sessions.setdefault(session.user_id, []).append(session)
    for cycle in cycles:
        by_user_cycles.setdefault(cycle.user_id, []).append(cycle)
    for user_id, own_cycles in by_user_cycles.items():
        for index, cycle in enumerate(own_cycles):
            following = own_cycles[index + 1] if index + 1 < len(own_cycles) else None
            for problem in cycle_problems(cycle, by_cycle.get(cycle.id, []), users[user_id], following):
                violation(f"cycle {cycle.id}: {problem}")
        for problem in user_problems(own_cycles, by_user_sessions.get(user_id, [])):
            violation(f"user {user_id}: {problem}")

    for session in sessions:
        result["sessions"] += 1
        problems, early = session_problems(session, users[session.user_id])
        for problem in problems:
            violation(f"session {session.id}: {problem}")
        if session.status == rules.RUNNING and session.ends_at < now:
            result["stuck sessions"] += 1
            examples.append(f"session {session.id}: still running {now - session.ends_at} after its end")
        if session.status != rules.COMPLETED:
            continue
        by_clock = session.remaining_seconds == 0
        result["completions by clock" if by_clock else "completions by user"] += 1
        user = users_by_id[session.user_id]
        if by_clock and user.latest_end.get(session.id, session.completed_at) > session.completed_at + EPSILON:
            early = True
        heard = notices(user, session)
        if "heard" in heard:
            result["notices received"] += 1
            if len(heard["heard"]) > 1:
                violation(f"session {session.id}: {len(heard['heard'])} notices of its end")
            arrived, frame = heard["heard"][0]
            told = frame["data"]["session"]
            said = parse_time(told["completed_at"]) if told.get("completed_at") else None
            if frame["event"] != "session.completed" or said is None or abs(said - session.completed_at) > EPSILON:
                violation(f"session {session.id}: the notice says {frame['event']} at {told.get('completed_at')}")
            if by_clock:
                late = arrived - session.completed_at.timestamp()
                early = early or late < 0
                lateness.append((session.completed_at.timestamp(), late * 1000))
                stamped = parse_time(frame["at"]).timestamp()  # when the server announced it
                published.append((session.completed_at.timestamp(), (stamped - session.completed_at.timestamp()) * 1000))
        elif heard.get("hello"):
            result["notices made good through hello"] += 1
        else:
            result["lost notices"] += 1
            examples.append(f"session {session.id[:6]} ({session.type}, started {session.started_at.timestamp() - began:.2f} s): "
                            f"completed {session.completed_at.timestamp() - began:.2f} s into "
                            f"the run, nothing heard; heard then: {heard_around(user, session.completed_at, began)}")
        if early:
            result["early completions"] += 1
            examples.append(f"session {session.id}: completed early")
    return {"counts": result, "examples": examples, "lateness": lateness, "published": published}


# -- the run ------------------------------------------------------------------------

MUST_BE_ZERO = ("early completions", "stuck sessions", "lost notices", "rule violations")


async def run(stack, postgres, args) -> dict:
    pairs = seed_users(postgres.url, args.users, per_user=settings_of)
    if args.receiver is not None:  # webhooks: every user has an endpoint for every event
        webhook_checks.seed_endpoints(postgres.url, [user_id for user_id, _ in pairs], args.receiver.url)
    stats = Stats()
    users = [User(user_id, token, stack.base, stats) for user_id, token in pairs]
    by_id = {user.id: user for user in users}
    socket_base = stack.base.replace("http", "ws", 1)
    listeners = [asyncio.create_task(listen(user, f"{socket_base}/ws?token={user.token}", stats)) for user in users]
    await poll(lambda: all(user.frames for user in users), 60, "every listener's first hello", in_thread=False)
    stats.errors.clear()
    stats.error_times.clear()

    faults = [kill_the_rq_worker, restart_redis_empty,
              restart_all_of_gunicorn if args.web_fault == "all" else kill_one_web_worker, restart_postgres]
    if args.receiver is not None:
        faults.insert(1, kill_the_background_process)
    fault_log: list[dict] = []
    began = time.time()
    stop_at = began + args.seconds
    with ThreadPoolExecutor(args.http_threads, thread_name_prefix="http") as pool:
        actors = [asyncio.create_task(act(user, stop_at, args.think, pool, stats)) for user in users]
        await asyncio.gather(inflict(faults, stack, postgres, began, args.seconds, fault_log), *actors)
    load_seconds = time.time() - began

    # Let every running session run out, then give the last notices a moment to arrive.
    longest_chain = max(s["long_break_interval"] * (s["work_seconds"] + s["short_break_seconds"])
                        + s["long_break_seconds"] for s in map(settings_of, range(args.users)))

    def nothing_running():
        with psycopg.connect(postgres.url) as connection:
            return connection.execute("SELECT count(*) FROM sessions WHERE status = 'running'").fetchone()[0] == 0

    drained = await poll(nothing_running, longest_chain + 30, "every running session to end")
    drain_seconds = time.time() - began - load_seconds

    def completed():
        with psycopg.connect(postgres.url, row_factory=namedtuple_row) as connection:
            return connection.execute(
                "SELECT id, user_id, completed_at FROM sessions WHERE status = 'completed'").fetchall()

    rows = await asyncio.to_thread(completed)
    await poll(lambda: accounted(by_id, rows), 15, "the last notices", in_thread=False)
    for listener in listeners:
        listener.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)

    webhooks = None
    if args.receiver is not None:  # leases of attempts cut short run out in 30 s; the sweep then sends them
        await poll(lambda: webhook_checks.pending(postgres.url) == 0, 120, "every webhook delivery")
        webhooks = await asyncio.to_thread(webhook_checks.check, postgres.url, list(args.receiver.received))
    result = await asyncio.to_thread(check, postgres.url, by_id, began)
    counts = result["counts"]
    counts["users"] = len(users)
    counts["reconnects"] = sum(max(0, user.connections - 1) for user in users)
    return {"counts": counts, "errors": stats.errors, "actions": stats.actions, "refused": stats.refused,
            "faults": fault_log, "examples": result["examples"],
            "errors_by_fault": by_fault(stats.error_times, fault_log, began),
            "lateness_by_fault": by_fault(result["lateness"], fault_log, began),
            "published_by_fault": by_fault(result["published"], fault_log, began),
            "resyncs": sum(resyncs(user) for user in users),
            "lateness": [(moment - began, ms) for moment, ms in result["lateness"]],
            "load_seconds": load_seconds, "drain_seconds": drain_seconds, "drained": drained, "webhooks": webhooks}


def by_fault(items: list[tuple[float, object]], faults: list[dict], began: float) -> list[list]:
    """The values of (moment, value) pairs split by the fault they followed:
    the first list holds those from before any fault."""
    starts = [began + fault["at"] for fault in faults]
    split = [[] for _ in range(len(starts) + 1)]
    for moment, value in items:
        split[sum(moment >= start for start in starts)].append(value)
    return split


def resyncs(user: User) -> int:
    """Hellos sent on a connection already open: the server asked its sockets to catch up."""
    seen, count = set(), 0
    for _, connection, frame, _ in user.frames:
        count += frame["event"] == "hello" and connection in seen
        seen.add(connection)
    return count


async def poll(condition, timeout: float, message: str, in_thread: bool = True) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if (await asyncio.to_thread(condition)) if in_thread else condition():
            return True
        if time.monotonic() > deadline:
            print(f"gave up after {timeout:.0f} s waiting for {message}")
            return False
        await asyncio.sleep(0.2)


def report(outcome: dict, args, wall: float) -> int:
    counts = outcome["counts"]
    errors = outcome["errors"]
    drained = "every session ended" if outcome["drained"] else "DEADLINE PASSED"
    print(f"{args.users} users for {args.seconds:g} s; load {outcome['load_seconds']:.1f} s, "
          f"drain {outcome['drain_seconds']:.1f} s ({drained}), wall {wall:.1f} s")
    print("faults:")
    for fault in outcome["faults"]:
        print(f"  at {fault['at']:5.1f} s (back in {fault['took']:.1f} s): {fault['what']}")
    print(f"actions: {dict(outcome['actions'])}; "
          f"refused with 409 (raced the clock or another change): {outcome['refused']}")
    print(f"client errors by kind: {dict(sorted(errors.items())) or 'none'}")
    print("client errors before the first fault, then after each:")
    for index, kinds in enumerate(outcome["errors_by_fault"]):
        print(f"  {'before' if index == 0 else f'after {index}'}: {dict(sorted(Counter(kinds).items())) or 'none'}")
    print(f"hellos resent on open sockets (the server's events relay caught up): {outcome['resyncs']}")
    for title, series in (("heard", "lateness_by_fault"), ("announced by the server (the event's `at`)", "published_by_fault")):
        print(f"session.completed {title} after ends_at, completions by clock (ms), "
              "before the first fault then after each:")
        for index, values in enumerate(outcome[series]):
            late = percentiles(values)
            if late.get("n"):
                print(f"  {'before' if index == 0 else f'after {index}'}: n {late['n']}, p50 {late['p50']:.1f}, "
                      f"p99 {late['p99']:.1f}, max {late['max']:.1f}")
    for example in outcome["examples"]:
        print(f"  ! {example}")
    rows = [
        ("users", counts["users"]),
        ("sessions", counts["sessions"]),
        ("completions by clock / by user", f"{counts['completions by clock']} / {counts['completions by user']}"),
        ("notices received", counts["notices received"]),
        ("notices made good through hello", counts["notices made good through hello"]),
        ("reconnects", counts["reconnects"]),
        ("client errors", ", ".join(f"{kind} {n}" for kind, n in sorted(errors.items())) or "0"),
        *((f"{name} (must be 0)", counts[name]) for name in MUST_BE_ZERO),
    ]
    webhooks = outcome.get("webhooks")
    if webhooks is not None:
        for example in webhooks["examples"]:
            print(f"  ! webhooks: {example}")
        rows += [(f"webhooks: {name}" + (" (must be 0)" if name in webhook_checks.MUST_BE_ZERO else ""), value)
                 for name, value in webhooks["counts"].items()]
    print()
    print("| | count |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    webhooks_wrong = webhooks is not None and any(webhooks["counts"][name] for name in webhook_checks.MUST_BE_ZERO)
    return 1 if any(counts[name] for name in MUST_BE_ZERO) or webhooks_wrong or not outcome["drained"] else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60,
                        help="how long the users act; the faults are spread over it")
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds between one user's actions")
    parser.add_argument("--http-threads", type=int, default=16)
    parser.add_argument("--web-fault", choices=["worker", "all"], default="worker",
                        help="kill one gunicorn worker (the master replaces it), or the whole gunicorn")
    parser.add_argument("--json", type=Path, help="also write the counts, the faults and each lateness here")
    parser.add_argument("--no-webhooks", action="store_true", help="give the users no webhook endpoints")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes; the first is the one killed, the others take its sessions over")
    args = parser.parse_args()

    began = time.time()
    postgres = PrivatePostgres().start()
    try:
        with ReceiverProcess() as receiver, production_stack(database_url=postgres.url, workers=args.workers,
                                                       WEBHOOK_ALLOW_PRIVATE="1") as stack:
            args.receiver = None if args.no_webhooks else receiver
            outcome = asyncio.run(run(stack, postgres, args))
    finally:
        postgres.stop()
    if args.json:
        kept = ("counts", "errors", "faults", "lateness")
        args.json.write_text(json.dumps({key: outcome[key] for key in kept}, indent=1))
    raise SystemExit(report(outcome, args, time.time() - began))


if __name__ == "__main__":
    main()
