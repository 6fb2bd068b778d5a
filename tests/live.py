"""Real servers for tests and benchmarks: the Procfile's processes, a private
Redis, and WebSocket listeners that record what they hear and when."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
import websocket

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float, interval: float = 0.02, message: str = "condition"):
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def procfile(name: str) -> str:
    """The command the Procfile gives for a process type."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        kind, _, command = line.partition(":")
        if kind.strip() == name:
            return command.strip()
    raise KeyError(name)


class Process:
    """A child process started from a shell command line with the venv's tools first on PATH."""

    def __init__(self, command: str, env: dict, log_name: str = "process"):
        self.command = command
        self.env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **env}
        self.log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"pomodoro-{log_name}-{os.getpid()}.log", "ab")
        self.popen = None

    def start(self) -> "Process":
        self.popen = subprocess.Popen(
            ["bash", "-c", f"exec {self.command}"], cwd=ROOT, env=self.env,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    def send_signal(self, sig) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout: float = 10) -> None:
        if self.popen is None:
            return
        self.send_signal(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send_signal(signal.SIGKILL)
            self.popen.wait(timeout)
        self.popen = None

    def run(self, timeout: float = 60) -> None:
        """Run to completion (a release step); raise if it fails."""
        result = subprocess.run(["bash", "-c", self.command], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{self.command} failed:\n{result.stdout}\n{result.stderr}")


class RedisServer(Process):
    """A private, restartable Redis that keeps nothing on disk."""

    def __init__(self, port: int):
        super().__init__(f"redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no",
                         {}, log_name=f"redis-{port}")
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> "RedisServer":
        super().start()
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_until(lambda: _pings(client), 10, message=f"redis on {self.port}")
        return self


def _pings(client) -> bool:
    try:
        return client.ping()
    except Exception:
        return False


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code < 500
    except requests.RequestException:
        return False


class HttpClient:
    """Requests to a running server, answered the way Flask's test client
    answers (`status_code`, `json`): what `conftest.Auth` signs people up with."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()

    def post(self, path: str, **kwargs):
        return self._answer(self.http.post(self.base + path, timeout=10, **kwargs))

    def patch(self, path: str, **kwargs):
        return self._answer(self.http.patch(self.base + path, timeout=10, **kwargs))

    @staticmethod
    def _answer(response):
        return SimpleNamespace(status_code=response.status_code, json=response.json() if response.content else None)


class Client:
    """A JSON API user of a running server, signed up by `conftest.Auth`."""

    def __init__(self, base: str, email: str, password: str = "correct horse"):
        from .conftest import Auth

        self.base = base
        account = Auth(HttpClient(base)).sign_up(email, password)
        self.id, self.token = account.id, account.token
        self.email, self.password = email, password
        self.http = requests.Session()
        self.http.headers.update(account.headers)
        # A kept-alive connection that gunicorn closes (after 2 s idle) just as a
        # request goes out is reset; a GET is safe to send again, as browsers do.
        self.http.mount("http://", HTTPAdapter(max_retries=Retry(total=1, connect=1, read=1, status=0, other=0,
                                                                 allowed_methods=frozenset({"GET"}))))

    def call(self, method: str, path: str, expect: int = 200, **kwargs):
        response = self.http.request(method, self.base + path, timeout=10, **kwargs)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def configure(self, **settings):
        return self.call("PATCH", f"/users/{self.id}/configuration", json=settings)

    def start(self, **body):
        return self.call("POST", "/sessions", 201, json=body)

    def listen(self, path: str = "/ws") -> "Listener":
        return Listener(self.base.replace("http", "ws", 1) + f"{path}?token={self.token}")


def logged_in_cookie(base: str, email: str, password: str = "correct horse") -> str:
    """The `session` cookie a browser holds once it has logged in through the page."""
    import re

    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)[1]
    answer = browser.post(f"{base}/login", data={"email": email, "password": password, "csrf_token": token},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 303, answer.text
    return browser.cookies["session"]


def session_cookie(secret_key: str, user_id: str) -> str:
    """A `session` cookie signed with `secret_key` that names `user_id` as Flask-Login
    keeps it: since log-ins are stored (auth.log_in), it signs no one in unless
    `user_id` is the id of a stored BrowserSession; see `logged_in_cookie`."""
    from flask import Flask

    signer = Flask(__name__)
    signer.secret_key = secret_key
    return signer.session_interface.get_signing_serializer(signer).dumps({"_user_id": user_id, "_fresh": True})


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Listener:
    """A WebSocket that records every frame with the moment it arrived, and
    reconnects by itself when the server goes away (as the pages do)."""

    def __init__(self, url: str, reconnect: bool = True, **options):
        self.url = url
        self.reconnect = reconnect
        self.options = options
        self.frames: list[tuple[float, dict]] = []
        self.connections = 0
        self.changed = threading.Condition()
        self.closed = False
        self.ws = self._connect()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        self.wait_for(lambda frame: frame["event"] == "hello", message="hello")

    def _connect(self):
        ws = websocket.create_connection(self.url, timeout=30, **self.options)
        self.connections += 1
        return ws

    def _read(self) -> None:
        while not self.closed:
            try:
                text = self.ws.recv()
            except Exception:
                if self.closed or not self.reconnect:
                    return
                self._reconnect()
                continue
            if not text:
                continue
            with self.changed:
                self.frames.append((time.time(), json.loads(text)))
                self.changed.notify_all()

    def _reconnect(self) -> None:
        deadline = time.monotonic() + 60
        while not self.closed and time.monotonic() < deadline:
            try:
                self.ws = self._connect()
                return
            except Exception:
                time.sleep(0.1)

    def events(self, name: str | None = None) -> list[dict]:
        with self.changed:
            return [frame for _, frame in self.frames if name is None or frame["event"] == name]

    def arrivals(self, name: str) -> list[tuple[float, dict]]:
        with self.changed:
            return [(at, frame) for at, frame in self.frames if frame["event"] == name]

    def wait_for(self, predicate, timeout: float = 10, message: str = "a frame", after: int = 0) -> dict:
        """The first frame (from index `after` on) that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for _, frame in self.frames[after:]:
                    if predicate(frame):
                        return frame
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [frame["event"] for _, frame in self.frames]
                    raise AssertionError(f"timed out waiting for {message}; heard {seen}")
                self.changed.wait(left)

    def send(self, data, binary: bool = False) -> None:
        self.ws.send(data, opcode=websocket.ABNF.OPCODE_BINARY if binary else websocket.ABNF.OPCODE_TEXT)

    def close(self) -> None:
        self.closed = True
        try:
            self.ws.close(timeout=0.1)
        except Exception:
            pass


def completed_session(frame: dict, session_id: str) -> bool:
    return frame["event"] == "session.completed" and frame["data"]["session"]["id"] == session_id
