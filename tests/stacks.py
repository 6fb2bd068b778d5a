"""The product as it runs: the embedded default (`flask run`, SQLite) and the
production processes from the Procfile (PostgreSQL, Redis, RQ worker)."""
import shutil
import signal
import uuid
from contextlib import contextmanager, nullcontext

import pytest

from .conftest import fresh_postgres_database, missing
from .live import Client, Process, RedisServer, answers, free_port, procfile, wait_until


class Stack:
    def __init__(self, mode: str, env: dict, web_command: str, worker_command: str | None, redis=None,
                 workers: int = 1, background_command: str | None = None):
        self.mode = mode
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # Tests and benchmarks sign many people up from one address, each with
        # a password whose hashing is not what they are about.
        self.env = {"SECRET_KEY": "stack-test", "SIGNUP_RATE_LIMIT": "100000 per minute",
                    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", **env, "PORT": str(self.port)}
        self.web = Process(web_command, self.env, log_name=f"{mode}-web")
        self.workers = [Process(worker_command, self.env, log_name=f"{mode}-worker-{number}")
                        for number in range(workers if worker_command else 0)]
        self.worker = self.workers[0] if self.workers else None
        self.background = Process(background_command, self.env, log_name=f"{mode}-background") \
            if background_command else None
        self.redis = redis

    def start(self) -> "Stack":
        """Start every process, or, if one does not come up, stop those that did."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> "Stack":
        Process(procfile("release"), self.env, log_name=f"{self.mode}-release").run()
        self.start_web()
        for worker in self.workers:
            worker.start()
        if self.background:
            self.background.start()
        if self.redis:  # every RQ worker (timers, background) has registered and is taking jobs
            import redis

            connection = redis.Redis.from_url(self.redis.url)
            expected = len(self.workers) + (1 if self.background else 0)
            wait_until(lambda: connection.scard("rq:workers") >= expected, 30, message="the RQ workers to start")
            connection.close()
        return self

    def start_web(self) -> None:
        self.web.start()
        wait_until(lambda: answers(self.base + "/openapi.json"), 30, message=f"{self.mode} web on {self.port}")

    def restart_web(self) -> None:
        self.web.stop()
        self.start_web()

    def stop(self) -> None:
        """End the processes: a web process still holding sockets waits out
        gunicorn's graceful timeout, which a test's end need not, so 3 s."""
        processes = [process for process in (*self.workers, self.background, self.web) if process]
        for process in processes:  # all at once: each may take its time to stop
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.stop(timeout=3)

    def user(self, **settings) -> Client:
        client = Client(self.base, f"{uuid.uuid4().hex[:10]}@example.org")
        if settings:
            client.configure(**settings)
        return client


@contextmanager
def embedded_stack(tmp_path, **settings):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'pomodoro.db'}", "REDIS_URL": "", **settings}
    command = "flask --app wsgi run --port $PORT"
    stack = Stack("embedded", env, command, None).start()
    try:
        yield stack
    finally:
        stack.stop()


@contextmanager
def production_stack(web_command: str | None = None, database_url: str | None = None, workers: int = 1,
                     **settings):
    """The Procfile's processes on a private Redis and, unless `database_url`
    names one to use instead, a fresh PostgreSQL database."""
    if shutil.which("redis-server") is None:
        missing("Redis", FileNotFoundError("redis-server is not installed"))
    redis = RedisServer(free_port()).start()
    try:
        with (nullcontext(database_url) if database_url else fresh_postgres_database()) as database_url:
            env = {"DATABASE_URL": database_url, "REDIS_URL": redis.url, "WEB_CONCURRENCY": "2", **settings}
            stack = Stack("production", env, web_command or procfile("web"), procfile("worker"), redis,
                          workers, procfile("background")).start()
            try:
                yield stack
            finally:
                stack.stop()
    finally:
        redis.stop()


QUICK_PINGS = {"SOCKET_PING_SECONDS": "1"}  # so a test sees a ping without waiting long


@contextmanager
def stack_in_mode(mode: str, tmp_path_factory, **settings):
    """The embedded or the production stack, with these settings."""
    if mode == "embedded":
        with embedded_stack(tmp_path_factory.mktemp("embedded"), **settings) as running:
            yield running
    else:
        with production_stack(**settings) as running:
            yield running


@pytest.fixture(scope="module", params=["embedded", "production"])
def stack(request, tmp_path_factory):
    with stack_in_mode(request.param, tmp_path_factory, **QUICK_PINGS) as running:
        yield running
