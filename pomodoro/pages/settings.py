"""Settings: durations in minutes (the API keeps seconds), the cycle, the
auto-start switches and the time zone, validated by the API's own schema."""
import re

from flask import flash, request
from flask_login import current_user
from marshmallow import ValidationError, validate

from .. import actions
from ..schemas import ConfigurationChange, time_zone_names
from . import bp, htmx, page, see_other
from .reports import feed_state

DURATION_FIELDS = {"work_seconds": "work_minutes", "short_break_seconds": "short_break_minutes",
                   "long_break_seconds": "long_break_minutes"}
SWITCHES = ("auto_start_breaks", "auto_start_work")


def _allowed(field: str) -> validate.Range:
    """The range the API's schema allows for `field`: the form says the same."""
    return next(check for check in ConfigurationChange().fields[field].validators
                if isinstance(check, validate.Range))


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


SECONDS, INTERVAL = _allowed("work_seconds"), _allowed("long_break_interval")
DURATION_PROBLEM = f"From {minutes_text(SECONDS.min)} to {minutes_text(SECONDS.max)} minutes."
INTERVAL_PROBLEM = f"A whole number from {INTERVAL.min} to {INTERVAL.max}."
GOAL = _allowed("daily_goal")
GOAL_PROBLEM = f"A whole number of focus sessions from {GOAL.min} (no goal) to {GOAL.max}."


def settings_form(user) -> dict:
    durations = {name: minutes_text(getattr(user, field)) for field, name in DURATION_FIELDS.items()}
    return durations | {
        "long_break_interval": str(user.long_break_interval),
        "auto_start_breaks": user.auto_start_breaks, "auto_start_work": user.auto_start_work,
        "timezone": user.timezone,
        "daily_goal": str(user.daily_goal),
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
        errors["long_break_interval"] = INTERVAL_PROBLEM
    data |= {switch: switch in form for switch in SWITCHES}
    data["timezone"] = form.get("timezone", "").strip()
    if "daily_goal" in form:  # (a form from before the goal existed leaves it as it is)
        goal = form["daily_goal"].strip()
        if re.fullmatch(r"\d{1,3}", goal):
            data["daily_goal"] = int(goal)
        else:
            errors["daily_goal"] = GOAL_PROBLEM
    try:
        ConfigurationChange().load(data)
    except ValidationError as error:
        for field, messages in error.messages.items():
            if field in DURATION_FIELDS:
                errors[DURATION_FIELDS[field]] = DURATION_PROBLEM
            elif field == "long_break_interval":
                errors[field] = INTERVAL_PROBLEM
            elif field == "daily_goal":
                errors[field] = GOAL_PROBLEM
            else:
                errors[field] = " ".join(messages)
    return data, errors


def time_zones() -> list[str]:
    return sorted(zone for zone in time_zone_names() if "/" in zone or zone == "UTC")


def settings_page(form: dict, errors: dict | None = None, alert: str | None = None,
                  saved: bool = False, status: int = 200, **sections):
    """`sections`: what the other sections of the page (account, integrations) show."""
    sections.setdefault("password_errors", {})
    return page("settings.html", "settings_form", status, form=form, errors=errors or {},
                alert=alert, saved=saved, zones=time_zones(), feed=feed_state(), interval=INTERVAL, goal=GOAL,
                **sections)


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    if request.method == "GET":
        return settings_page(settings_form(current_user))
    changes, errors = read_settings(request.form)
    if errors:
        typed = request.form.to_dict() | {switch: switch in request.form for switch in SWITCHES}
        return settings_page(typed, errors, "Some settings need a second look.", status=422)
    actions.update_configuration(current_user, changes)
    if htmx():
        return settings_page(settings_form(current_user), saved=True)
    flash("Settings saved. New sessions use them.", "success")
    return see_other("pages.settings")
