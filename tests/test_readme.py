"""The README's curl walk-through works as written, against `flask run` on
SQLite and against the Procfile's processes on PostgreSQL."""
import os
import re
import subprocess
import uuid
from pathlib import Path

import requests

from .conftest import ROOT, fresh_postgres_database
from .live import Process, answers, free_port, procfile, wait_until

# What the walk-through must show a reader: each call as (what it does, method, path).
CALLS = [
    ("sign up", "POST", r"/users"),
    ("get a token", "POST", r"/auth/token"),
    ("who am I", "GET", r"/users/me"),
    ("configure", "PATCH", r"/users/[^/]+/configuration"),
    ("start", "POST", r"/sessions"),
    ("stop", "PATCH", r"/sessions/[^/]+/stop"),
    ("resume", "PATCH", r"/sessions/[^/]+/resume"),
    ("current", "GET", r"/sessions/current"),
    ("status", "PATCH", r"/sessions/[^/]+/status"),
    ("list", "GET", r"/cycles"),
    ("revoke the token", "DELETE", r"/auth/token"),
]

# Run before the block: every curl fails on an HTTP error and logs what it did.
PRELUDE = r"""set -eo pipefail
curl() {
    command curl --fail-with-body -w '%{stderr}%{method} %{url_effective} %{http_code}\n' "$@" 2>>"$CURL_LOG"
}
"""
# Run after it: hand the walk-through's variables back to the test.
EPILOGUE = r"""
printf '%s\n' "$TOKEN" "$ME" "$SESSION" > "$RESULT"
"""


def api_walkthrough() -> str:
    """The ```sh block under "## The API" in README.md, verbatim."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## The API\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def written_calls(block: str) -> list[tuple[str, str]]:
    """(method, path) of each curl in the block, with its variables left as written."""
    commands = re.split(r"(?=\bcurl\s)", block.replace("\\\n", " "))[1:]
    calls = []
    for command in commands:
        method = re.search(r"-X\s+([A-Z]+)", command.split("\n")[0])
        path = re.search(r"\$API(/\S*)", command).group(1)
        calls.append((method.group(1) if method else "GET", path.replace("$ME", "me-id").replace("$SESSION", "id")))
    return calls


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3].split("?")[0]


def test_the_walkthrough_shows_every_step_in_order():
    block = api_walkthrough()
    assert block.splitlines()[0] == "API=${API:-http://127.0.0.1:5000}"
    calls = written_calls(block)
    assert len(calls) == len(CALLS), calls
    for (step, method, pattern), (written_method, written_path) in zip(CALLS, calls):
        assert written_method == method and re.fullmatch(pattern, written_path), (step, written_method, written_path)


def run_walkthrough(base: str, tmp_path: Path) -> dict:
    """Run the block with bash against `base`; check every call answered 2xx."""
    curl_log, result = tmp_path / "curl.log", tmp_path / "result"
    script = PRELUDE + api_walkthrough() + EPILOGUE
    env = {**os.environ, "API": base, "CURL_LOG": str(curl_log), "RESULT": str(result)}
    run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    log = curl_log.read_text().splitlines() if curl_log.exists() else []
    assert run.returncode == 0, f"walk-through failed:\n{run.stdout}\n{run.stderr}\n" + "\n".join(log)

    made = [line.rsplit(" ", 2) for line in log]
    assert len(made) == len(CALLS), log
    for (step, method, pattern), (made_method, url, status) in zip(CALLS, made):
        assert made_method == method and re.fullmatch(pattern, path_of(url)), (step, made_method, url)
        assert status.startswith("2"), (step, status)
    token, me, session = result.read_text().split()
    return {"token": token, "me": me, "session": session}


def check_final_state(base: str, walked: dict) -> None:
    """The token is revoked, and the session ended as the walk-through says."""
    revoked = requests.get(f"{base}/users/me", headers={"Authorization": f"Bearer {walked['token']}"}, timeout=10)
    assert revoked.status_code == 401
    assert "error" in revoked.json()

    token = requests.post(f"{base}/auth/token", json={"email": "ada@example.org", "password": "correct horse"},
                          timeout=10).json()["token"]
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    me = http.get(f"{base}/users/me", timeout=10).json()
    assert me["id"] == walked["me"] and me["name"] == "Ada"
    assert me["configuration"]["work_seconds"] == 3000
    assert me["configuration"]["auto_start_breaks"] is True

    session = http.get(f"{base}/sessions/{walked['session']}", timeout=10).json()
    assert session["type"] == "work" and session["status"] == "completed"
    assert session["duration_seconds"] == 3000
    assert 0 < session["remaining_seconds"] < 3000  # finished early: the time left is kept

    cycle = http.get(f"{base}/cycles", timeout=10).json()["items"][0]
    assert cycle["completed_work_sessions"] == 1
    sessions = http.get(f"{base}/cycles/{cycle['id']}/sessions", timeout=10).json()["items"]
    # auto_start_breaks: the short break started by itself when the work session was finished.
    assert [(s["type"], s["status"]) for s in sessions] == [("work", "completed"), ("short_break", "running")]


def serve(command: str, env: dict, name: str) -> tuple[Process, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = Process(command, {**env, "PORT": str(port)}, log_name=f"readme-{name}").start()
    try:
        wait_until(lambda: answers(f"{base}/openapi.json") or web.popen.poll() is not None, 30,
                   message=f"{name} on port {port}")
        assert web.popen.poll() is None, f"{command} exited with {web.popen.returncode}"
    except BaseException:
        web.stop()
        raise
    return web, base


def test_walkthrough_against_flask_run_on_sqlite(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'pomodoro.db'}", "SECRET_KEY": uuid.uuid4().hex, "REDIS_URL": ""}
    Process("flask --app wsgi db upgrade", env, log_name="readme-sqlite-upgrade").run()
    web, base = serve("flask --app wsgi run --port $PORT", env, "flask-run")
    try:
        walked = run_walkthrough(base, tmp_path)
        check_final_state(base, walked)
    finally:
        web.stop()


def test_walkthrough_against_the_procfile_on_postgresql(tmp_path):
    with fresh_postgres_database() as database_url:
        env = {"DATABASE_URL": database_url, "SECRET_KEY": uuid.uuid4().hex, "REDIS_URL": ""}
        Process(procfile("release"), env, log_name="readme-release").run()
        web, base = serve(procfile("web"), env, "procfile-web")
        try:
            walked = run_walkthrough(base, tmp_path)
            check_final_state(base, walked)
        finally:
            web.stop()



def test_the_readme_shows_the_procfile_as_it_is():
    """Someone deploying by hand copies the README's lines, not the Procfile."""
    readme = (ROOT / "README.md").read_text()
    procfile_lines = (ROOT / "Procfile").read_text().strip().splitlines()
    shown = re.search(r"`Procfile`'s processes:\n\n((?:    .*\n)+)", readme).group(1)
    assert [line[4:] for line in shown.splitlines()] == procfile_lines
