"""How the product is served: `make run` is one gunicorn process that Ctrl-C
stops at once, and a clean clone built by the README's steps serves pages
whose scripts run."""
import os
import re
import signal
import subprocess
import time

import psutil
import pytest
import requests

from .browser import launched_browser, new_context, sign_up
from .conftest import ROOT, fresh_postgres_database
from .live import RedisServer, answers, free_port, procfile, wait_until


def test_make_run_serves_on_one_gunicorn_process_and_ctrl_c_stops_it_at_once(tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}", "SECRET_KEY": "run-test"}
    env.pop("REDIS_URL", None)
    log = open(tmp_path / "run.log", "wb")
    make = subprocess.Popen(["make", "--no-print-directory", "run", f"PORT={port}"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/login"), 60, message="make run to serve")
        response = requests.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert response.headers["Server"].startswith("gunicorn")
        assert b"WARNING: This is a development server" not in (tmp_path / "run.log").read_bytes()
        server = next(p for p in psutil.Process(make.pid).children(recursive=True) if "gunicorn" in " ".join(p.cmdline()))
        assert len(server.children()) == 1, "one worker process keeps the clock and the sockets"
        started = time.monotonic()
        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        make.wait(10)
        assert time.monotonic() - started < 3
        assert not answers(f"http://127.0.0.1:{port}/login")
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)


def readme_build_steps() -> str:
    """The ```sh block under "## Running it for many users", verbatim."""
    section = (ROOT / "README.md").read_text().split("\n## Running it for many users\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def clean_copy(target) -> None:
    """The project's files as a clone has them (tracked and new, not ignored)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    subprocess.run(["tar", "-cf", "-", "--null", "-T", "-"], cwd=ROOT, input="\0".join(f for f in files if f and (ROOT / f).exists()).encode(),
                   stdout=open(target / "project.tar", "wb"), check=True)
    subprocess.run(["tar", "-xf", "project.tar"], cwd=target, check=True)


def test_a_clean_clone_built_by_the_readme_serves_pages_whose_scripts_run(tmp_path, redis_url):
    clone = tmp_path / "clone"
    clone.mkdir()
    clean_copy(clone)
    assert not (clone / "pomodoro/static/vendor").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = ":".join(p for p in env["PATH"].split(":") if ".venv" not in p)
    subprocess.run(["bash", "-ec", readme_build_steps()], cwd=clone, env=env, check=True, timeout=600,
                   capture_output=True)
    redis = RedisServer(free_port()).start()
    port = free_port()
    processes = []
    try:
        with fresh_postgres_database() as database_url:
            run_env = {**env, "PATH": f"{clone / '.venv/bin'}:{env['PATH']}", "DATABASE_URL": database_url,
                       "REDIS_URL": redis.url, "SECRET_KEY": "deploy-test", "PORT": str(port), "WEB_CONCURRENCY": "1"}
            subprocess.run(["bash", "-c", procfile("release")], cwd=clone, env=run_env, check=True, timeout=120)
            for kind in ("web", "worker", "background"):  # every process of the Procfile
                processes.append(subprocess.Popen(["bash", "-c", f"exec {procfile(kind)}"], cwd=clone, env=run_env,
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                  start_new_session=True))
            base = f"http://127.0.0.1:{port}"
            wait_until(lambda: answers(base + "/login"), 60, message="the deployed web process")
            with launched_browser() as browser:
                context = new_context(browser, type("Server", (), {"base": base})())
                page = context.new_page()
                sign_up(page, f"deploy-{time.monotonic_ns()}@example.org")
                assert page.evaluate("typeof window.htmx") == "object", "htmx, from npm, runs on the page"
                page.goto("/docs")
                wait_until(lambda: page.locator(".swagger-ui .info").count() > 0, 20, message="Swagger UI to draw")
                context.close()
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        redis.stop()
