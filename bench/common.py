"""Shared pieces of the benchmarks: seeding users straight into the database,
percentiles, and the Redis pub/sub floor measured in the same run."""
import asyncio
import multiprocessing
import resource
import statistics
import threading
import time

import redis
import websockets
from werkzeug.security import generate_password_hash

from pomodoro import create_app
from pomodoro.extensions import db
from pomodoro.models import ApiToken, BrowserSession, User
from tests.webhook_receiver import Receiver


def seed_users(database_url: str, count: int, per_user=None, **settings) -> list[tuple[str, str]]:
    """`count` users with tokens, made directly (signing up hashes a password
    with scrypt on purpose, which is not what these benchmarks measure).
    `per_user(number)`, if given, returns settings of that user's own over
    `settings`. Returns (user id, token) pairs."""
    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None})
    password_hash = generate_password_hash("correct horse")
    made = []
    with app.app_context():
        for number in range(count):
            own = {**settings, **(per_user(number) if per_user else {})}
            user = User(email=f"bench-{time.time_ns()}-{number}@example.org", password_hash=password_hash, **own)
            record, secret = ApiToken.issue(user)
            db.session.add_all([user, record])
            made.append((user, secret))
        db.session.commit()
        pairs = [(user.id, secret) for user, secret in made]
        db.engine.dispose()
    return pairs


def seed_log_in(database_url: str, user_id: str) -> str:
    """A browser's log-in for `user_id`, made directly: the id a session cookie carries."""
    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None})
    with app.app_context():
        record = BrowserSession(user_id=user_id)
        db.session.add(record)
        db.session.commit()
        db.engine.dispose()
        return record.id


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    def at(fraction):
        return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]
    return {"n": len(ordered), "p50": at(0.50), "p99": at(0.99), "max": ordered[-1], "mean": statistics.fmean(ordered)}


def pubsub_floor(redis_url: str, messages: int = 500) -> dict:
    """Publish → receive latency of bare Redis pub/sub on this machine, now."""
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("bench:floor")
    received = []
    ready = threading.Event()

    def listen():
        ready.set()
        for message in pubsub.listen():
            received.append(time.perf_counter() - float(message["data"]))
            if len(received) == messages:
                return

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    ready.wait()
    time.sleep(0.2)  # the subscription is confirmed asynchronously
    for _ in range(messages):
        client.publish("bench:floor", repr(time.perf_counter()))
        time.sleep(0.002)
    reader.join(10)
    pubsub.close()
    return percentiles([seconds * 1000 for seconds in received])


async def connect(url: str, attempts: int = 20, **options):
    """A WebSocket, tried again after a refused or dropped handshake, as the
    pages do: a burst of thousands of handshakes overruns the listen backlog
    (the kernel answers with SYN cookies, then drops the connection)."""
    for attempt in range(attempts):
        try:
            return await websockets.connect(url, compression=None, open_timeout=120, ping_interval=None, **options)
        except (OSError, websockets.InvalidHandshake, asyncio.TimeoutError):
            await asyncio.sleep(0.2 * (attempt + 1))
    raise RuntimeError(f"could not connect to {url}")


def allow_many_open_files() -> None:
    """Thousands of sockets need thousands of descriptors: raise this process's
    soft limit to its hard one (the servers it starts inherit it)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _serve(answers, pipe) -> None:
    """The receiver process: serve, and answer the parent's questions."""
    with Receiver(answers) as receiver:
        pipe.send(receiver.url)
        while (question := pipe.recv()) != "stop":
            with receiver.lock:
                pipe.send(len(receiver.received) if question == "count" else list(receiver.received))


class ReceiverProcess:
    """A webhook `Receiver` in a process of its own: its threads then take
    nothing from the loop in this one that times the sockets."""

    def __init__(self, answers=((200, {}, b"ok", 0),)):
        self._pipe, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(target=_serve, args=(answers, child), daemon=True)

    def __enter__(self) -> "ReceiverProcess":
        self._process.start()
        self.url = self._pipe.recv()
        return self

    def __exit__(self, *exc) -> None:
        self._pipe.send("stop")
        self._process.join(5)

    def count(self) -> int:
        self._pipe.send("count")
        return self._pipe.recv()

    @property
    def received(self) -> list:
        """Every request so far (`Received` records)."""
        self._pipe.send("received")
        return self._pipe.recv()
