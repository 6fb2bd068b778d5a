"""What keeping quiet sockets alive costs the web processes: N idle sockets,
pinged every `--ping` seconds, for `--seconds`; then one event's fan-out to
all of them.

Prints the CPU seconds the web processes spent per second of quiet (the
pings), their resident memory per socket, open descriptors per socket, and
the fan-out p50/p99 of one event. Used to choose between the socket's own
ping (socket.relay) and simple-websocket's `ping_interval` (bench/README.md).

    .venv/bin/python -m bench.pings --sockets 1000 --ping 1 --seconds 20
"""
import argparse
import asyncio
import json
import time

import psutil
import requests

from tests.stacks import production_stack

from .common import allow_many_open_files, connect, percentiles, seed_users


def web_processes(stack) -> list:
    root = psutil.Process(stack.web.popen.pid)
    return [root, *root.children(recursive=True)]


def usage(stack) -> dict:
    processes = web_processes(stack)
    return {
        "cpu": sum(sum(process.cpu_times()[:2]) for process in processes),
        "rss_mb": sum(process.memory_info().rss for process in processes) / 2**20,
        "fds": sum(process.num_fds() for process in processes),
    }


async def quiet_sockets(url: str, count: int, seconds: float, measure, fire) -> tuple[dict, dict, list]:
    """Open `count` sockets that answer pings (the client library does), keep
    them quiet for `seconds`, then fire one event and time its fan-out."""
    opened, heard = [], []
    for number in range(count):
        opened.append(await connect(url, max_queue=None))
        if number % 200 == 199:
            await asyncio.sleep(0.05)
    await asyncio.gather(*(ws.recv() for ws in opened))  # hello

    async def keep_reading(ws):  # the client answers pings while it reads
        async for text in ws:
            if json.loads(text)["event"] == "configuration.updated":
                heard.append(time.perf_counter())

    readers = [asyncio.create_task(keep_reading(ws)) for ws in opened]
    before = measure()
    await asyncio.sleep(seconds)
    after = measure()
    fired = time.perf_counter()
    await asyncio.to_thread(fire)
    deadline = time.monotonic() + 60
    while len(heard) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    closed = sum(1 for ws in opened if ws.close_code is not None)
    for ws in opened:
        await ws.close()
    for reader in readers:
        reader.cancel()
    return before, after, [(at - fired) * 1000 for at in heard], closed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--ping", type=float, default=1.0, help="SOCKET_PING_SECONDS")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    allow_many_open_files()
    with production_stack(SOCKET_PING_SECONDS=str(args.ping), SOCKETS_PER_USER=str(args.sockets)) as stack:
        ((user_id, token),) = seed_users(stack.env["DATABASE_URL"], 1)
        idle = usage(stack)

        def fire():
            requests.patch(f"{stack.base}/users/{user_id}/configuration", json={"work_seconds": 61},
                           headers={"Authorization": f"Bearer {token}"}, timeout=60).raise_for_status()

        url = stack.base.replace("http", "ws", 1) + f"/ws?token={token}"
        before, after, fan_out, closed = asyncio.run(
            quiet_sockets(url, args.sockets, args.seconds, lambda: usage(stack), fire))
    result = {
        "sockets": args.sockets, "ping_seconds": args.ping,
        "web_cpu_per_second": round((after["cpu"] - before["cpu"]) / args.seconds, 3),
        "kb_per_socket": round((after["rss_mb"] - idle["rss_mb"]) * 1024 / args.sockets, 1),
        "fds_per_socket": round((after["fds"] - idle["fds"]) / args.sockets, 2),
        "fan_out_ms": percentiles(fan_out),
        "closed_by_server": closed,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
