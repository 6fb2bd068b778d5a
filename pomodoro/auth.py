"""Who is asking: browser sessions (Flask-Login) and bearer tokens."""
import json

from flask import abort, current_app, g, request
from flask_login import current_user
from flask_smorest import Blueprint

from . import schemas, tokens
from .errors import error_response
from .extensions import csrf, db, limiter, login_manager
from .models import ApiToken, User

bp = Blueprint("auth", __name__, url_prefix="/auth", description="API tokens")


@login_manager.user_loader
def load_user(user_id: str):
    return db.session.get(User, user_id)


@login_manager.request_loader
def load_user_from_token(req):
    token = bearer_token(req)
    if token is None:
        return None
    record = ApiToken.find(token)
    if record is None:
        return None
    g.api_token = record
    tokens.touch(record)
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
    user = User.by_email(credentials["email"])
    if user is None or not user.check_password(credentials["password"]):
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


def revoke(record: ApiToken) -> None:
    """The token stops working. (Minimal, for integrations; the hardening work
    also closes the sockets it opened.)"""
    db.session.delete(record)
    db.session.commit()
