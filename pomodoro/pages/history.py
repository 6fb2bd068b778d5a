"""History: cycles and their sessions, newest first, in the person's time
zone, with focused time for today and this week."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import request
from flask_login import current_user
from sqlalchemy import select

from .. import actions, rules
from ..extensions import db
from ..models import Session, utcnow
from . import bp, page
from .tasks import session_editing

PAGE_SIZE = 10
LAST_PAGE = 100_000


def totals(user, zone: ZoneInfo, now: datetime) -> dict:
    """Focused time and completed focus sessions today and this week (from Monday)."""
    date = now.astimezone(zone).date()
    today = datetime.combine(date, time(), tzinfo=zone)
    week = datetime.combine(date - timedelta(days=date.weekday()), time(), tzinfo=zone)
    rows = db.session.scalars(select(Session).where(
        Session.user_id == user.id, Session.type == rules.WORK, Session.status == rules.COMPLETED,
        Session.completed_at >= week)).all()
    result = {}
    for name, since in (("today", today), ("week", week)):
        done = [row for row in rows if row.completed_at >= since]
        result[name] = {"seconds": sum(row.duration_seconds - row.remaining_seconds for row in done),
                        "sessions": len(done)}
    return result


@bp.route("/history")
def history():
    user = current_user
    now = utcnow()
    number = min(max(request.args.get("page", 1, type=int), 1), LAST_PAGE)
    cycles, total = actions.cycles_page(user, number, PAGE_SIZE, now, with_sessions=True)
    zone = ZoneInfo(user.timezone)
    return page("history.html", "history", cycles=cycles, page=number, zone=zone, now=now,
                pages=max(1, -(-total // PAGE_SIZE)), totals=totals(user, zone, now),
                **session_editing(request.args.get("edit")))
