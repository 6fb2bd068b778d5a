"""The product as it runs: the embedded default (`flask run`, SQLite) and the
production processes from the Procfile (PostgreSQL, Redis, RQ worker)."""
import shutil
import uuid
from contextlib import contextmanager, nullcontext

import pytest

from .conftest import fresh_postgres_database, missing
from .live import Client, Process, RedisServer, answers, free_port, procfile, wait_until


class Stack:
    def __init__(self, mode: str, env: dict, web_command: str, worker_command: str | None, redis=None,
                 workers: int = 1):
        self.mode = mode
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # Tests and benchmarks sign many people up from one address.
        self.env = {"SECRET_KEY": "stack-test", "SIGNUP_RATE_LIMIT": "100000 per minute", **env, "PORT": str(self.port)}
        self.web = Process(web_command, self.env, log_name=f"{mode}-web")
        self.workers = [Process(worker_command, self.env, log_name=f"{mode}-worker-{number}")
                        for number in range(workers if worker_command else 0)]
        self.worker = self.workers[0] if self.workers else None
        self.redis = redis

    def start(self) -> "Stack":
        Process(procfile("release"), self.env, log_name=f"{self.mode}-release").run()
        self.start_web()
        for worker in self.workers:
            worker.start()
        return self

    def start_web(self) -> None:
        self.web.start()
        wait_until(lambda: answers(self.base + "/openapi.json"), 30, message=f"{self.mode} web on {self.port}")

    def restart_web(self) -> None:
        self.web.stop()
        self.start_web()

    def stop(self) -> None:
        for process in (*self.workers, self.web):
            if process:
                process.stop()

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
                          workers).start()
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
