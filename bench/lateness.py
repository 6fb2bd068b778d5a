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
import asyncio
import json
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.live import parse_time
from tests.stacks import embedded_stack, production_stack

from .common import allow_many_open_files, connect, percentiles, pubsub_floor, seed_users


def measure(stack, timers: int, seconds: int, start_rate: float) -> dict:
    users = seed_users(stack.env["DATABASE_URL"], timers, work_seconds=seconds, auto_start_breaks=False)
    return asyncio.run(_measure(stack, users, start_rate, seconds))


async def _listen(url: str, opened: asyncio.Queue, heard: dict) -> None:
    """One socket: note when `session.completed` arrives for each session."""
    async with await connect(url) as ws:
        await ws.recv()  # hello
        await opened.put(None)
        async for text in ws:
            frame = json.loads(text)
            if frame["event"] == "session.completed":
                heard.setdefault(frame["data"]["session"]["id"], (time.time(), parse_time(frame["at"]).timestamp()))


async def _measure(stack, users, start_rate: float, seconds: int) -> dict:
    socket_base = stack.base.replace("http", "ws", 1)
    heard: dict[str, tuple[float, float]] = {}
    opened: asyncio.Queue = asyncio.Queue()
    sockets = []
    for number, (_, token) in enumerate(users):
        sockets.append(asyncio.create_task(_listen(f"{socket_base}/ws?token={token}", opened, heard)))
        if number % 200 == 199:
            await asyncio.sleep(0.05)  # don't overrun the listen backlog
    for _ in users:
        await asyncio.wait_for(opened.get(), 120)

    http = threading.local()
    began = time.monotonic()

    def start(numbered):
        number, (_, token) = numbered
        if start_rate:  # hold each start back to its slot: a steady arrival of timers
            time.sleep(max(0.0, began + number / start_rate - time.monotonic()))
        if not hasattr(http, "session"):
            http.session = requests.Session()
        response = http.session.post(f"{stack.base}/sessions", json={}, timeout=60,
                                     headers={"Authorization": f"Bearer {token}"})
        response.raise_for_status()
        return response.json()

    def start_all():
        with ThreadPoolExecutor(16) as pool:
            return list(pool.map(start, enumerate(users)))

    sessions = await asyncio.to_thread(start_all)
    starting = time.monotonic() - began
    deadline = time.monotonic() + seconds + 120
    while len(heard) < len(sessions) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    for task in sockets:
        task.cancel()
    await asyncio.gather(*sockets, return_exceptions=True)

    timeline, early, missing = [], 0, 0
    for session in sessions:
        if session["id"] not in heard:
            missing += 1
            continue
        arrived, published = heard[session["id"]]
        ends_at = parse_time(session["ends_at"]).timestamp()
        early += arrived < ends_at
        timeline.append((ends_at, published, arrived, session["id"]))
    timeline.sort()
    session_ids = [moments[-1] for moments in timeline]
    timeline = [moments[:-1] for moments in timeline]

    def between(first: int, second: int) -> dict:
        return percentiles([(moments[second] - moments[first]) * 1000 for moments in timeline])

    return {"timeline": timeline, "session_ids": session_ids, "timers": len(users),
            "start_rate": start_rate or "as fast as possible",
            "start_seconds": round(starting, 2), "early": early, "missing": missing,
            "lateness_ms": between(0, 2),
            # the event's own `at` (stamped as the worker publishes it) splits the lateness in two
            "ends_at_to_published_ms": between(0, 1), "published_to_heard_ms": between(1, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["embedded", "production"], default="production")
    parser.add_argument("--timers", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=15, help="each timer's length")
    parser.add_argument("--start-rate", type=float, default=0,
                        help="timers started per second (0: as fast as the server takes them)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (production mode)")
    parser.add_argument("--timeline", help="write each session's (ends_at, published, heard) here, as JSON")
    parser.add_argument("--floor-redis", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    allow_many_open_files()

    floor = pubsub_floor(args.floor_redis)
    if args.mode == "embedded":
        with tempfile.TemporaryDirectory() as folder, embedded_stack(Path(folder)) as stack:
            result = measure(stack, args.timers, args.seconds, args.start_rate)
    else:
        with production_stack(workers=args.workers) as stack:
            result = measure(stack, args.timers, args.seconds, args.start_rate)
    timeline = result.pop("timeline")
    result.pop("session_ids")
    if args.timeline:
        Path(args.timeline).write_text(json.dumps(timeline))
    result = {"mode": args.mode, "workers": args.workers if args.mode == "production" else 0, **result, "pubsub_floor_ms": floor}
    print(json.dumps(result, indent=2))
    late = result["lateness_ms"]
    if late.get("n"):
        print(f"| {args.mode} | {result['workers']} | {args.timers} | {result['start_seconds']} s | {late['p50']:.1f} | {late['p99']:.1f} | {late['max']:.1f} "
              f"| {result['early']} | {result['missing']} | {floor['p50']:.2f} / {floor['p99']:.2f} |")


if __name__ == "__main__":
    main()
