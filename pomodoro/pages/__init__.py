"""Pages for people in a browser: sign-up and log-in, the live timer, settings
and history.

Each page and its htmx fragment come from one template and one URL: an
htmx request (HX-Request) gets the page's named block, anything else the
whole page. Every change goes through `actions`, exactly as the JSON API's
do; every form also works without JavaScript (it posts, then 303).
"""
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from jinja2_fragments.flask import render_block

from .. import rules
from ..extensions import csrf
from ..schemas import utc_text

bp = Blueprint("pages", __name__)

PUBLIC = {"pages.login", "pages.signup"}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
EXPIRED = "This form expired; please try again."
LABELS = {rules.WORK: "Focus", rules.SHORT_BREAK: "Short break", rules.LONG_BREAK: "Long break"}


def htmx() -> bool:
    """An htmx request for a fragment (a history restore or a boosted link wants the whole page)."""
    headers = request.headers
    return (headers.get("HX-Request") == "true" and headers.get("HX-Boosted") != "true"
            and headers.get("HX-History-Restore-Request") != "true")


def page(template: str, block: str, status: int = 200, **context):
    """The whole page, or only `block` of it for htmx."""
    if htmx():
        return render_block(template, block, **context), status
    return render_template(template, **context), status


def see_other(endpoint: str, **values):
    return redirect(url_for(endpoint, **values), 303)


@bp.before_request
def guard():
    """Send strangers to the log-in page; make every change prove it comes from our pages."""
    if request.endpoint not in PUBLIC and not current_user.is_authenticated:
        target = request.full_path.rstrip("?") if request.method == "GET" and request.path != "/" else None
        login = url_for("pages.login", next=target)
        if htmx():
            return "", 401, {"HX-Redirect": login}
        return redirect(login, 303)
    if request.method not in SAFE_METHODS:
        csrf.protect()
        if any("\x00" in value for value in request.form.values()):
            abort(400)  # no text a person types holds a NUL, and PostgreSQL would refuse it
    return None


@bp.after_request
def vary_on_htmx(response):
    response.vary.add("HX-Request")
    return response


# -- what the templates use ---------------------------------------------------------

@bp.app_template_filter("clock")
def clock(seconds: float) -> str:
    """mm:ss (h:mm:ss past an hour), rounded up like the countdown."""
    whole = int(-(-seconds // 1))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


@bp.app_template_filter("duration")
def duration(seconds: float) -> str:
    """A length of time in words: "25 min", "1 h 30 min", "2 s"."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else "", f"{secs} s" if secs else ""]
    return " ".join(part for part in parts if part) or "0 s"


@bp.app_template_filter("iso")
def iso(moment: datetime | None) -> str:
    return utc_text(moment) if moment else ""


@bp.app_template_filter("local")
def local(moment: datetime | None, pattern: str = "%H:%M") -> str:
    """A UTC moment on the signed-in person's clock."""
    if moment is None:
        return ""
    zone = ZoneInfo(current_user.timezone if current_user.is_authenticated else "UTC")
    return moment.astimezone(zone).strftime(pattern)


@bp.app_template_global()
def label(session_type: str) -> str:
    return LABELS[session_type]


from . import account, history, integrations, reports, settings, tasks, timer  # noqa: E402 (the views need `bp`)


@bp.errorhandler(CSRFError)
def form_expired(_error):
    """A stale or missing CSRF token: say so where the person is looking, with a fresh form."""
    endpoint = request.endpoint or ""
    if endpoint in ("pages.login", "pages.signup"):
        return account.form_again(endpoint, EXPIRED, 400)
    if endpoint == "pages.settings":
        return settings.settings_page(request.form.to_dict(), alert=EXPIRED, status=400)
    if endpoint == "pages.change_password":
        return settings.settings_page(settings.settings_form(current_user), status=400,
                                      password_errors={"current_password": [EXPIRED]})
    if endpoint in tasks.LIST_ENDPOINTS:
        return tasks.tasks_answer(EXPIRED, 400)
    if endpoint in ("pages.logout", "pages.logout_everywhere"):
        flash(EXPIRED, "error")
        return see_other("pages.index")
    return timer.timer_answer(EXPIRED, 400)
