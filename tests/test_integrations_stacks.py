"""Webhooks as the product runs: a session completed by its clock is delivered
by the embedded process and, in production, by the `background` process,
never by the `worker` that keeps the clock; a background process killed
mid-delivery and a Redis restarted empty lose nothing, and a repeat carries
the same `webhook-id`."""
import json
import os
import signal

import pytest
from standardwebhooks import Webhook as Verifier

from .live import parse_time, wait_until
from .stacks import embedded_stack, production_stack
from .webhook_receiver import Receiver

PRIVATE = {"WEBHOOK_ALLOW_PRIVATE": "1"}


@pytest.fixture(scope="module", params=["embedded", "production"])
def stack(request, tmp_path_factory):
    if request.param == "embedded":
        with embedded_stack(tmp_path_factory.mktemp("embedded"), **PRIVATE) as running:
            yield running
    else:
        with production_stack(**PRIVATE) as running:
            yield running


def completions(receiver, session_id=None):
    found = []
    for request in receiver.received:
        body = json.loads(request.body)
        if body["type"] == "session.completed" and session_id in (None, body["data"]["session"]["id"]):
            found.append(request)
    return found


def test_a_session_completed_by_its_clock_is_delivered_after_it_is_stored(stack):
    user = stack.user(work_seconds=1, auto_start_breaks=False)
    with Receiver() as receiver:
        hook = user.call("POST", "/webhooks", 201, json={"url": receiver.url, "events": ["session.completed"]})
        session = user.start()
        [request] = wait_until(lambda: completions(receiver), 15, message="the session.completed delivery")
    payload = Verifier(hook["secret"]).verify(request.body, request.headers)
    assert payload["data"]["session"]["id"] == session["id"]
    assert request.at >= parse_time(session["ends_at"]).timestamp()
    # The receiver has the request a moment before the sender writes down its answer.
    log = wait_until(lambda: [(one["event"], one["status"]) for one in
                              user.call("GET", f"/webhooks/{hook['id']}/deliveries")["items"]
                              if one["status"] != "pending"], 10, 0.1, message="the delivery logged")
    assert log == [("session.completed", "delivered")]


@pytest.fixture(scope="module")
def production():
    with production_stack(**PRIVATE) as running:
        yield running


def test_the_worker_that_completes_a_session_does_not_send_its_delivery(production):
    user = production.user(work_seconds=1, auto_start_breaks=False)
    with Receiver() as receiver:
        user.call("POST", "/webhooks", 201, json={"url": receiver.url, "events": ["session.completed"]})
        production.background.stop()
        try:
            session = user.start()
            wait_until(lambda: user.call("GET", f"/sessions/{session['id']}")["status"] == "completed", 15,
                       message="the worker completing the session")
            [pending] = user.call("GET", f"/webhooks/{user.call('GET', '/webhooks')['items'][0]['id']}/deliveries")["items"]
            assert pending["status"] == "pending" and receiver.count() == 0, "stored, and not sent by the worker"
        finally:
            production.background.start()
        wait_until(lambda: completions(receiver, session["id"]), 30, 0.2, message="the background process sending it")


def test_the_background_process_gives_way_to_the_clock_and_the_requests_on_the_cpu(production):
    """What `ps` shows in its NI column: the sender runs BACKGROUND_NICENESS
    (10) below the worker and the web processes."""
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, production.background.popen.pid) == min(mine + 10, 19)
    assert os.getpriority(os.PRIO_PROCESS, production.worker.popen.pid) == mine
    assert os.getpriority(os.PRIO_PROCESS, production.web.popen.pid) == mine


def test_a_background_process_killed_mid_delivery_loses_nothing_and_repeats_with_the_same_id(production):
    users = [production.user(work_seconds=2, auto_start_breaks=False) for _ in range(3)]
    with Receiver([(200, {}, b"slow", 3), (200, {}, b"ok", 0)]) as receiver:
        for user in users:
            user.call("POST", "/webhooks", 201, json={"url": receiver.url, "events": ["session.completed"]})
        sessions = [user.start() for user in users]
        wait_until(lambda: receiver.count() >= 1, 15, message="a delivery in flight")
        production.background.stop(signal.SIGKILL)  # while the first answer is still coming
        production.background.start()
        for session in sessions:
            wait_until(lambda: completions(receiver, session["id"]), 90, 0.2, message="every completion delivered")
    ids = {}
    for request in completions(receiver):
        ids.setdefault(json.loads(request.body)["data"]["session"]["id"], set()).add(request.headers["webhook-id"])
    assert all(len(one) == 1 for one in ids.values()), "a repeat carries the same webhook-id"
    for request in completions(receiver):
        assert request.at >= parse_time(json.loads(request.body)["data"]["session"]["ends_at"]).timestamp()


def test_redis_restarted_empty_loses_no_delivery(production):
    user = production.user(work_seconds=3, auto_start_breaks=False)
    with Receiver() as receiver:
        user.call("POST", "/webhooks", 201, json={"url": receiver.url, "events": ["session.completed"]})
        session = user.start()
        production.redis.stop(signal.SIGKILL)
        production.redis.start()
        wait_until(lambda: completions(receiver, session["id"]), 60, 0.2, message="the delivery after the restart")
    assert len({one.headers["webhook-id"] for one in completions(receiver, session["id"])}) == 1
