"""Statistics of focus sessions, counted in SQL.

Counting rules (DESIGN.md): a focus session counts once it is completed; its
focused time is the time it actually ran (duration less what was left); it
belongs to the local calendar day, in the user's current time zone, on which
it started. The grouping happens in the database: PostgreSQL turns a start
into local time with `AT TIME ZONE`; SQLite, which knows no zones, adds the
zone's UTC offset, chosen by a CASE over the spans between the zone's
changes (`days.offset_segments`), so both agree across daylight saving.
"""
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Integer, case, cast, func, literal, select

from . import days, rules
from .extensions import db
from .models import Session, Task, User

NOTHING = (0.0, 0, 0, 0)


def focused_seconds():
    return Session.duration_seconds - Session.remaining_seconds


def counted(user: User):
    """The sessions that count: the user's completed focus sessions."""
    return (Session.user_id == user.id, Session.type == rules.WORK, Session.status == rules.COMPLETED)


def local_start(zone: ZoneInfo, start: datetime, end: datetime):
    """A session's start as local wall-clock time, for starts within [start, end)."""
    if db.engine.dialect.name == "postgresql":
        return func.timezone(zone.key, Session.started_at)
    segments = days.offset_segments(zone, start, end)

    def shifted(offset: int):
        return func.datetime(Session.started_at, literal(f"{offset:+d} seconds"))

    if len(segments) == 1:
        return shifted(segments[0][1])
    return case(*[(Session.started_at < until, shifted(offset)) for until, offset in segments[:-1]],
                else_=shifted(segments[-1][1]))


def local_date(zone, start, end):
    return func.date(local_start(zone, start, end))


def local_hour(zone, start, end):
    if db.engine.dialect.name == "postgresql":
        return cast(func.extract("hour", local_start(zone, start, end)), Integer)
    return cast(func.strftime("%H", local_start(zone, start, end)), Integer)


def as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@dataclass
class Stats:
    first: date
    last: date
    zone: ZoneInfo
    goal: int
    days: list[dict]
    hours: list[dict]
    totals: dict
    streak: dict
    tasks: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    estimates: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        """The body of GET /stats, exactly as `schemas.Stats` writes it, built directly:
        dumping ten years of days through the schema took longer than counting them."""
        return {"from": self.first.isoformat(), "to": self.last.isoformat(), "timezone": self.zone.key,
                "totals": self.totals, "hours": self.hours, "tasks": self.tasks, "tags": self.tags,
                "streak": self.streak, "estimates": self.estimates,
                "days": [{"date": row["date"].isoformat(), "focused_seconds": row["focused_seconds"],
                          "work_sessions": row["work_sessions"]} for row in self.days]}


def measures():
    return (func.sum(focused_seconds()), func.count(),
            func.sum(Session.interruptions_internal), func.sum(Session.interruptions_external))


def measured(row) -> tuple:
    return round(float(row[0] or 0), 3), row[1], int(row[2] or 0), int(row[3] or 0)


def counts_by(user: User, key, start: datetime, end: datetime) -> dict:
    """{key: (focused seconds, sessions, internal and external interruptions)}
    for the counted sessions started in [start, end)."""
    key = key.label("key")
    rows = db.session.execute(
        select(key, *measures())
        .where(*counted(user), Session.started_at >= start, Session.started_at < end)
        .group_by(key)
    ).all()
    return {row[0]: measured(row[1:]) for row in rows}


def day_rows(found: dict, first: date, last: date) -> list[dict]:
    """Every local day from `first` to `last` with what `found` counted on it."""
    found = {as_date(key): value for key, value in found.items()}
    return [{"date": day, "focused_seconds": found.get(day, NOTHING)[0], "work_sessions": found.get(day, NOTHING)[1],
             "interruptions": {"internal": found.get(day, NOTHING)[2], "external": found.get(day, NOTHING)[3]}}
            for day in days.days_between(first, last)]


def hour_rows(found: dict) -> list[dict]:
    found = {int(key): value for key, value in found.items()}
    return [{"hour": hour, "focused_seconds": found.get(hour, NOTHING)[0], "work_sessions": found.get(hour, NOTHING)[1]}
            for hour in range(24)]


def counted_tasks(found: dict) -> dict:
    """{task id: (title, tags)} of the tasks named by the keys of counts by task
    (none read when every session was without a task)."""
    ids = [key for key in found if key]
    if not ids:
        return {}
    rows = db.session.execute(select(Task.id, Task.title, Task.tags).where(Task.id.in_(ids)))
    return {row.id: (row.title, row.tags or []) for row in rows}


def task_rows(found: dict, tasks: dict) -> list[dict]:
    """Focus by task, most first, from counts keyed by task id ("" for no task, or a deleted one)."""
    rows = [{"task_id": key or None, "title": tasks[key][0] if key in tasks else "No task",
             "focused_seconds": value[0], "work_sessions": value[1]} for key, value in found.items()]
    return sorted(rows, key=lambda row: (-row["focused_seconds"], row["title"]))


def tag_rows(found: dict, tasks: dict) -> list[dict]:
    """Focus by tag, most first, from the counts by task: a session counts toward every
    tag of its task (so these add up to more than the total); tags differing only in
    case are one, named by the first of their spellings in code-point order."""
    names, seconds, sessions = {}, {}, {}
    for key, value in found.items():
        for tag in tasks.get(key, ("", []))[1]:
            same = tag.casefold()  # the rule tags are kept unique by (schemas.Tags)
            names[same] = min(names.get(same, tag), tag)
            seconds[same] = seconds.get(same, 0) + value[0]
            sessions[same] = sessions.get(same, 0) + value[1]
    order = sorted(names, key=lambda same: (-seconds[same], same))
    return [{"tag": names[same], "focused_seconds": round(seconds[same], 3), "work_sessions": sessions[same]}
            for same in order]


def per_day(user: User, zone: ZoneInfo, first: date, last: date) -> list[dict]:
    """Every local day from `first` to `last`: focused seconds and completed focus sessions."""
    start, end = days.utc_span(first, last, zone)
    return day_rows(counts_by(user, local_date(zone, start, end), start, end), first, last)


def goal_days(user: User, zone: ZoneInfo, since: datetime | None, end: datetime) -> list[date]:
    """The local days (ascending) on which the daily goal was met, by the sessions
    started from `since` (None: the whole history) until `end`."""
    if since is None:
        since = db.session.scalar(select(func.min(Session.started_at)).where(*counted(user)))
        if since is None:
            return []
    day = local_date(zone, since, end).label("day")
    rows = db.session.scalars(
        select(day).where(*counted(user), Session.started_at >= since, Session.started_at < end)
        .group_by(day).having(func.count() >= max(user.daily_goal, 1)).order_by(day)
    ).all()
    return [as_date(row) for row in rows]


RECENT_DAYS = 31  # the current streak reads this many days back; further only when the run goes on
SETTLED_RUNS = "pomodoro.settled_runs"  # in app.extensions: {(user, zone, goal, day): run ending that day}


def current_streak(user: User, now: datetime) -> int:
    """Days in a row, ending today or yesterday, the goal was met."""
    zone = ZoneInfo(user.timezone)
    today = days.local_day(now, zone)
    first = today - timedelta(days=RECENT_DAYS)
    return run_to_today(user, zone, today, goal_days(user, zone, days.day_start(first, zone), now + timedelta(days=1)))


def run_to_today(user: User, zone: ZoneInfo, today: date, met: list[date]) -> int:
    """The current streak from `met`, the goal days of the last RECENT_DAYS days (and
    maybe more); when the run goes back past those, the run ending the day before
    them is added (`settled_run`)."""
    first = today - timedelta(days=RECENT_DAYS)
    met = [day for day in met if first <= day <= today]
    current, _ = days.streaks(met, today)
    if current and met[-current] == first:
        current += settled_run(user, zone, first - timedelta(days=1))
    return current


def settled_run(user: User, zone: ZoneInfo, day: date) -> int:
    """The run of goal days ending on `day`, a month or more ago, read from the
    whole history once a day per process. Such a day is settled: a session
    counts on the day it started, and the only session that can still complete
    after starting then is one open now (paused since), so the run is kept only
    when the user has no open session that old; none can be made later."""
    end = days.day_start(day + timedelta(days=1), zone)
    key = (user.id, zone.key, user.daily_goal, day)
    runs = current_app.extensions.setdefault(SETTLED_RUNS, {})
    if key in runs:
        return runs[key]
    settled = db.session.scalar(select(func.count()).select_from(Session).where(
        Session.user_id == user.id, Session.is_open(), Session.started_at < end)) == 0
    met = goal_days(user, zone, None, end)
    run = days.streaks(met, day)[0] if met and met[-1] == day else 0
    if settled:
        if len(runs) >= 10_000:
            runs.clear()
        runs[key] = run
    return run


def goal_met(user: User, day_rows: list[dict]) -> list[date]:
    return [row["date"] for row in day_rows if row["work_sessions"] >= max(user.daily_goal, 1)]


def streak(user: User, now: datetime, day_rows: list[dict], known: list[dict]) -> dict:
    """The current streak, and the longest run of goal days within the range of `day_rows`.
    `known` (day rows of a range holding theirs, up to today) gives the current one when
    the run starts within it, or when it holds the last RECENT_DAYS days; else they are read."""
    _, longest = days.streaks(goal_met(user, day_rows), day_rows[-1]["date"]) if day_rows else (0, 0)
    return {"current": current_from(user, now, known), "longest": longest, "goal": user.daily_goal}


def current_from(user: User, now: datetime, known: list[dict]) -> int:
    """The current streak, from `known` when the run starts within it or it holds the
    last RECENT_DAYS days (and reaches today); else read."""
    zone = ZoneInfo(user.timezone)
    today = days.local_day(now, zone)
    if not known or known[-1]["date"] < today:
        return current_streak(user, now)
    met = [day for day in goal_met(user, known) if day <= today]
    current, _ = days.streaks(met, today)
    if not current or met[-current] > known[0]["date"]:
        return current  # the run starts within `known`
    if known[0]["date"] <= today - timedelta(days=RECENT_DAYS):
        return run_to_today(user, zone, today, met)
    return current_streak(user, now)


def totals_of(day_rows: list[dict]) -> dict:
    focused = sum(row["focused_seconds"] for row in day_rows)
    sessions = sum(row["work_sessions"] for row in day_rows)
    active = sum(1 for row in day_rows if row["work_sessions"])
    return {"focused_seconds": round(focused, 3), "work_sessions": sessions, "active_days": active,
            "average_focused_seconds_per_active_day": round(focused / active, 3) if active else 0,
            "interruptions": {kind: sum(row["interruptions"][kind] for row in day_rows)
                              for kind in ("internal", "external")}}


def estimates(user: User, start: datetime, end: datetime) -> dict:
    """How the tasks done in [start, end) with an estimate came out against it: the
    pomodoros each took (its completed focus sessions, counted here) ÷ its estimate."""
    took = (select(Task.estimated_pomodoros, func.count(Session.id))
            .outerjoin(Session, (Session.task_id == Task.id) & (Session.type == rules.WORK)
                       & (Session.status == rules.COMPLETED))
            .where(Task.user_id == user.id, Task.done, Task.estimated_pomodoros > 0,
                   Task.done_at >= start, Task.done_at < end)
            .group_by(Task.id, Task.estimated_pomodoros))
    ratios = [done / estimated for estimated, done in db.session.execute(took)]
    return {"tasks_done": len(ratios), "on_estimate": sum(1 for ratio in ratios if ratio == 1),
            "under_estimate": sum(1 for ratio in ratios if ratio < 1),
            "over_estimate": sum(1 for ratio in ratios if ratio > 1),
            "mean_ratio": round(sum(ratios) / len(ratios), 3) if ratios else None}


def stats(user: User, first: date, last: date, now: datetime | None = None, wider: list[dict] | None = None) -> Stats:
    """Everything /stats and the reports page show for the local days `first` to `last`
    (their days taken from `wider`, per_day rows of a range holding them, when given)."""
    now = now or datetime.now(UTC)
    zone = ZoneInfo(user.timezone)
    start, end = days.utc_span(first, last, zone)
    if wider is None:
        dated = per_day(user, zone, first, last)
    else:
        dated = [row for row in wider if first <= row["date"] <= last]
    hours = counts_by(user, local_hour(zone, start, end), start, end)
    by_task = counts_by(user, func.coalesce(Session.task_id, ""), start, end)
    tasks = counted_tasks(by_task)
    return Stats(first=first, last=last, zone=zone, goal=user.daily_goal, days=dated,
                 hours=hour_rows(hours), totals=totals_of(dated), streak=streak(user, now, dated, wider or dated),
                 tasks=task_rows(by_task, tasks), tags=tag_rows(by_task, tasks), estimates=estimates(user, start, end))


def today(user: User, now: datetime) -> dict:
    """The timer page's goal line: focus sessions completed today, the goal, the current
    streak (from the same read of the recent days, unless the streak runs back past them)."""
    zone = ZoneInfo(user.timezone)
    day = days.local_day(now, zone)
    recent = per_day(user, zone, day - timedelta(days=RECENT_DAYS), day)
    return {"done": recent[-1]["work_sessions"], "goal": user.daily_goal,
            "streak": streak(user, now, recent[-1:], recent)["current"]}
