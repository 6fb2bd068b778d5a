"""The webhook half of `bench.faults`: every user has an endpoint (for every
event) on a receiver in the load generator; after the run, the deliveries the
database recorded are held against what the receiver got.

- lost: a recorded delivery the receiver never got, or that is not
  `delivered` once the run has drained (the endpoint always answers 200);
- unrecorded: a change stored without its delivery (a completion by the clock
  with no `session.completed` delivery for it);
- sent before (or without) its commit: a request whose `webhook-id` names no
  stored delivery, or that arrived before the delivery was stored;
- duplicates under another id: one delivery's body received under two
  different `webhook-id`s. Repeats with the same id are at-least-once,
  counted but allowed.
"""
import json
from collections import Counter

import psycopg
from psycopg.rows import namedtuple_row

from pomodoro.models import new_id
from pomodoro.webhook_rules import new_secret

MUST_BE_ZERO = ("lost deliveries", "unrecorded deliveries", "sent before commit", "duplicates under another id")


def seed_endpoints(database_url: str, user_ids: list[str], url: str) -> None:
    with psycopg.connect(database_url) as connection:
        connection.cursor().executemany(
            "INSERT INTO webhooks (id, user_id, url, events, description, enabled, secret, created_at, updated_at)"
            " VALUES (%s, %s, %s, NULL, 'bench', true, %s, now(), now())",
            [(new_id(), user_id, url, new_secret()) for user_id in user_ids],
        )


def pending(database_url: str) -> int:
    with psycopg.connect(database_url) as connection:
        return connection.execute("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'").fetchone()[0]


def check(database_url: str, received: list) -> dict:
    with psycopg.connect(database_url, row_factory=namedtuple_row) as connection:
        rows = connection.execute("SELECT id, event, payload, status, attempts, created_at FROM webhook_deliveries").fetchall()
        by_clock = connection.execute(
            "SELECT id FROM sessions WHERE status = 'completed' AND remaining_seconds = 0").fetchall()
    stored = {row.id: row for row in rows}
    counts, examples = Counter(), []

    def problem(kind: str, what: str) -> None:
        counts[kind] += 1
        if len(examples) < 10:
            examples.append(f"{kind}: {what}")

    counts["deliveries recorded"] = len(rows)
    counts["requests received"] = len(received)
    ids_of_body: dict[bytes, set] = {}
    got = Counter()
    for request in received:
        message_id = request.headers.get("webhook-id")
        got[message_id] += 1
        ids_of_body.setdefault(request.body, set()).add(message_id)
        row = stored.get(message_id)
        if row is None:
            problem("sent before commit", f"{message_id} was received but never stored")
        elif request.at < row.created_at.timestamp() - 0.002:
            problem("sent before commit", f"{message_id} arrived before it was stored")
    counts["repeats with the same id"] = sum(n - 1 for n in got.values() if n > 1)
    for body, ids in ids_of_body.items():
        if len(ids) > 1:
            problem("duplicates under another id", f"one body under {sorted(ids)}")
    for row in rows:
        if row.id not in got or row.status != "delivered":
            problem("lost deliveries", f"{row.id} ({row.event}): {row.status} after {row.attempts} attempts, "
                                       f"received {got[row.id]} times")
    told = {json.loads(row.payload)["data"]["session"]["id"] for row in rows if row.event == "session.completed"}
    for session in by_clock:
        if session.id not in told:
            problem("unrecorded deliveries", f"session {session.id} completed by its clock, no delivery stored")
    for name in MUST_BE_ZERO:
        counts.setdefault(name, 0)
    return {"counts": counts, "examples": examples}
