"""The socket's own promises: who may connect, what it costs the server, and
that one client's trouble stays its own."""
import json
import socket as sockets
import time

import pytest
import websocket

from .live import Listener, completed_session, logged_in_cookie, parse_time, wait_until
from .stacks import stack  # noqa: F401  (the module-scoped fixture)


def ws_url(stack, path="/ws"):
    return stack.base.replace("http", "ws", 1) + path


def test_a_browser_session_cookie_from_our_own_pages_may_listen(stack):
    ada = stack.user()
    cookie = logged_in_cookie(stack.base, ada.email, ada.password)
    listener = Listener(ws_url(stack), cookie=f"session={cookie}", origin=stack.base)
    session = ada.start()
    listener.wait_for(lambda f: f["event"] == "session.started" and f["data"]["session"]["id"] == session["id"])


@pytest.mark.parametrize("origin", ["http://evil.example", None])
def test_a_session_cookie_from_another_origin_or_none_is_refused(stack, origin):
    ada = stack.user()
    cookie = logged_in_cookie(stack.base, ada.email, ada.password)
    options = {"cookie": f"session={cookie}", "suppress_origin": origin is None}
    if origin:
        options["origin"] = origin
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(ws_url(stack), timeout=5, **options)
    assert refused.value.status_code == 401


def test_open_sockets_do_not_hold_database_connections(stack):
    """Far more sockets than the connection pool has room for (15 a process) all
    get their hello, and the API still answers at once."""
    ada = stack.user()
    listeners = [ada.listen() for _ in range(40)]
    started = time.monotonic()
    ada.call("GET", "/sessions/current", 404)
    assert time.monotonic() - started < 2
    assert all(listener.events("hello") for listener in listeners)


def test_a_stuck_client_does_not_delay_anyone_elses_notice(stack):
    stuck_user = stack.user()
    stuck = websocket.create_connection(  # connects, then never reads a byte
        ws_url(stack) + f"?token={stuck_user.token}", timeout=5,
        sockopt=[(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)],
    )
    for minutes in range(300):  # a flood of events for the stuck socket
        stuck_user.configure(work_seconds=60 + minutes)
    ada = stack.user(work_seconds=1, auto_start_breaks=False)
    listener = ada.listen()
    session = ada.start()
    frame = listener.wait_for(lambda f: completed_session(f, session["id"]), message="Ada's completion")
    arrived = next(at for at, f in listener.arrivals("session.completed") if f is frame)
    # A relay held up by the stuck socket would keep Ada waiting until that
    # socket is dropped; her notice comes at her session's end (the bound
    # leaves room for a loaded machine, lateness is measured in bench/).
    assert 0 <= arrived - parse_time(session["ends_at"]).timestamp() < 2
    stuck.close()


def test_a_quiet_socket_is_pinged_and_one_that_never_answers_is_closed(stack):
    ada = stack.user()
    quiet = websocket.create_connection(ws_url(stack) + f"?token={ada.token}", timeout=10)
    assert json.loads(quiet.recv())["event"] == "hello"
    assert quiet.recv_data_frame(True)[0] == websocket.ABNF.OPCODE_PING  # pinged after a second of quiet

    silent = websocket.create_connection(ws_url(stack) + f"?token={ada.token}", timeout=10)
    silent_socket = silent.sock
    deadline = time.monotonic() + 10
    closed = False
    while time.monotonic() < deadline and not closed:  # read raw bytes: never answer a ping
        try:
            closed = silent_socket.recv(4096) == b""
        except OSError:
            closed = True
    assert closed, "a peer that never answers pings is let go"
    quiet.close()


def test_a_quiet_socket_that_answers_every_ping_stays_open_and_keeps_hearing(stack):
    """Pins what the socket's own ping relies on in simple-websocket: its
    reader thread notes each pong (`pong_received`), and a ping written
    straight to the connection (`ws.sock`, `ws.ws`) reaches the peer."""
    ada = stack.user()
    quiet = websocket.create_connection(ws_url(stack) + f"?token={ada.token}", timeout=10)
    assert json.loads(quiet.recv())["event"] == "hello"
    for _ in range(3):  # three pings a second apart: a missed pong would have closed it at the second
        opcode, frame = quiet.recv_data_frame(True)
        assert opcode == websocket.ABNF.OPCODE_PING
        quiet.pong(frame.data)
    ada.configure(work_seconds=61)
    while (frame := quiet.recv_data_frame(True))[0] == websocket.ABNF.OPCODE_PING:
        quiet.pong(frame[1].data)
    assert json.loads(frame[1].data)["event"] == "configuration.updated"
    quiet.close()
