"""Pages for people in a browser: sign-up and log-in, the live timer, settings
and history.

Each page and its htmx fragment come from one template and one URL: an
htmx request (HX-Request) gets the page's named block, anything else the
whole page. Every change goes through `actions`, exactly as the JSON API's
do; every form also works without JavaScript (it posts, then 303).
"""
import re
from datetime import datetime, time, timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, available_timezones

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from jinja2_fragments.flask import render_block
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import TooManyRequests

from . import actions, rules
from .auth import login_limit
from .extensions import csrf, db, limiter
from .models import Cycle, Session, User, utcnow
from .schemas import ConfigurationChange, SignUp

bp = Blueprint("pages", __name__)

PUBLIC = {"pages.login", "pages.signup"}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
EXPIRED = "This form expired; please try again."
LABELS = {rules.WORK: "Focus", rules.SHORT_BREAK: "Short break", rules.LONG_BREAK: "Long break"}
DURATION_FIELDS = {"work_seconds": "work_minutes", "short_break_seconds": "short_break_minutes",
                   "long_break_seconds": "long_break_minutes"}
HISTORY_PAGE_SIZE = 10


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
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else ""


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


# -- signing up, in and out ---------------------------------------------------

def _failed(response) -> bool:
    return response.status_code in (400, 401, 409, 422)


def _safe_next(target: str | None) -> str:
    """Only a path on this site, so a link cannot bounce people elsewhere."""
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.index")
    return target


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
    taken = {"email": ["That e-mail is already registered. Log in instead?"]}
    if User.by_email(fields["email"]) is not None:
        return render_template("signup.html", form=form, errors=taken), 409
    user = User(email=fields["email"], name=fields["name"], timezone=_zone_or_utc(form.get("timezone")))
    user.set_password(fields["password"])
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:  # signed up by a concurrent request
        db.session.rollback()
        return render_template("signup.html", form=form, errors=taken), 409
    login_user(user)
    return see_other("pages.index")


def _zone_or_utc(name: str | None) -> str:
    try:
        return ConfigurationChange().load({"timezone": name or ""})["timezone"]
    except ValidationError:
        return "UTC"


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


# -- the timer ----------------------------------------------------------------

def _after(cycle, session) -> SimpleNamespace:
    """What follows `session` once it completes, by the cycle rules themselves."""
    preview = SimpleNamespace(status=rules.ACTIVE, completed_work_sessions=cycle.completed_work_sessions,
                              long_break_interval=cycle.long_break_interval,
                              next_session_type=cycle.next_session_type)
    rules.advance_cycle(preview, SimpleNamespace(type=session.type, status=rules.COMPLETED), session.started_at)
    if preview.status != rules.ACTIVE:  # the long break closes the cycle; a new one starts with work
        preview.next_session_type = rules.WORK
        preview.status = rules.ACTIVE
    return SimpleNamespace(type=preview.next_session_type,
                           seconds=rules.duration_for(current_user, preview.next_session_type),
                           auto=rules.auto_start_type(preview, current_user) is not None)


def _steps(cycle, session, user) -> list[dict]:
    """The cycle laid out: each focus and the break after it, marked done, current or to come."""
    interval = cycle.long_break_interval if cycle else user.long_break_interval
    done_work = min(cycle.completed_work_sessions, interval) if cycle else 0
    at_type = session.type if session else (cycle.next_session_type if cycle else rules.WORK)
    if at_type == rules.WORK:
        at = 2 * min(done_work, interval - 1)
    elif at_type == rules.SHORT_BREAK:
        at = 2 * max(done_work - 1, 0) + 1
    else:
        at = 2 * interval - 1
    steps = []
    for number in range(1, interval + 1):
        steps.append({"type": rules.WORK, "text": f"Focus {number}"})
        last = number == interval
        steps.append({"type": rules.LONG_BREAK if last else rules.SHORT_BREAK,
                      "text": "Long break" if last else "Short break"})
    for index, step in enumerate(steps):
        if index < at:
            step["state"] = "done"
        elif index == at:
            step["state"] = "current" if session else "next"
        else:
            step["state"] = "upcoming"
    return steps


def timer_context(alert: str | None = None) -> dict:
    user = current_user
    now = utcnow()
    session = actions.current_session(user, now)
    cycle = session.cycle if session else actions.active_cycle(user)
    interval = cycle.long_break_interval if cycle else user.long_break_interval
    done_work = cycle.completed_work_sessions if cycle else 0
    up_type = session.type if session else (cycle.next_session_type if cycle else rules.WORK)
    return {
        "user": user, "session": session, "cycle": cycle, "now": now, "alert": alert,
        "remaining": rules.remaining_at(session, now) if session else rules.duration_for(user, up_type),
        "up_type": up_type,
        "after": _after(cycle, session) if session and cycle else None,
        "steps": _steps(cycle, session, user),
        "focus_number": min(done_work + 1, interval), "interval": interval,
        "can_restart_cycle": session is None and cycle is not None and bool(cycle.sessions),
    }


def timer_answer(alert: str | None = None, status: int = 200):
    """After a button: the timer fragment for htmx, or a 303 back to the page."""
    if htmx():
        return page("timer.html", "timer", status, **timer_context(alert))
    if alert:
        flash(alert, "error")
    return see_other("pages.index")


@bp.route("/")
def index():
    return page("timer.html", "timer", **timer_context())


def _act(action, *args):
    """Run a user action; a refusal (another tab got there first) becomes a message."""
    try:
        action(current_user, *args)
    except (rules.Refused, actions.NotFound) as error:
        return timer_answer(f"{error} This is where things stand now.", 409)
    return timer_answer()


@bp.route("/sessions/start", methods=["POST"])
def start():
    return _act(actions.start_session)


@bp.route("/sessions/pause", methods=["POST"])
def pause():
    return _act(actions.pause_session, request.form.get("session_id", ""))


@bp.route("/sessions/resume", methods=["POST"])
def resume():
    return _act(actions.resume_session, request.form.get("session_id", ""))


@bp.route("/sessions/skip", methods=["POST"])
def skip():
    return _act(actions.set_session_status, request.form.get("session_id", ""), rules.CANCELLED)


@bp.route("/sessions/finish", methods=["POST"])
def finish():
    return _act(actions.set_session_status, request.form.get("session_id", ""), rules.COMPLETED)


@bp.route("/cycles/new", methods=["POST"])
def new_cycle():
    return _act(actions.create_cycle)


@bp.route("/settings/auto-start", methods=["POST"])
def auto_start():
    changes = {"auto_start_breaks": "auto_start_breaks" in request.form,
               "auto_start_work": "auto_start_work" in request.form}
    actions.update_configuration(current_user, changes)
    return timer_answer()


# -- settings -----------------------------------------------------------------

def minutes_text(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}:{secs:02d}" if secs else str(minutes)


def parse_minutes(text: str) -> int | None:
    """Seconds from "25", "2.5" or "1:30" (minutes:seconds); None when unreadable."""
    text = text.strip().replace(",", ".")
    if match := re.fullmatch(r"(\d{1,5}):([0-5]\d)", text):
        return int(match[1]) * 60 + int(match[2])
    if re.fullmatch(r"-?\d{1,5}(\.\d{1,6})?|-?\.\d{1,6}", text):
        return round(float(text) * 60)
    return None


def settings_form(user) -> dict:
    return {
        "work_minutes": minutes_text(user.work_seconds),
        "short_break_minutes": minutes_text(user.short_break_seconds),
        "long_break_minutes": minutes_text(user.long_break_seconds),
        "long_break_interval": str(user.long_break_interval),
        "auto_start_breaks": user.auto_start_breaks, "auto_start_work": user.auto_start_work,
        "timezone": user.timezone,
    }


def read_settings(form) -> tuple[dict, dict]:
    """The configuration change a settings form asks for, validated by the API's
    own schema; and the problems, by form field."""
    data, errors = {}, {}
    for field, name in DURATION_FIELDS.items():
        seconds = parse_minutes(form.get(name, ""))
        if seconds is None:
            errors[name] = "Enter minutes, like 25, 2.5 or 1:30."
        else:
            data[field] = seconds
    interval = form.get("long_break_interval", "").strip()
    if re.fullmatch(r"\d{1,3}", interval):
        data["long_break_interval"] = int(interval)
    else:
        errors["long_break_interval"] = "Enter a whole number from 1 to 12."
    data["auto_start_breaks"] = "auto_start_breaks" in form
    data["auto_start_work"] = "auto_start_work" in form
    data["timezone"] = form.get("timezone", "").strip()
    try:
        ConfigurationChange().load(data)
    except ValidationError as error:
        for field, messages in error.messages.items():
            if field in DURATION_FIELDS:
                errors[DURATION_FIELDS[field]] = "From 0:01 (one second) to 1440 minutes (a day)."
            elif field == "long_break_interval":
                errors[field] = "A whole number from 1 to 12."
            else:
                errors[field] = " ".join(messages)
    return data, errors


def settings_page(form: dict, errors: dict | None = None, alert: str | None = None,
                  saved: bool = False, status: int = 200):
    return page("settings.html", "settings_form", status, form=form, errors=errors or {},
                alert=alert, saved=saved, zones=time_zones())


def time_zones() -> list[str]:
    return sorted(zone for zone in available_timezones() if "/" in zone or zone == "UTC")


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    if request.method == "GET":
        return settings_page(settings_form(current_user))
    changes, errors = read_settings(request.form)
    if errors:
        form = request.form.to_dict() | {key: key in request.form for key in ("auto_start_breaks", "auto_start_work")}
        return settings_page(form, errors, "Some settings need a second look.", status=422)
    actions.update_configuration(current_user, changes)
    if htmx():
        return settings_page(settings_form(current_user), saved=True)
    flash("Settings saved. New sessions use them.", "success")
    return see_other("pages.settings")


# -- history ------------------------------------------------------------------

def totals(user, zone: ZoneInfo, now: datetime) -> dict:
    """Focused time and completed focus sessions today and this week, in the user's time zone."""
    date = now.astimezone(zone).date()
    today = datetime.combine(date, time(), tzinfo=zone)
    week = datetime.combine(date - timedelta(days=date.weekday()), time(), tzinfo=zone)
    rows = db.session.scalars(select(Session).where(
        Session.user_id == user.id, Session.type == rules.WORK, Session.status == rules.COMPLETED,
        Session.completed_at >= week)).all()
    result = {}
    for name, since in (("today", today), ("week", week)):
        done = [row for row in rows if row.completed_at >= since]
        seconds = sum(row.duration_seconds - row.remaining_seconds for row in done)
        result[name] = {"seconds": seconds, "sessions": len(done)}
    return result


@bp.route("/history")
def history():
    user = current_user
    now = utcnow()
    actions.settle(user, now)
    number = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    owned = select(Cycle).where(Cycle.user_id == user.id)
    total = db.session.scalar(select(func.count()).select_from(owned.subquery()))
    cycles = db.session.scalars(
        owned.order_by(Cycle.created_at.desc(), Cycle.id.desc())
        .limit(HISTORY_PAGE_SIZE).offset((number - 1) * HISTORY_PAGE_SIZE)
    ).all()
    zone = ZoneInfo(user.timezone)
    return page("history.html", "history", cycles=cycles, page=number, zone=zone, now=now,
                pages=max(1, -(-total // HISTORY_PAGE_SIZE)), totals=totals(user, zone, now))


# -- when something goes wrong --------------------------------------------------

@bp.errorhandler(CSRFError)
def form_expired(_error):
    """A stale or missing CSRF token: say so where the person is looking, with a fresh form."""
    endpoint = request.endpoint or ""
    if endpoint in ("pages.login", "pages.signup"):
        template = "login.html" if endpoint == "pages.login" else "signup.html"
        return render_template(template, form=request.form.to_dict(), errors={}, alert=EXPIRED), 400
    if endpoint == "pages.settings":
        return settings_page(request.form.to_dict(), alert=EXPIRED, status=400)
    if endpoint == "pages.logout":
        flash(EXPIRED, "error")
        return see_other("pages.index")
    return timer_answer(EXPIRED, 400)


@bp.errorhandler(TooManyRequests)
def too_many(_error):
    alert = "Too many attempts; wait a minute and try again."
    if request.endpoint == "pages.signup":
        return render_template("signup.html", form=request.form.to_dict(), errors={}, alert=alert), 429
    return render_template("login.html", form=request.form.to_dict(), alert=alert), 429
