"""Signing up, in and out."""
from urllib.parse import urlsplit

from flask import flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from werkzeug.exceptions import TooManyRequests

from .. import actions, auth, rules
from ..auth import limit_signups, login_limit
from ..extensions import limiter
from ..models import User
from ..schemas import ConfigurationChange, PasswordChange, SignUp
from . import bp, see_other, settings

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
@limit_signups
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
    auth.log_in(user)
    return see_other("pages.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"], deduct_when=_failed)
def login():
    if request.method == "GET":
        if current_user.is_authenticated:
            return see_other("pages.index")
        return render_template("login.html", form={})
    form = request.form.to_dict()
    user = User.authenticate(form.get("email", "")[:254], form.get("password", "")[:256])
    if user is None:
        return render_template("login.html", form=form, alert="Wrong e-mail or password."), 401
    auth.log_in(user, remember=form.get("remember") == "on")
    return redirect(_safe_next(request.args.get("next")), 303)


@bp.route("/logout", methods=["POST"])
def logout():
    auth.log_out()
    flash("You are logged out. See you next session.", "info")
    return see_other("pages.login")


@bp.route("/logout/everywhere", methods=["POST"])
def logout_everywhere():
    """End every log-in of this account: every browser, every remember-me cookie."""
    auth.end_browser_sessions(auth.other_browser_sessions(current_user, keep=g.get("browser_session")))
    auth.log_out()
    flash("You are logged out everywhere: every browser has to log in again.", "info")
    return see_other("pages.login")


@bp.route("/settings/password", methods=["POST"])
@limiter.limit(login_limit, deduct_when=_failed)
def change_password():
    """A new password, given the current one; every other browser is logged out."""
    try:
        fields = PasswordChange().load({key: request.form.get(key, "") for key in ("current_password", "new_password")})
    except ValidationError as error:
        return settings.settings_page(settings.settings_form(current_user), password_errors=error.messages,
                                      status=422)
    if not current_user.check_password(fields["current_password"]):
        wrong = {"current_password": ["That is not your current password."]}
        return settings.settings_page(settings.settings_form(current_user), password_errors=wrong, status=401)
    current_user.set_password(fields["new_password"])
    auth.end_browser_sessions(auth.other_browser_sessions(current_user, keep=g.get("browser_session")))
    flash("Password changed. Every other browser has been logged out.", "success")
    return see_other("pages.settings")


@bp.errorhandler(TooManyRequests)
def too_many(_error):
    """Log-in, sign-up and the password change are limited: say so on their own form."""
    if request.endpoint == "pages.change_password":
        return settings.settings_page(settings.settings_form(current_user), status=429,
                                      password_errors={"current_password": ["Too many attempts; wait a minute."]})
    return form_again(request.endpoint, "Too many attempts; wait a minute and try again.", 429)
