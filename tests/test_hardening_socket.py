"""The socket against hostile or clumsy clients: a bad handshake is a 4xx with
the error JSON, never a 5xx."""
import json
import socket as sockets

import pytest

from .stacks import stack  # noqa: F401  (the module-scoped fixture)

GOOD = {"Host": "{host}", "Upgrade": "websocket", "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}


def raw_request(stack, path: str, headers: dict, method: str = "GET") -> tuple[int, dict, bytes]:
    """Send exactly these headers; the status, headers and body of the answer."""
    host = f"127.0.0.1:{stack.port}"
    lines = [f"{method} {path} HTTP/1.1"] + [f"{name}: {value.replace('{host}', host)}" for name, value in headers.items()]
    with sockets.create_connection(("127.0.0.1", stack.port), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        answer_headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
        length = int(answer_headers.get("content-length", "0") or 0)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(status_line.split()[1]), answer_headers, body


BAD_HANDSHAKES = {
    "no key": {**GOOD, "Sec-WebSocket-Key": None},
    "no version": {**GOOD, "Sec-WebSocket-Version": None},
    "wrong version": {**GOOD, "Sec-WebSocket-Version": "8"},
    "version not a number": {**GOOD, "Sec-WebSocket-Version": "thirteen"},
    "empty key": {**GOOD, "Sec-WebSocket-Key": ""},
    "upgrade to something else": {**GOOD, "Upgrade": "websocket, h2c"},
    "no connection upgrade": {**GOOD, "Connection": "keep-alive"},
    "no upgrade": {**GOOD, "Upgrade": None},
}


@pytest.mark.parametrize("path", ["/ws", "/"])
@pytest.mark.parametrize("case", BAD_HANDSHAKES)
def test_a_bad_handshake_is_a_4xx_with_the_error_json(stack, path, case):
    ada = stack.user()
    headers = {name: value for name, value in BAD_HANDSHAKES[case].items() if value is not None}
    status, answer_headers, body = raw_request(stack, f"{path}?token={ada.token}", headers)
    if path == "/" and case in ("no connection upgrade", "no upgrade", "upgrade to something else"):
        assert status in (200, 303)  # not a socket at all: the timer page (or the way to log in)
        return
    assert 400 <= status < 500, (status, body[:200])
    assert answer_headers["content-type"].startswith("application/json"), answer_headers
    assert set(json.loads(body)["error"]) >= {"code", "message"}
    if case in ("wrong version", "version not a number"):
        assert status == 426 and answer_headers["sec-websocket-version"] == "13"
