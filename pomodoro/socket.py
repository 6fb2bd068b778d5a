"""The live socket at /ws (and at /, the original client's path).

Each socket is a short relay loop: it registers an inbox with this process's
hub, sends `hello` with the current session, then forwards what arrives. It
releases its database connection while it waits, and it sends the keep-alive
pings itself, in the pauses of that loop, rather than through
simple-websocket's `ping_interval`: that costs each socket a selector in the
reader thread and measured more CPU and memory per socket (bench/README.md,
"Keeping quiet sockets alive"), and its pings come from a second thread.
"""
import binascii
import queue
from base64 import b64decode
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, request
from flask_login import current_user
from wsproto.events import Ping
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from . import actions
from .errors import error_response
from .auth import browser_credential, find_token, token_credential
from .events import CLOSE, RESYNC, SIGNED_OUT, Listener, frame
from .extensions import db, sock
from .schemas import session_json

bp = Blueprint("socket", __name__)


@bp.before_request
def check_key():
    """RFC 6455 asks for a key of 16 random bytes in base64; wsproto takes any."""
    try:
        valid = len(b64decode(request.headers.get("Sec-WebSocket-Key", ""), validate=True)) == 16
    except binascii.Error:
        valid = False
    if not valid:
        return error_response(400, "Sec-WebSocket-Key must be 16 bytes in base64.")
    return None


@bp.before_request
def authenticate():
    """Refuse the handshake unless a token or the browser's session cookie
    (from a page of our own origin) names the user."""
    token = request.args.get("token")
    g.socket_user = g.socket_credential = None
    if token:
        record = find_token(token)
        if record is not None:
            g.socket_user, g.socket_credential = record.user, token_credential(record)
    elif current_user.is_authenticated and _same_origin() and "browser_session" in g:
        g.socket_user = current_user._get_current_object()
        g.socket_credential = browser_credential(g.browser_session)
    if g.socket_user is None:
        return error_response(401, "Sign in, or connect with ?token=<token>.")
    cap = current_app.config["SOCKETS_PER_USER"]
    if current_app.extensions["pomodoro.events"].hub.count_for(g.socket_user.id) >= cap:
        return error_response(429, f"This account has {cap} sockets open here already; close one first.")
    # Our frames are small JSON: compression would cost each socket its own
    # compressor state (bench/README.md) and gain nothing, so the client's
    # offer of it is not heard.
    request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    return None


@bp.errorhandler(RemoteProtocolError)
def bad_handshake(error: RemoteProtocolError):
    """wsproto refused the upgrade (no key, a version other than 13, headers
    that are not HTTP): its verdict (400, or 426 naming the version we speak)
    as our error JSON. Nothing was written to the socket yet."""
    hint = error.event_hint
    status = getattr(hint, "status_code", 400)
    headers = {name.decode(): value.decode() for name, value in getattr(hint, "headers", [])}
    return (*error_response(status, f"Not a WebSocket handshake we can accept: {error}."), headers)


def _same_origin() -> bool:
    origin = request.headers.get("Origin")
    return origin is not None and urlsplit(origin).netloc == request.host


def hello(user) -> str:
    session = actions.current_session(user)
    data = {"session": session_json(session) if session else None}
    db.session.remove()  # hand the connection back while the socket waits
    return frame("hello", data)


def relay(ws) -> None:
    user = g.socket_user
    events = current_app.extensions["pomodoro.events"]
    listener = Listener(user.id, credential=g.socket_credential)
    events.subscribe(listener)
    ping_every = current_app.config["SOCKET_PING_SECONDS"]
    try:
        ws.send(hello(user))
        while ws.connected:
            try:
                item = listener.inbox.get(timeout=ping_every)
            except queue.Empty:
                item = None
            finally:
                _discard_client_frames(ws)
            if item is CLOSE:
                ws.close(reason=1013, message="Too far behind; reconnect.")
                break
            if item is SIGNED_OUT:
                ws.close(reason=1008, message="Signed out: the token or log-in was revoked.")
                break
            if item is None:
                if not _ping(ws):
                    break
            else:
                ws.send(hello(user) if item is RESYNC else item)
    finally:
        events.unsubscribe(listener)


def _ping(ws) -> bool:
    """Keep proxies from dropping a quiet socket; give up on a peer that stopped answering.

    simple-websocket has no public ping: this writes one through its `sock` and
    `ws` and reads the `pong_received` its reader sets (pinned by
    tests/test_socket.py::test_a_quiet_socket_that_answers_every_ping_stays_open_and_keeps_hearing)."""
    if not ws.connected:  # the peer said goodbye while we waited
        return False
    if not ws.pong_received:
        ws.close(reason=1011, message="No answer to ping.")
        return False
    ws.pong_received = False
    try:
        ws.sock.send(ws.ws.send(Ping()))
    except (LocalProtocolError, OSError):  # it left in the meantime
        return False
    return True


def _discard_client_frames(ws) -> None:
    """Clients have nothing to say here; whatever they send is dropped unread."""
    while ws.receive(timeout=0) is not None:
        pass


@sock.route("/ws", bp=bp)
def events_socket(ws):
    relay(ws)


@sock.route("/", bp=bp, endpoint="root_socket")
def root_socket(ws):
    relay(ws)
