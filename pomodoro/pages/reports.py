"""Reports: a week, month or year of focus as server-drawn SVG charts, with
the numbers as tables, and the export of what is shown."""
from datetime import date
from zoneinfo import ZoneInfo

from flask import flash, request
from flask import session as flask_session
from flask_login import current_user

from .. import charts, days, reports
from ..api import reports as api_reports
from ..models import utcnow
from . import bp, page, see_other

BAD_DATE = "That date could not be read (use YYYY-MM-DD); here is today."


def asked(today: date) -> tuple[str, date, str | None]:
    """The view and day the query asks for, or the defaults and what was wrong."""
    view = request.args.get("view", days.WEEK)
    text = request.args.get("date", "")
    problem = None
    if view not in days.VIEWS:
        view, problem = days.WEEK, "There is no such view; here is the week."
    try:
        anchor = date.fromisoformat(text) if text else today
    except ValueError:
        anchor, problem = today, BAD_DATE
    if not date(1970, 1, 1) <= anchor <= date(9998, 1, 1):
        anchor, problem = today, BAD_DATE
    return view, anchor, problem


def focus_bars(view: str, stats: reports.Stats, goal_minutes: float) -> dict:
    """Minutes per day (per month in the year view), the goal drawn across or over each month."""
    if view == days.YEAR:
        bars = []
        for month in days.months_of(stats.first, stats.last):
            rows = [row for row in stats.days if row["date"].month == month.month]
            minutes = sum(row["focused_seconds"] for row in rows) / 60
            bars.append({"label": month.strftime("%b"), "value": minutes, "key": month, "name": month.strftime("%B %Y"),
                         "sessions": sum(row["work_sessions"] for row in rows),
                         "goal": goal_minutes * charts.days_in_month(month)})
        return charts.bar_chart(bars)
    bars = [{"label": row["date"].strftime("%a" if view == days.WEEK else "%-d"), "key": row["date"],
             "name": row["date"].strftime("%A %-d %B %Y"), "value": row["focused_seconds"] / 60,
             "sessions": row["work_sessions"]} for row in stats.days]
    return charts.bar_chart(bars, goal_minutes, every=1 if view == days.WEEK else 5)


def hour_bars(stats: reports.Stats) -> dict:
    bars = [{"label": f"{row['hour']:02d}", "key": row["hour"], "name": f"{row['hour']:02d}:00–{row['hour']:02d}:59",
             "value": row["focused_seconds"] / 60, "sessions": row["work_sessions"]} for row in stats.hours]
    return charts.bar_chart(bars, every=3)


def report_context() -> dict:
    user = current_user
    now = utcnow()
    zone = ZoneInfo(user.timezone)
    today = days.local_day(now, zone)
    view, anchor, problem = asked(today)
    first, last = days.period(view, anchor)
    year_first, year_last = days.period(days.YEAR, anchor)
    wider = reports.per_day(user, zone, min(first, year_first), max(last, year_last))  # one read for both
    stats = reports.stats(user, first, last, now, wider)
    year_rows = [row for row in wider if year_first <= row["date"] <= year_last]
    goal_minutes = user.daily_goal * user.work_seconds / 60
    return {
        "view": view, "anchor": anchor, "first": first, "last": last, "today": today, "zone": zone,
        "previous": days.shift(view, anchor, -1), "next": days.shift(view, anchor, 1),
        "stats": stats, "alert": problem, "goal_minutes": goal_minutes, "views": days.VIEWS,
        "focus_chart": focus_bars(view, stats, goal_minutes), "hour_chart": hour_bars(stats),
        "heatmap": charts.heatmap(anchor.year, year_rows), "year": anchor.year,
    }


@bp.route("/reports")
def reports_page():
    context = report_context()
    return page("reports.html", "report", 422 if context["alert"] else 200, **context)


@bp.app_template_filter("hours_minutes")
def hours_minutes(seconds: float) -> str:
    """A total to the minute: "291 h 40 min", "25 min", "0 min"."""
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


@bp.app_template_filter("minutes_short")
def minutes_short(minutes: float) -> str:
    """An axis label: 45m, 2h, 1h30."""
    whole = round(minutes)
    hours, rest = divmod(whole, 60)
    if not hours:
        return f"{rest}m" if rest else "0"
    return f"{hours}h{rest:02d}" if rest else f"{hours}h"


# -- settings: the calendar feed -------------------------------------------------------

NEW_FEED = "reports.new_feed_url"  # kept in the signed session cookie until settings show it once


def feed_state() -> dict:
    """What the settings page shows of the feed: whether one is on, since when, and a
    new URL once (only its hash is stored, so it cannot be shown again)."""
    url = flask_session.pop(NEW_FEED, None)
    return {"active": current_user.calendar_secret_hash is not None,
            "since": current_user.calendar_secret_created_at,
            "url": url, "webcal": "webcal://" + url.split("://", 1)[1] if url else None}


@bp.route("/settings/calendar", methods=["POST"])
def calendar_feed_new():
    """Make the feed URL (or a new one in place of the old)."""
    replacing = current_user.calendar_secret_hash is not None
    flask_session[NEW_FEED] = api_reports.new_feed_url(current_user)
    flash("Your calendar feed has a new address; the old one no longer works." if replacing
          else "Your calendar feed is ready: add its address to your calendar app.", "success")
    return see_other("pages.settings", _anchor="calendar")


@bp.route("/settings/calendar/revoke", methods=["POST"])
def calendar_feed_revoke():
    api_reports.revoke_feed(current_user)
    flash("The calendar feed is off; its address no longer works.", "success")
    return see_other("pages.settings", _anchor="calendar")
