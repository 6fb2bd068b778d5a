"""The JSON API of reports: statistics, export and the calendar feed."""
import hashlib
import secrets
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Response, jsonify, stream_with_context, url_for
from flask_login import current_user
from flask_smorest import Blueprint, abort
from sqlalchemy import select

from .. import announcements, days, export, reports, schemas
from ..actions import NotFound
from ..extensions import db, limiter
from ..models import User, utcnow
from . import per_user, protect
from .timer import own_user

bp = Blueprint("reports", __name__, description="Statistics, export and the calendar feed")
protect(bp, public={"reports.calendar_feed"})

DEFAULT_DAYS = 7  # /stats without `from`: the week up to `to`
CHANGED = "Another request changed this account; try again."


def invalid(**problems: str):
    abort(422, messages={"query": {name: [message] for name, message in problems.items()}})


def checked(first: date, last: date) -> tuple[date, date]:
    """`first`..`last` as asked, or a 422 naming what is wrong."""
    if first > last:
        invalid(**{"from": "Must not be after `to`."})
    if (last - first).days + 1 > days.MAX_DAYS:
        invalid(to=f"The range may cover at most {days.MAX_DAYS} days.")
    return first, last


def stats_range(query: dict, user: User, now: datetime) -> tuple[date, date]:
    """The range /stats counts: as asked, else the week up to today (the user's today)."""
    last = query.get("to") or max(days.local_day(now, ZoneInfo(user.timezone)), query.get("from_") or date.min)
    first = query.get("from_") or last - timedelta(days=DEFAULT_DAYS - 1)
    return checked(first, last)


def feed_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@bp.route("/stats")
@bp.arguments(schemas.DateRange, location="query")
@bp.response(200, schemas.Stats)
def get_stats(query):
    """Focused time and focus sessions per local day and hour, totals, streaks,
    time by task and tag, estimate accuracy (dates are the user's local days,
    both ends included; the last week by default)."""
    now = utcnow()
    first, last = stats_range(query, current_user, now)
    return jsonify(reports.stats(current_user, first, last, now).as_json())  # as documented; see Stats.as_json


def export_range(query: dict, user: User) -> tuple[datetime | None, datetime | None]:
    """UTC edges of the local days asked for; either end may be open."""
    zone = ZoneInfo(user.timezone)
    first, last = query.get("from_"), query.get("to")
    if first and last:
        checked(first, last)
    return (days.day_start(first, zone) if first else None,
            days.day_start(last + timedelta(days=1), zone) if last else None)


def download(chunks, mimetype: str, filename: str) -> Response:
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# An export reads every session of the user: a script gone wrong must not loop on it.
EXPORT_LIMIT = limiter.shared_limit("20 per minute", scope="export", key_func=per_user)


@bp.route("/export/sessions.csv")
@EXPORT_LIMIT
@bp.arguments(schemas.DateRange, location="query")
@bp.alt_response(429, schema=schemas.Error, description="More than 20 exports a minute; wait and try again")
@bp.response(200, content_type="text/csv", description="UTF-8 CSV with a header row")
def export_csv(query):
    """Every session of the range (all of them without `from` and `to`) as CSV, streamed."""
    start, end = export_range(query, current_user)
    rows = export.records(current_user._get_current_object(), start, end, utcnow())
    return download(export.csv_chunks(rows), "text/csv; charset=utf-8", "pomodoro-sessions.csv")


@bp.route("/export/sessions.json")
@EXPORT_LIMIT
@bp.arguments(schemas.DateRange, location="query")
@bp.alt_response(429, schema=schemas.Error, description="More than 20 exports a minute; wait and try again")
@bp.response(200, content_type="application/json", description='{"timezone", "items": [...]}')
def export_json(query):
    """Every session of the range (all of them without `from` and `to`) as JSON, streamed."""
    user = current_user._get_current_object()
    start, end = export_range(query, user)
    header = {"timezone": user.timezone, "from": query["from_"].isoformat() if query.get("from_") else None,
              "to": query["to"].isoformat() if query.get("to") else None}
    rows = export.records(user, start, end, utcnow())
    return download(export.json_chunks(rows, header), "application/json", "pomodoro-sessions.json")


def new_feed_url(user: User) -> str:
    """A new secret feed for `user` (the old one stops working); its URL, shown once."""
    secret = secrets.token_urlsafe(32)  # 256 bits
    user.calendar_secret_hash = feed_digest(secret)
    user.calendar_secret_created_at = utcnow()
    announcements.commit(refusal=CHANGED)
    return url_for("reports.calendar_feed", secret=secret, _external=True)


def revoke_feed(user: User) -> None:
    user.calendar_secret_hash = None
    user.calendar_secret_created_at = None
    announcements.commit(refusal=CHANGED)


@bp.route("/users/<user_id>/calendar-token", methods=["POST"])
@bp.response(201, schemas.CalendarFeed)
def create_calendar_token(user_id):
    """A secret calendar feed URL; it replaces the previous one."""
    return {"url": new_feed_url(own_user(user_id))}


@bp.route("/users/<user_id>/calendar-token", methods=["DELETE"])
@bp.response(204)
def delete_calendar_token(user_id):
    """Revoke the calendar feed: its URL stops working."""
    revoke_feed(own_user(user_id))


@bp.route("/calendar/<secret>.ics")
@limiter.limit("120 per minute")
@bp.doc(security=[])  # calendar apps cannot send headers: the secret in the URL is the credential
@bp.arguments(schemas.FeedQuery, location="query")
@bp.response(200, content_type="text/calendar", description="iCalendar (RFC 5545)")
@bp.alt_response(404, schema=schemas.Error, description="No feed has this secret")
@bp.alt_response(429, schema=schemas.Error, description="Asked too often from one address; wait and try again")
def calendar_feed(query, secret):
    """The completed focus sessions of the last `days` days (90 by default) as iCalendar events."""
    user = db.session.scalar(select(User).where(User.calendar_secret_hash == feed_digest(secret)))
    if user is None:
        raise NotFound("No calendar feed at this address.")
    body = export.calendar(user, query["days"], utcnow())
    return Response(body, mimetype="text/calendar", headers={"Cache-Control": "private, max-age=300"})
