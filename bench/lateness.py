"""How late does `session.completed` reach a listening socket after `ends_at`?

Starts N concurrent timers (one user and one socket each) against the product
as it runs, the embedded default or the Procfile's production processes, and
prints lateness p50/p99/max and the count that arrived early (must be 0),
beside the Redis pub/sub floor measured in the same run.

    .venv/bin/python -m bench.lateness --mode production --timers 1000

The load generator (sockets and HTTP clients) shares the machine's cores with
the servers it measures.
"""
import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.live import Listener, parse_time, wait_until
from tests.stacks import embedded_stack, production_stack

from .common import percentiles, pubsub_floor, seed_users


def measure(stack, timers: int, seconds: int, start_rate: float) -> dict:
    users = seed_users(stack.env["DATABASE_URL"], timers, work_seconds=seconds, auto_start_breaks=False)
    socket_base = stack.base.replace("http", "ws", 1)
    with ThreadPoolExecutor(32) as pool:
        listeners = list(pool.map(lambda pair: Listener(f"{socket_base}/ws?token={pair[1]}", reconnect=False), users))

    began = time.monotonic()

    def start(numbered):
        number, pair = numbered
        if start_rate:  # hold each start back to its slot: a steady arrival of timers
            time.sleep(max(0.0, began + number / start_rate - time.monotonic()))
        response = requests.post(f"{stack.base}/sessions", json={}, timeout=30,
                                 headers={"Authorization": f"Bearer {pair[1]}"})
        response.raise_for_status()
        return response.json()

    with ThreadPoolExecutor(16) as pool:
        sessions = list(pool.map(start, enumerate(users)))
    starting = time.monotonic() - began

    def all_heard():
        return all(listener.events("session.completed") for listener in listeners)

    try:
        wait_until(all_heard, seconds + 60, interval=0.2, message="every completion")
    except AssertionError:
        pass
    lateness, early, missing = [], 0, 0
    for listener, session in zip(listeners, sessions):
        arrivals = listener.arrivals("session.completed")
        if not arrivals:
            missing += 1
            continue
        late = arrivals[0][0] - parse_time(session["ends_at"]).timestamp()
        early += late < 0
        lateness.append(late * 1000)
    for listener in listeners:
        listener.close()
    return {"timers": timers, "start_rate": start_rate or "as fast as possible", "start_seconds": round(starting, 2), "early": early, "missing": missing,
            "lateness_ms": percentiles(lateness)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["embedded", "production"], default="production")
    parser.add_argument("--timers", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=15, help="each timer's length")
    parser.add_argument("--start-rate", type=float, default=0,
                        help="timers started per second (0: as fast as the server takes them)")
    parser.add_argument("--floor-redis", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    floor = pubsub_floor(args.floor_redis)
    if args.mode == "embedded":
        with tempfile.TemporaryDirectory() as folder, embedded_stack(Path(folder)) as stack:
            result = measure(stack, args.timers, args.seconds, args.start_rate)
    else:
        with production_stack() as stack:
            result = measure(stack, args.timers, args.seconds, args.start_rate)
    result = {"mode": args.mode, **result, "pubsub_floor_ms": floor}
    print(json.dumps(result, indent=2))
    late = result["lateness_ms"]
    if late.get("n"):
        print(f"| {args.mode} | {args.timers} | {result['start_seconds']} s | {late['p50']:.1f} | {late['p99']:.1f} | {late['max']:.1f} "
              f"| {result['early']} | {result['missing']} | {floor['p50']:.2f} / {floor['p99']:.2f} |")


if __name__ == "__main__":
    main()
