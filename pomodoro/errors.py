"""One error shape for the API, {"error": {"code", "message", "fields"?}},
and finished-looking error pages for people in a browser."""
import logging

from flask import current_app, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import NotFound as NotFoundError

from . import rules
from .actions import NotFound
from .extensions import db

log = logging.getLogger(__name__)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

CODES = {
    400: "malformed",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


def error_response(status: int, message: str, fields: dict | None = None):
    body = {"code": CODES.get(status, "server_error" if status >= 500 else "error"), "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}, status


def wants_html() -> bool:
    if request.blueprint == "pages":
        return True
    if request.blueprint is not None:
        return False
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def _fields(error: HTTPException) -> dict | None:
    """The per-field messages webargs attaches to a 422, by field name."""
    messages = (getattr(error, "data", None) or {}).get("messages") or {}
    merged = {}
    for by_location in messages.values():
        if isinstance(by_location, dict):
            for name, problems in by_location.items():
                merged[name] = problems if isinstance(problems, list) else [str(problems)]
    return merged or None


def handle_http_error(error: HTTPException):
    status = error.code or 500
    if status >= 500:
        message = "Something went wrong on our side; it has been logged."
    elif isinstance(error, CSRFError):
        message = f"{error.description} Send the token from our page as the X-CSRFToken header."
    elif status == 400:
        message = "The request body is not valid JSON." if request.is_json else "The request is malformed."
    elif status == 422:
        message = "Some fields are invalid."
    elif status == 429:
        message = "Too many attempts; wait a little and try again."
    elif status == 404 and error.description == NotFoundError.description:
        message = "Nothing here: no such resource."
    else:
        message = error.description
    if wants_html():
        return render_template("error.html", status=status, message=message), status
    response = error_response(status, message, _fields(error) if status == 422 else None)
    if status == 405 and error.valid_methods:
        return (*response, {"Allow": ", ".join(error.valid_methods)})
    return response


def _answer(status: int, message: str):
    if wants_html():
        return render_template("error.html", status=status, message=message), status
    return error_response(status, message)


def handle_refused(error: rules.Refused):
    return _answer(409, str(error))


def handle_not_found(error: NotFound):
    return _answer(404, str(error))


# What a database says when a concurrent request got there first: a unique
# index taken, a row deleted under a foreign key (PostgreSQL's SQLSTATEs, SQLite's words).
CONFLICT_STATES = ("23505", "23503")
# PostgreSQL chose this transaction to lose a deadlock or a serialization race
# with a concurrent one: a conflict like any other, not an outage.
LOST_RACE_STATES = ("40P01", "40001")
CONFLICT_WORDS = ("UNIQUE constraint failed", "FOREIGN KEY constraint failed")


def is_conflict(error: IntegrityError | StaleDataError) -> bool:
    if isinstance(error, StaleDataError):
        return True
    orig = error.orig
    return getattr(orig, "sqlstate", None) in CONFLICT_STATES or str(orig).startswith(CONFLICT_WORDS)


def handle_integrity_error(error: IntegrityError | StaleDataError):
    """The backstop for a lost race that no action turned into a refusal: a 409,
    never a 500. Any other integrity error is a bug, and stays a 500."""
    db.session.rollback()
    if not is_conflict(error):
        raise error
    log.info("conflict answered 409: %s", error)
    return _answer(409, "Another request changed this meanwhile; reload and try again.")


def handle_database_unavailable(error: OperationalError | InterfaceError):
    """The database could not be reached (restarting, say): a clear 503 to try
    again shortly, rather than a 500 that reads like a bug.

    The pool does not ping each connection before use (a round trip on every
    request), so a connection the server dropped is found when a request uses
    it. A read then runs once more, on a fresh connection (the pool drops every
    connection older than the one found dead); a write answers 503, since
    whether it was stored cannot be known here."""
    db.session.rollback()
    if getattr(error.orig, "sqlstate", None) in LOST_RACE_STATES:
        log.info("conflict answered 409: %s", error)
        return _answer(409, "Another request changed this meanwhile; reload and try again.")
    if error.connection_invalidated and request.method in SAFE_METHODS and not g.get("retried_read"):
        g.retried_read = True
        g.pop("_login_user", None)  # authenticate again, on the fresh connection
        try:
            return current_app.preprocess_request() or current_app.dispatch_request()
        except Exception as again:  # noqa: BLE001 (answered like any error of the request)
            return current_app.handle_user_exception(again)
    log.warning("database unavailable: %s", error)
    message = "The service is briefly unavailable; try again in a moment."
    if wants_html():
        current_app.login_manager._update_request_context_with_user()  # the page shows no one: no user to load
        response = render_template("error.html", status=503, message=message), 503
    else:
        response = error_response(503, message)
    return (*response, {"Retry-After": "1"})


def init_app(app) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(rules.Refused, handle_refused)
    app.register_error_handler(NotFound, handle_not_found)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(StaleDataError, handle_integrity_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(InterfaceError, handle_database_unavailable)
