"""The pages in a real browser, for the tests that drive them: Debian's
Chromium under Playwright, against a real server (`flask run`) on a SQLite file
of its own. The `browser` and `server` fixtures in conftest.py start them."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1280, "height": 860}
PASSWORD = "correct horse battery"

expect.set_options(timeout=10_000)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


class Server:
    """`flask --app wsgi run` in a child process, on a SQLite file of its own."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "server.log"
        self.env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "FLASK_DEBUG")}
        self.env.update(SECRET_KEY="browser-tests", DATABASE_URL=f"sqlite:///{workdir / 'pomodoro.db'}",
                        LOGIN_RATE_LIMIT="1000 per minute", PYTHONUNBUFFERED="1")
        self.process = None
        subprocess.run([BIN / "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=self.env,
                       check=True, capture_output=True, timeout=60)

    def start(self, timeout: float = 20) -> None:
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [BIN / "flask", "--app", "wsgi", "run", "--port", str(self.port)],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not answers(self.url + "/login"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the server did not come up:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


@contextmanager
def launched_browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium.", pytrace=False)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_context(browser, server, **options):
    options.setdefault("viewport", DESKTOP)
    context = browser.new_context(base_url=server.url, **options)
    context.set_default_timeout(10_000)
    return context


def sign_up(page, email: str, name: str = "Ada") -> None:
    page.goto("/signup")
    page.get_by_label("Name").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#timer")).to_be_visible()


def go(page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def email(tag: str) -> str:
    return f"{tag}-{time.monotonic_ns()}@example.org"
