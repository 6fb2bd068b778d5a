"""The server keeps the clock: sessions complete at ends_at, the cycle moves on,
and every socket of the user hears it, in both modes, over real connections."""
import time

import pytest
import websocket

from .live import Listener, completed_session, parse_time, wait_until
from .stacks import stack  # noqa: F401  (the module-scoped fixture)


# "Promptly" here means within a second on a loaded test machine; how late
# notices really are is measured by bench/lateness.py, not by a test.
PROMPTLY = 1.0


def lateness(listener, session):
    """Seconds between the session's ends_at and the notice reaching the listener."""
    arrived, _ = next((at, frame) for at, frame in listener.arrivals("session.completed")
                      if frame["data"]["session"]["id"] == session["id"])
    return arrived - parse_time(session["ends_at"]).timestamp()


def test_every_socket_of_the_user_hears_the_completion_and_no_one_else(stack):
    ada, bob = stack.user(work_seconds=1, auto_start_breaks=False), stack.user()
    laptop, phone, root_path = ada.listen(), ada.listen(), ada.listen("/")
    bobs = bob.listen()
    session = ada.start()

    for listener in (laptop, phone, root_path):
        frame = listener.wait_for(lambda f: completed_session(f, session["id"]), message="session.completed")
        assert frame["data"]["session"]["status"] == "completed"
        assert frame["data"]["next_session"] is None
        assert 0 <= lateness(listener, session) < PROMPTLY, "never early, and promptly"
    assert [frame["event"] for frame in bobs.events()] == ["hello"]
    stored = ada.call("GET", f"/sessions/{session['id']}")
    assert stored["status"] == "completed" and stored["completed_at"] == session["ends_at"]


def test_hello_carries_the_current_session_so_a_client_can_resynchronise(stack):
    ada = stack.user()
    session = ada.start()
    hello = ada.listen().events("hello")[0]
    assert hello["data"]["session"]["id"] == session["id"]
    assert hello["data"]["session"]["status"] == "running"
    assert parse_time(hello["at"])


def test_auto_start_runs_the_cycle_through_the_long_break(stack):
    ada = stack.user(work_seconds=1, short_break_seconds=1, long_break_seconds=1, long_break_interval=2,
                     auto_start_breaks=True, auto_start_work=True)
    listener = ada.listen()
    first = ada.start()
    finished = listener.wait_for(lambda f: f["event"] == "cycle.finished", timeout=15, message="cycle.finished")

    sessions = ada.call("GET", f"/cycles/{first['cycle_id']}/sessions")["items"]
    assert [s["type"] for s in sessions] == ["work", "short_break", "work", "long_break"]
    assert all(s["status"] == "completed" for s in sessions)
    for before, after in zip(sessions, sessions[1:]):
        assert after["started_at"] == before["completed_at"], "the next session starts where the last ended"
    completions = [f["data"]["session"]["id"] for f in listener.events("session.completed")]
    assert completions == [s["id"] for s in sessions], "one notice per session, in order"
    assert finished["data"]["cycle"]["status"] == "finished"
    assert ada.call("GET", "/sessions/current", 404)


def test_a_paused_session_does_not_complete_and_a_resumed_one_completes_later(stack):
    ada = stack.user(work_seconds=1, auto_start_breaks=False)
    listener = ada.listen()
    session = ada.start()
    paused = ada.call("PATCH", f"/sessions/{session['id']}/stop")
    time.sleep(max(0.0, parse_time(session["ends_at"]).timestamp() - time.time()) + 1.2)  # past the old end
    assert not listener.events("session.completed"), "the withdrawn completion must not fire"
    assert ada.call("GET", f"/sessions/{session['id']}")["status"] == "paused"

    before = time.time()
    resumed = ada.call("PATCH", f"/sessions/{session['id']}/resume")
    after = time.time()
    moved_to = parse_time(resumed["ends_at"]).timestamp()
    remaining = paused["remaining_seconds"]
    assert before + remaining - 0.002 <= moved_to <= after + remaining + 0.002, "ends_at = resume time + remaining"
    listener.wait_for(lambda f: completed_session(f, session["id"]), message="completion after resume")
    assert 0 <= lateness(listener, resumed) < PROMPTLY
    assert len(listener.events("session.completed")) == 1


def test_skipping_or_finishing_early_is_announced_once_and_nothing_fires_later(stack):
    ada = stack.user(work_seconds=1, auto_start_breaks=False)
    listener = ada.listen()
    skipped = ada.start()
    ada.call("PATCH", f"/sessions/{skipped['id']}/status", json={"status": "cancelled"})
    finished = ada.start()
    ada.call("PATCH", f"/sessions/{finished['id']}/status", json={"status": "completed"})
    listener.wait_for(lambda f: f["event"] == "session.cancelled", message="session.cancelled")
    listener.wait_for(lambda f: completed_session(f, finished["id"]), message="early completion")
    time.sleep(1.2)  # past both sessions' original ends_at
    assert len(listener.events("session.completed")) == 1
    assert len(listener.events("session.cancelled")) == 1


@pytest.mark.parametrize("query", ["", "?token=", "?token=not-a-token"])
def test_the_socket_refuses_a_handshake_without_valid_credentials(stack, query):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(stack.base.replace("http", "ws") + "/ws" + query, timeout=5)
    assert refused.value.status_code == 401


def test_a_revoked_token_can_no_longer_listen(stack):
    ada = stack.user()
    ada.call("DELETE", "/auth/token", 204)
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(stack.base.replace("http", "ws") + f"/ws?token={ada.token}", timeout=5)


def test_garbage_from_a_client_is_ignored_and_notices_still_arrive(stack):
    ada = stack.user(work_seconds=1, auto_start_breaks=False)
    noisy = ada.listen()
    for junk in ("not json", '{"event": "session.completed"}', "\x00" * 100):
        noisy.send(junk)
    noisy.send(bytes(range(256)), binary=True)
    session = ada.start()
    noisy.wait_for(lambda f: completed_session(f, session["id"]), message="completion despite garbage")
    assert [f["event"] for f in noisy.events()].count("session.completed") == 1


def test_an_oversized_frame_closes_only_that_socket(stack):
    ada = stack.user(work_seconds=1, auto_start_breaks=False)
    rude = Listener(ada.listen().url, reconnect=False)
    calm = ada.listen()
    rude.send("x" * 100_000)
    wait_until(lambda: not rude.thread.is_alive(), 10, message="the oversized socket to close")
    session = ada.start()
    calm.wait_for(lambda f: completed_session(f, session["id"]), message="completion on the other socket")
