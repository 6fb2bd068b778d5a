"""A real webhook receiver on 127.0.0.1 for the tests and the benchmark: it
records every request (headers, body, when) and answers what it is told."""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple


class Received(NamedTuple):
    at: float  # time.time() when the request was read
    path: str
    headers: dict
    body: bytes


class Receiver:
    """Answers each POST with the next of `answers` (status, headers, body, delay
    in seconds), the last one over and over; records every request."""

    def __init__(self, answers=((200, {}, b"ok", 0),)):
        self.answers = list(answers)
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.received.append(Received(time.time(), self.path, dict(self.headers), body))
                    index = min(len(receiver.received), len(receiver.answers)) - 1
                    status, headers, content, delay = receiver.answers[index]
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self) -> int:
        with self.lock:
            return len(self.received)
