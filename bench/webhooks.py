"""Webhooks under load: N timers, each user with a webhook to a local receiver.

In one run, against one stack: first N timers without webhooks (the
baseline), then N timers whose users each have a webhook for
`session.completed`. Prints completion lateness (ends_at → the socket's
notice) for both, and how long after `ends_at` each webhook arrived. With
`--hanging F`, that fraction of the users' endpoints hang for 15 s on every
request: the others' deliveries must not wait for them.

    .venv/bin/python -m bench.webhooks --mode production --timers 1000 --hanging 0.05

The receivers run in processes of their own, on the same cores as the servers.
"""
import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from pomodoro import create_app
from pomodoro.extensions import db
from pomodoro.models import Webhook
from pomodoro.webhook_rules import new_secret
from tests.live import parse_time, wait_until
from tests.stacks import embedded_stack, production_stack

from .common import ReceiverProcess, allow_many_open_files, percentiles, pubsub_floor, seed_users
from .lateness import _measure

PRIVATE = {"WEBHOOK_ALLOW_PRIVATE": "1"}


def seed_webhooks(database_url: str, user_ids: list[str], url_of) -> None:
    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None})
    with app.app_context():
        db.session.add_all(Webhook(user_id=user_id, url=url_of(number), events=["session.completed"],
                                   secret=new_secret()) for number, user_id in enumerate(user_ids))
        db.session.commit()
        db.engine.dispose()


def lateness_run(stack, timers: int, seconds: int, start_rate: float, url_of=None) -> dict:
    users = seed_users(stack.env["DATABASE_URL"], timers, work_seconds=seconds, auto_start_breaks=False)
    if url_of is not None:
        seed_webhooks(stack.env["DATABASE_URL"], [user_id for user_id, _ in users], url_of)
    return asyncio.run(_measure(stack, users, start_rate, seconds))


def arrivals(receiver: ReceiverProcess) -> dict[str, float]:
    """When the first delivery for each session arrived, by session id."""
    first = {}
    for request in receiver.received:
        session = json.loads(request.body)["data"]["session"]
        first.setdefault(session["id"], (request.at, parse_time(session["ends_at"]).timestamp()))
    return first


def measure(stack, timers: int, seconds: int, start_rate: float, hanging: float) -> dict:
    baseline = lateness_run(stack, timers, seconds, start_rate)
    baseline.pop("timeline")
    slow_every = round(1 / hanging) if hanging else 0
    with ReceiverProcess() as quick, ReceiverProcess([(200, {}, b"", 15)]) as slow:
        def url_of(number):
            return slow.url if slow_every and number % slow_every == 0 else quick.url

        loaded = lateness_run(stack, timers, seconds, start_rate, url_of)
        expected = timers - (len(range(0, timers, slow_every)) if slow_every else 0)
        try:  # the sockets have all heard; give the last deliveries a moment
            wait_until(lambda: quick.count() >= expected, 60, 0.2)
        except AssertionError:
            pass  # counted below as missing
        heard = arrivals(quick)
        webhook_ms = [(at - ends_at) * 1000 for at, ends_at in heard.values()]
        return {
            "timeline": [(*moments, heard.get(session_id, (None,))[0])
                         for session_id, moments in zip(loaded["session_ids"], loaded.pop("timeline"))],
            "timers": timers, "seconds": seconds, "hanging_endpoints": timers - expected,
            "baseline_lateness_ms": baseline["lateness_ms"], "baseline_missing": baseline["missing"],
            "lateness_ms": loaded["lateness_ms"], "missing": loaded["missing"], "early": loaded["early"],
            "webhook_after_ends_at_ms": percentiles(webhook_ms),
            "webhooks_missing": expected - len(heard), "webhooks_early": sum(ms < 0 for ms in webhook_ms),
            "hanging_received": slow.count(),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["embedded", "production"], default="production")
    parser.add_argument("--timers", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=20, help="each timer's length")
    parser.add_argument("--start-rate", type=float, default=0)
    parser.add_argument("--hanging", type=float, default=0.0, help="fraction of endpoints that hang for 15 s")
    parser.add_argument("--floor-redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--timeline", help="write each session's (ends_at, published, heard, webhook arrived) "
                                           "of the run with webhooks here, as JSON")
    args = parser.parse_args()
    allow_many_open_files()
    floor = pubsub_floor(args.floor_redis)
    if args.mode == "embedded":
        with tempfile.TemporaryDirectory() as folder, embedded_stack(Path(folder), **PRIVATE) as stack:
            result = measure(stack, args.timers, args.seconds, args.start_rate, args.hanging)
    else:
        with production_stack(**PRIVATE) as stack:
            result = measure(stack, args.timers, args.seconds, args.start_rate, args.hanging)
    timeline = result.pop("timeline")
    if args.timeline:
        Path(args.timeline).write_text(json.dumps(timeline))
    print(json.dumps({"mode": args.mode, **result, "pubsub_floor_ms": floor}, indent=2))


if __name__ == "__main__":
    main()
