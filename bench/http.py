"""HTTP speed as ratios to a bare Flask endpoint served the same way, in the same run.

Production mode: the Procfile's web line (gunicorn, gevent, 2 workers) on
PostgreSQL and Redis, with its worker. The baseline is bench/bare.py under
the very same gunicorn command line. Load from wrk (Debian's package), which
shares the machine's two cores with the servers.

    .venv/bin/python -m bench.http

Figures: authenticated GET /sessions/current; the write round start → stop →
resume → cancel (each wrk thread is one user with one connection, walking the
round), against a bare endpoint that makes one UPDATE in a transaction too;
the timer page's time to first byte for a signed-in browser, in
production and in the embedded default (flask run).
"""
import argparse
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import requests

from tests.live import Process, answers, free_port, procfile, session_cookie, wait_until
from tests.stacks import embedded_stack, production_stack

from .bare import prepare
from .common import seed_log_in, seed_users

REPORT = """
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
               + summary.errors.write + summary.errors.timeout
  io.write(string.format('WRK {"rps": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, "requests": %d, "errors": %d}\\n',
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, errors))
end
"""

ROUND = """
local tokens = {%(tokens)s}
local made = 0
setup = function(thread)
  made = made + 1
  thread:set("token", tokens[made])
end
init = function(args) step = 1; sid = nil; bad = 0 end
request = function()
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  if step == 1 then return wrk.format("POST", "/sessions", headers, "{}") end
  if step == 2 then return wrk.format("PATCH", "/sessions/" .. sid .. "/stop", headers) end
  if step == 3 then return wrk.format("PATCH", "/sessions/" .. sid .. "/resume", headers) end
  return wrk.format("PATCH", "/sessions/" .. sid .. "/status", headers, '{"status": "cancelled"}')
end
response = function(status, headers, body)
  if step == 1 then sid = string.match(body, '"id":%%s*"(%%w+)"') end
  if status >= 400 then step = 1 else step = step %% 4 + 1 end
end
"""


def round_script(stack) -> str:
    """Eight fresh users for each run: a run cut off mid-round leaves its users' sessions open."""
    writers = seed_users(stack.env["DATABASE_URL"], 8, work_seconds=3600)
    return ROUND % {"tokens": ", ".join(f'"{token}"' for _, token in writers)}


def wrk(url: str, threads: int, connections: int, seconds: int, script: str = "", headers=()) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script + REPORT)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", lua.name]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    Path(lua.name).unlink()
    return json.loads(re.search(r"^WRK (.*)$", output, re.M).group(1))


def best_of(runs: int, measure) -> dict:
    """The run with the median throughput, to damp the noise of a shared machine."""
    results = sorted((measure() for _ in range(runs)), key=lambda r: r["rps"])
    return results[len(results) // 2]


def serve_bare(env: dict) -> tuple[Process, str]:
    prepare(env["DATABASE_URL"])
    port = free_port()
    command = procfile("web").replace("wsgi:app", "bench.bare:app")
    bare = Process(command, {**env, "PORT": str(port)}, log_name="bare").start()
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: answers(base + "/bare"), 30, message="the bare app")
    return bare, base


def page_first_byte(stack, seconds) -> dict:
    ((user_id, _token),) = seed_users(stack.env["DATABASE_URL"], 1)
    cookie = session_cookie(stack.env["SECRET_KEY"], seed_log_in(stack.env["DATABASE_URL"], user_id))
    # wrk counts a redirect as a success: make sure this is the signed-in timer page, not the way to /login
    page = requests.get(stack.base + "/", cookies={"session": cookie}, allow_redirects=False, timeout=10)
    assert page.status_code == 200 and 'id="timer"' in page.text, page.status_code
    return best_of(3, lambda: wrk(stack.base + "/", 1, 1, seconds, headers=[f"Cookie: session={cookie}"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    s, n = args.seconds, args.runs
    results = {}
    with production_stack() as stack:
        bare, bare_base = serve_bare(stack.env)
        try:
            (reader,) = seed_users(stack.env["DATABASE_URL"], 1, work_seconds=86400)
            auth = f"Authorization: Bearer {reader[1]}"
            subprocess.run(["curl", "-s", "-X", "POST", "-H", auth, "-H", "Content-Type: application/json",
                            "-d", "{}", f"{stack.base}/sessions"], check=True, capture_output=True)
            results["bare, -t2 -c32"] = best_of(n, lambda: wrk(bare_base + "/bare", 2, 32, s))
            results["bare + SELECT 1, -t2 -c32"] = best_of(n, lambda: wrk(bare_base + "/bare-db", 2, 32, s))
            results["GET /sessions/current, -t2 -c32"] = best_of(
                n, lambda: wrk(stack.base + "/sessions/current", 2, 32, s, headers=[auth]))
            results["bare, -t8 -c8"] = best_of(n, lambda: wrk(bare_base + "/bare", 8, 8, s))
            results["bare + UPDATE, -t8 -c8"] = best_of(
                n, lambda: wrk(bare_base + "/bare-write", 8, 8, s, 'wrk.method = "POST"\n'))
            results["write round, -t8 -c8"] = best_of(n, lambda: wrk(stack.base, 8, 8, s, round_script(stack)))
            results["bare, -t1 -c1"] = best_of(n, lambda: wrk(bare_base + "/bare", 1, 1, s))
            results["timer page, production, -t1 -c1"] = page_first_byte(stack, s)
        finally:
            bare.stop()
    with tempfile.TemporaryDirectory() as folder, embedded_stack(Path(folder)) as stack:
        results["timer page, embedded, -t1 -c1"] = page_first_byte(stack, s)
    print(json.dumps(results, indent=2))
    print(table(results))


def table(results: dict) -> str:
    def ratio(name, baseline, key="rps"):
        return results[name][key] / results[baseline][key]

    rows = [
        ("GET /sessions/current", "GET /sessions/current, -t2 -c32", "bare, -t2 -c32"),
        ("GET /sessions/current, against bare + SELECT 1", "GET /sessions/current, -t2 -c32",
         "bare + SELECT 1, -t2 -c32"),
        ("write round (4 requests)", "write round, -t8 -c8", "bare, -t8 -c8"),
        ("write round, against bare + UPDATE", "write round, -t8 -c8", "bare + UPDATE, -t8 -c8"),
        ("timer page, production", "timer page, production, -t1 -c1", "bare, -t1 -c1"),
        ("timer page, embedded", "timer page, embedded, -t1 -c1", "bare, -t1 -c1"),
    ]
    lines = ["| figure | req/s | baseline req/s | ratio | p50 ms | p99 ms | baseline p99 ms | p99 ratio | errors |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label, name, baseline in rows:
        r, b = results[name], results[baseline]
        lines.append(f"| {label} | {r['rps']:.0f} | {b['rps']:.0f} | {ratio(name, baseline):.2f} | {r['p50_ms']:.1f} "
                     f"| {r['p99_ms']:.1f} | {b['p99_ms']:.1f} | {r['p99_ms'] / b['p99_ms']:.1f} | {r['errors']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
