"""Security headers on every response: a Content-Security-Policy that the pages
satisfy as they are (no inline script or style, no eval), and headers that stop
MIME sniffing, framing and cross-site referrers; HEAD answered as GET, and a
chunked body over the size limit refused as a declared one is."""
import re
from functools import lru_cache

from flask import Flask, Response, abort, current_app, request

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Swagger UI on /docs draws its icons from data: URLs; that is all it needs more.
DOCS_POLICY = {**POLICY, "img-src": "'self' data:"}
DOCS_ENDPOINT = "api-docs.openapi_swagger_ui"

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
PLAIN_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$")


@lru_cache(maxsize=64)  # a site answers to a host or two: each policy is written once
def content_security_policy(docs: bool = False, host: str | None = None) -> str:
    policy = dict(DOCS_POLICY if docs else POLICY)
    if host and PLAIN_HOST.match(host):
        # 'self' covers same-origin WebSockets in browsers since 2022; older
        # Safari needs the socket's own address spelled out.
        policy["connect-src"] += f" ws://{host} wss://{host}"
    return "; ".join(f"{name} {sources}" for name, sources in policy.items())


def add_headers(response: Response) -> Response:
    headers = response.headers
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = content_security_policy(request.endpoint == DOCS_ENDPOINT, request.host)
    for name, value in HEADERS.items():
        if name not in headers:
            headers[name] = value
    return response


def head_is_get() -> None:
    """HEAD is GET without the body (RFC 9110), whatever the request carries.

    Werkzeug routes HEAD to every GET view, and a view that serves GET and POST
    and tells them apart by `!= "GET"` would act on a HEAD as on a POST, with
    none of what guards a POST (CSRF, the log-in limit). The views see GET; the
    environ keeps HEAD, so the answer still goes out without a body.
    """
    if request.method == "HEAD":
        request.method = "GET"


try:  # what gunicorn raises from the body stream when the chunks are malformed
    from gunicorn.http.errors import ParseException as _ChunkError
except ImportError:  # pragma: no cover
    _ChunkError = ValueError


def read_chunked_body() -> None:
    """Read a body sent without Content-Length (chunked) here, before any view.

    Werkzeug reads one only up to MAX_CONTENT_LENGTH and hands the view what
    fitted, cut short (a 400 for JSON that ends mid-string): one that fills the
    limit is too large, 413, as a declared length over it is. And gunicorn
    raises its own parse errors from the stream when the chunks are malformed
    (a 500 wherever the body was first read): that is a 400."""
    if request.content_length is not None or not request.environ.get("wsgi.input_terminated"):
        return
    try:
        body = request.get_data(cache=True)
    except (_ChunkError, OSError, ValueError):
        abort(400, "The chunked body is malformed.")
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if limit is not None and len(body) >= limit:
        abort(413)


def before_anything() -> None:
    """What every request goes through first, as one hook (each hook costs every request)."""
    head_is_get()
    read_chunked_body()


def init_app(app: Flask) -> None:
    # First of all: the limiter, the guards and the views all see the method the view will serve.
    app.before_request_funcs.setdefault(None, []).insert(0, before_anything)
    app.after_request(add_headers)
