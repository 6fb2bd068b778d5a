"""Who is asking: browser sessions (Flask-Login) and bearer tokens."""
import json
from datetime import timedelta

from flask import abort, current_app, g, request, session
from flask_login import current_user, login_user, logout_user
from flask_smorest import Blueprint
from sqlalchemy import and_, bindparam, delete, select
from sqlalchemy.orm import contains_eager, defer

from . import actions, background, schemas, tokens
from .errors import error_response
from .extensions import csrf, db, limiter, login_manager
from .models import ApiToken, BrowserSession, Session, User, utcnow

bp = Blueprint("auth", __name__, url_prefix="/auth", description="API tokens")


# Who is asking, in one round trip: the log-in (a token, or a browser's), its
# user and the user's open session, which most requests go on to read
# (`actions.read_with_log_in`). Built once, not for every request.
# What a request seldom needs is left out (read if asked for): each column read costs every request.
_OPEN_SESSION = and_(Session.user_id == User.id, Session.is_open())
_USER = (defer(User.password_hash), defer(User.email_key))
TOKEN_LOG_IN = (
    select(ApiToken, Session).join(ApiToken.user).outerjoin(Session, _OPEN_SESSION)
    .options(contains_eager(ApiToken.user).options(*_USER), defer(ApiToken.token_hash), defer(ApiToken.name))
    .where(ApiToken.token_hash == bindparam("digest"),
           ApiToken.expires_at.is_(None) | (ApiToken.expires_at > bindparam("now")))  # expired: as good as revoked
    .execution_options(populate_existing=True)
)
BROWSER_LOG_IN = (
    select(BrowserSession, Session).join(BrowserSession.user).outerjoin(Session, _OPEN_SESSION)
    .options(contains_eager(BrowserSession.user).options(*_USER))
    .where(BrowserSession.id == bindparam("id"))
    .execution_options(populate_existing=True)
)


def _log_in(statement, **params) -> tuple:
    """(the log-in, the user's open session) as `statement` finds them, or (None, None)."""
    row = db.session.execute(statement, params).first()
    return (None, None) if row is None else tuple(row)


def find_token(secret: str) -> ApiToken | None:
    """The token with this secret, unless it expired; its last use noted."""
    token, open_session = _log_in(TOKEN_LOG_IN, digest=ApiToken.digest(secret), now=utcnow())
    if token is not None:
        tokens.touch(token)  # which may commit: what was read beside the token is kept after that
        actions.read_with_log_in(token.user, open_session)
    return token


@login_manager.user_loader
def load_user(browser_session_id: str):
    """The session and remember cookies name a browser's log-in, not the user:
    they sign in only while that BrowserSession exists."""
    record, open_session = _log_in(BROWSER_LOG_IN, id=browser_session_id)
    if record is None:
        return None
    actions.read_with_log_in(record.user, open_session)
    g.browser_session = record
    record.user.signed_in_as = record
    return record.user


# -- browser log-ins and their end ------------------------------------------------

def log_in(user: User, remember: bool = False) -> None:
    """Sign this browser in as `user`, with a log-in of its own and a new CSRF token."""
    record = BrowserSession(user=user)
    db.session.add(record)
    db.session.commit()
    user.signed_in_as = record
    session.pop("csrf_token", None)  # a token seen before log-in (a shared computer, a planted one) is worthless after
    login_user(user, remember=remember)


def log_out() -> None:
    """End this browser's log-in on the server (its cookies, copied or not, sign in no more)."""
    record = g.pop("browser_session", None)
    if record is not None:
        end_browser_sessions([record])
    logout_user()


def end_browser_sessions(records) -> None:
    """Delete these log-ins and close the sockets each opened."""
    ended = [(record.user_id, browser_credential(record)) for record in records]
    for record in records:
        db.session.delete(record)
    db.session.commit()
    for user_id, credential in ended:
        _events().disconnect(user_id, credential)


def other_browser_sessions(user: User, keep: BrowserSession | None = None) -> list:
    query = select(BrowserSession).where(BrowserSession.user_id == user.id)
    if keep is not None:
        query = query.where(BrowserSession.id != keep.id)
    return list(db.session.scalars(query))


def revoke(record: ApiToken) -> None:
    """Delete an API token; the sockets it opened close within a second, in every process."""
    user_id, credential = record.user_id, token_credential(record)
    db.session.delete(record)
    db.session.commit()
    _events().disconnect(user_id, credential)


@background.every(3600)
def forget_old_log_ins() -> None:
    """A log-in lives as long as its remember-me cookie could (Flask-Login's
    REMEMBER_COOKIE_DURATION, a year by default); older ones are deleted."""
    lifetime = current_app.config.get("REMEMBER_COOKIE_DURATION") or timedelta(days=365)
    if isinstance(lifetime, int):
        lifetime = timedelta(seconds=lifetime)
    db.session.execute(delete(BrowserSession).where(BrowserSession.created_at < utcnow() - lifetime))
    db.session.commit()


def token_credential(record: ApiToken) -> str:
    return f"token:{record.id}"


def browser_credential(record: BrowserSession) -> str:
    return f"browser:{record.id}"


def _events():
    return current_app.extensions["pomodoro.events"]


@login_manager.request_loader
def load_user_from_token(req):
    token = bearer_token(req)
    if token is None:
        return None
    record = find_token(token)
    if record is None:
        return None
    g.api_token = record
    return record.user


def bearer_token(req) -> str | None:
    auth = req.authorization
    if auth is not None and auth.type == "bearer" and auth.token:
        return auth.token
    return None


@login_manager.unauthorized_handler
def unauthorized():
    return error_response(401, "Sign in, or send a valid token as 'Authorization: Bearer <token>'.")


def require_user():
    """Refuse anonymous requests; make cookie-authenticated writes carry the CSRF token.

    Token-authenticated requests carry no ambient credential, so they need no
    CSRF token; a browser's cookie does, so its unsafe requests must prove they
    come from our own pages (header X-CSRFToken).
    """
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if request.method not in ("GET", "HEAD", "OPTIONS") and "api_token" not in g:
        csrf.protect()
    return None


@bp.before_request
def require_json_body():
    """Refuse a body we would otherwise misread: one sent as another type (the
    parser would ignore it and answer as if nothing was asked), JSON nested
    so deep that parsing it exhausts Python's recursion limit, or with an
    integer too long for Python to read (a ValueError the parser would not catch)."""
    body = request.get_data(cache=True)
    if not body:
        return None
    if not request.is_json:
        abort(415, "Send the body as JSON, with 'Content-Type: application/json'.")
    try:
        json.loads(body)
    except json.JSONDecodeError:
        pass  # malformed JSON: the schema parser answers it
    except (RecursionError, ValueError):  # too deep, or an integer past Python's 4,300 digits
        abort(400)
    return None


def login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def signup_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT"]


# Every sign-up counts (each costs a password hash), from the API and the page alike.
limit_signups = limiter.shared_limit(signup_limit, scope="signup", methods=["POST"])


def failed(response) -> bool:
    return response.status_code in (401, 422)


@bp.route("/token", methods=["POST"])
@bp.doc(security=[])  # the credentials are in the body
@limiter.limit(login_limit, deduct_when=failed)
@bp.arguments(schemas.Credentials)
@bp.response(201, schemas.Token)
@bp.alt_response(401, schema=schemas.Error, description="Wrong e-mail or password")
@bp.alt_response(429, schema=schemas.Error, description="Too many failed attempts; wait and try again")
def create_token(credentials):
    """Exchange an e-mail and password for a bearer token."""
    user = User.authenticate(credentials["email"], credentials["password"])
    if user is None:
        abort(401, "Wrong e-mail or password.")
    record, secret = tokens.create(user)
    return {"token": secret, "token_type": "Bearer"}


@bp.route("/token", methods=["DELETE"])
@bp.response(204)
@bp.alt_response(401, schema=schemas.Error, description="No valid bearer token was sent")
def revoke_token():
    """Revoke the token this request was sent with."""
    record = g.get("api_token") if current_user.is_authenticated else None
    if record is None:
        abort(401, "Send the token to revoke as 'Authorization: Bearer <token>'.")
    revoke(record)
    return None
