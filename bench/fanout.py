"""How many idle sockets does one box hold, and how fast does one event reach all of them?

Runs the production web line (PostgreSQL, Redis) under a chosen gunicorn
worker class, opens N sockets for one user (every tab of a very busy user, so
one event fans out to all of them), then fires events through the API and
measures, per event, when each socket heard it. Prints fan-out p50/p99/max
(from the API call that caused the event), memory of the web processes per
socket, and the bare Redis pub/sub floor measured in the same run.

    .venv/bin/python -m bench.fanout --server gevent --sockets 2000

The client (asyncio, one process) shares the machine's two cores with the
servers it measures.
"""
import argparse
import asyncio
import json
import time

import psutil
import requests

from tests.stacks import production_stack

from .common import allow_many_open_files, connect, percentiles, pubsub_floor, seed_users

COMMANDS = {
    "gevent": None,  # the Procfile's own web line
    "gthread": "gunicorn --worker-class gthread --workers ${WEB_CONCURRENCY:-2} --threads {threads} "
               "--bind 0.0.0.0:$PORT wsgi:app",
}


def web_memory(stack) -> float:
    """Resident memory of the gunicorn master and its workers, in MB."""
    root = psutil.Process(stack.web.popen.pid)
    return sum(process.memory_info().rss for process in [root, *root.children(recursive=True)]) / 2**20


async def hold_sockets(url: str, count: int, events: int, fire) -> list[list[float]]:
    """Open `count` sockets, then fire `events` events; returns per-event lists of fan-out seconds."""
    heard: list[list[float]] = [[] for _ in range(events)]
    fired: list[float] = [0.0] * events
    connected = 0
    done = asyncio.Event()

    async def one_socket():
        nonlocal connected
        async with await connect(url, max_queue=None) as ws:
            await ws.recv()  # hello
            connected += 1
            seen = 0
            while seen < events:
                frame = json.loads(await ws.recv())
                if frame["event"] == "configuration.updated":
                    heard[seen].append(time.perf_counter() - fired[seen])
                    seen += 1
            await done.wait()

    tasks = []
    for _ in range(count):
        tasks.append(asyncio.create_task(one_socket()))
        if len(tasks) % 200 == 0:
            await asyncio.sleep(0.05)  # don't overrun the listen backlog
    while connected < count:
        await asyncio.sleep(0.1)
        if any(task.done() and task.exception() for task in tasks):
            raise next(task.exception() for task in tasks if task.done() and task.exception())
    for number in range(events):
        fired[number] = time.perf_counter()
        await asyncio.to_thread(fire, number)
        while len(heard[number]) < count:
            await asyncio.sleep(0.01)
    done.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return heard


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=sorted(COMMANDS), default="gevent")
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--floor-redis", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    allow_many_open_files()

    floor = pubsub_floor(args.floor_redis)
    command = COMMANDS[args.server]
    # One account holds every socket here: lift its cap (`SOCKETS_PER_USER`) to the count.
    with production_stack(web_command=command and command.replace("{threads}", str(args.sockets + 50)),
                          SOCKETS_PER_USER=str(args.sockets)) as stack:
        ((user_id, token),) = seed_users(stack.env["DATABASE_URL"], 1)
        idle_memory = web_memory(stack)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"

        def fire(number):
            session.patch(f"{stack.base}/users/{user_id}/configuration", json={"work_seconds": 60 + number},
                          timeout=60).raise_for_status()

        url = stack.base.replace("http", "ws", 1) + f"/ws?token={token}"
        began = time.monotonic()
        heard = asyncio.run(hold_sockets(url, args.sockets, args.events, fire))
        held_memory = web_memory(stack)
    per_event = [percentiles([s * 1000 for s in seconds]) for seconds in heard]
    warm = [stats for stats in per_event[1:]] or per_event
    result = {
        "server": args.server,
        "sockets": args.sockets,
        "connect_seconds": round(time.monotonic() - began, 1),
        "web_rss_mb": {"idle": round(idle_memory), "with_sockets": round(held_memory)},
        "kb_per_socket": round((held_memory - idle_memory) * 1024 / args.sockets, 1),
        "first_event_ms": per_event[0],
        "warm_events_ms": {key: round(max(stats[key] for stats in warm), 1) for key in ("p50", "p99", "max")},
        "pubsub_floor_ms": floor,
    }
    print(json.dumps(result, indent=2))
    w = result["warm_events_ms"]
    print(f"| {args.server} | {args.sockets} | {result['web_rss_mb']['with_sockets']} MB | {result['kb_per_socket']} KB "
          f"| {per_event[0]['p99']:.0f} | {w['p50']:.0f} / {w['p99']:.0f} / {w['max']:.0f} | {floor['p99']:.2f} |")


if __name__ == "__main__":
    main()
