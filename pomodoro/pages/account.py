"""Signing up, in and out."""
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from marshmallow import ValidationError
from werkzeug.exceptions import TooManyRequests

from .. import actions, rules
from ..auth import login_limit
from ..extensions import limiter
from ..models import User
from ..schemas import ConfigurationChange, SignUp
from . import bp, see_other

TAKEN = {"email": ["That e-mail is already registered. Log in instead?"]}


def _failed(response) -> bool:
    return response.status_code in (400, 401, 409, 422)


def _safe_next(target: str | None) -> str:
    """Only a path on this site, so a link cannot bounce people elsewhere."""
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.index")
    return target


def _zone_or_utc(name: str | None) -> str:
    """The browser's time zone, when it is one we know."""
    try:
        return ConfigurationChange().load({"timezone": name or ""})["timezone"]
    except ValidationError:
        return "UTC"


def form_again(endpoint: str, alert: str, status: int):
    """The log-in or sign-up form once more, as typed, with a message."""
    template = "signup.html" if endpoint == "pages.signup" else "login.html"
    return render_template(template, form=request.form.to_dict(), errors={}, alert=alert), status


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"], deduct_when=_failed)
def signup():
    if request.method == "GET":
        return render_template("signup.html", form={}, errors={})
    form = request.form.to_dict()
    try:
        fields = SignUp().load({key: form.get(key, "") for key in ("email", "password", "name")})
    except ValidationError as error:
        return render_template("signup.html", form=form, errors=error.messages), 422
    try:
        user = actions.sign_up(fields["email"], fields["password"], fields["name"],
                               _zone_or_utc(form.get("timezone")))
    except rules.Refused:
        return render_template("signup.html", form=form, errors=TAKEN), 409
    login_user(user)
    return see_other("pages.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"], deduct_when=_failed)
def login():
    if request.method == "GET":
        if current_user.is_authenticated:
            return see_other("pages.index")
        return render_template("login.html", form={})
    form = request.form.to_dict()
    user = User.by_email(form.get("email", "")[:254])
    if user is None or not user.check_password(form.get("password", "")[:256]):
        return render_template("login.html", form=form, alert="Wrong e-mail or password."), 401
    login_user(user, remember=form.get("remember") == "on")
    return redirect(_safe_next(request.args.get("next")), 303)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    flash("You are logged out. See you next session.", "info")
    return see_other("pages.login")


@bp.errorhandler(TooManyRequests)
def too_many(_error):
    """Only log-in and sign-up are limited: say so on their own form."""
    return form_again(request.endpoint, "Too many attempts; wait a minute and try again.", 429)
