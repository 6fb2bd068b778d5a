"""Sessions out of the service: the CSV and JSON export (streamed a chunk of
rows at a time, so a long history is never built in memory) and the
iCalendar feed of completed focus sessions."""
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlalchemy import select

from . import rules
from .extensions import db
from .models import Session, Task, User

CHUNK = 500
COLUMNS = ("id", "type", "status", "started_at", "ended_at", "started_at_local", "ended_at_local",
           "focused_seconds", "task", "tags", "note", "interruptions_internal", "interruptions_external")
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """Text a spreadsheet shows as text: a leading formula character is escaped with a quote."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def utc_text(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


def local_text(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else None


def sessions_query(user: User, start: datetime | None, end: datetime | None):
    query = (select(Session.id, Session.type, Session.status, Session.started_at, Session.ends_at,
                    Session.completed_at, Session.cancelled_at, Session.duration_seconds,
                    Session.remaining_seconds, Session.note, Session.interruptions_internal,
                    Session.interruptions_external, Task.title, Task.tags)
             .outerjoin(Task, Session.task_id == Task.id).where(Session.user_id == user.id))
    if start is not None:
        query = query.where(Session.started_at >= start)
    if end is not None:
        query = query.where(Session.started_at < end)
    return query.order_by(Session.started_at, Session.id)


def records(user: User, start: datetime | None, end: datetime | None, now: datetime):
    """Each session of the range as a dict of the export's columns, oldest first,
    read from the database a chunk at a time."""
    zone = ZoneInfo(user.timezone)
    rows = db.session.execute(sessions_query(user, start, end).execution_options(yield_per=CHUNK))
    for row in rows:
        ended = row.completed_at or row.cancelled_at
        yield {
            "id": row.id, "type": row.type, "status": row.status,
            "started_at": utc_text(row.started_at), "ended_at": utc_text(ended),
            "started_at_local": local_text(row.started_at, zone), "ended_at_local": local_text(ended, zone),
            "focused_seconds": round(row.duration_seconds - rules.remaining_at(row, now), 3),
            "task": row.title, "tags": list(row.tags or []), "note": row.note,
            "interruptions_internal": row.interruptions_internal,
            "interruptions_external": row.interruptions_external,
        }


def csv_chunks(rows):
    """UTF-8 CSV (with a byte-order mark, so spreadsheets read it as UTF-8),
    RFC 4180 quoting and CRLF line ends; text cells cannot start a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(COLUMNS)
    yield buffer.getvalue().encode()  # the header goes out before the sessions are read
    buffer.seek(0)
    buffer.truncate()
    for number, record in enumerate(rows, 1):
        cells = []
        for name in COLUMNS:
            value = record[name]
            if name == "tags":
                value = "; ".join(value)
            if isinstance(value, str):
                value = safe_cell(value)
            cells.append("" if value is None else value)
        writer.writerow(cells)
        if number % CHUNK == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def json_chunks(rows, header: dict):
    """{"...header", "items": [...]} written a chunk of items at a time."""
    opening = json.dumps(header)[:-1]
    yield (opening + (', ' if header else '') + '"items": [').encode()  # before the sessions are read
    parts = []
    for number, record in enumerate(rows):
        parts.append(("," if number else "") + json.dumps(record, ensure_ascii=False))
        if len(parts) >= CHUNK:
            yield "".join(parts).encode()
            parts = []
    parts.append("]}")
    yield "".join(parts).encode()


def calendar(user: User, days: int, now: datetime) -> bytes:
    """The user's completed focus sessions of the last `days` days as iCalendar."""
    feed = Calendar()
    feed.add("prodid", "-//Pomodoro//Focus sessions//EN")
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("x-wr-calname", "Pomodoro focus")
    rows = db.session.execute(
        select(Session.id, Session.started_at, Session.completed_at, Session.note, Task.title)
        .outerjoin(Task, Session.task_id == Task.id)
        .where(Session.user_id == user.id, Session.type == rules.WORK, Session.status == rules.COMPLETED,
               Session.started_at >= now - timedelta(days=days))
        .order_by(Session.started_at)
    )
    for row in rows:
        event = Event()
        event.add("uid", f"{row.id}@pomodoro")
        event.add("dtstamp", row.completed_at)
        event.add("dtstart", row.started_at)
        event.add("dtend", row.completed_at)
        event.add("summary", row.title or "Focus")
        if row.note:
            event.add("description", row.note)
        event.add("transp", "OPAQUE")
        feed.add_component(event)
    return feed.to_ical()
