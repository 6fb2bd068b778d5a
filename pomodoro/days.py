"""Local calendar days, periods and streaks: the date rules of the reports.

Everything here is a function of its arguments (no clock, no database): the
queries in `reports` ask these for the UTC edges of local days and for a
zone's UTC offsets over a span, and hand back the days a goal was met.
"""
from calendar import monthrange
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEK, MONTH, YEAR = "week", "month", "year"
VIEWS = (WEEK, MONTH, YEAR)
MAX_DAYS = 3700  # the longest range /stats and the export accept, both ends included


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local calendar day begins.

    A midnight the clocks skip (a zone that springs forward at 00:00) has
    fold 0 mapped to the moment of the change, where the day really begins;
    a midnight that happens twice begins at its first occurrence.
    """
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def utc_span(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC covering the local days `first` to `last`, inclusive."""
    return day_start(first, zone), day_start(last + timedelta(days=1), zone)


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def offset_at(moment: datetime, zone: ZoneInfo) -> int:
    """The zone's UTC offset at `moment`, in whole seconds."""
    return int(moment.astimezone(zone).utcoffset().total_seconds())


def offset_segments(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime | None, int]]:
    """The zone's UTC offsets over [start, end): [(until, offset_seconds), ...],
    the last one with `until` None (it holds from there on).

    Offsets are sampled every six hours and each change is narrowed down to
    the second, so every change of the zone's rules is found but two within
    six hours of each other (no zone has had those in the tz database's range
    of interest here).
    """
    step = timedelta(hours=6)
    segments, current = [], offset_at(start, zone)
    probe = start
    while probe < end:
        following = min(probe + step, end)
        if offset_at(following, zone) != current:
            low, high = int(probe.timestamp()), -int(-following.timestamp() // 1)  # whole seconds
            while high - low > 1:  # offset(low) == current != offset(high)
                middle = (low + high) // 2
                if offset_at(datetime.fromtimestamp(middle, UTC), zone) == current:
                    low = middle
                else:
                    high = middle
            high = datetime.fromtimestamp(high, UTC)
            segments.append((high, current))
            current = offset_at(high, zone)
        probe = following
    segments.append((None, current))
    return segments


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def streaks(met: list[date], today: date) -> tuple[int, int]:
    """(current, longest) runs of consecutive days in `met` (the days the goal
    was met, ascending). The current run ends today, or yesterday: a day with
    no session yet keeps yesterday's streak alive."""
    longest = run = 0
    previous = None
    for day in met:
        if day > today:
            break
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
        previous = day
    current = run if previous is not None and (today - previous).days <= 1 else 0
    return current, longest


def period(view: str, anchor: date) -> tuple[date, date]:
    """The week (Monday to Sunday), month or year holding `anchor`: first and last day."""
    if view == WEEK:
        first = anchor - timedelta(days=anchor.weekday())
        return first, first + timedelta(days=6)
    if view == MONTH:
        return anchor.replace(day=1), anchor.replace(day=monthrange(anchor.year, anchor.month)[1])
    return date(anchor.year, 1, 1), date(anchor.year, 12, 31)


def shift(view: str, anchor: date, steps: int) -> date:
    """`anchor` moved by whole periods (to the first day of the period it lands in)."""
    first, _ = period(view, anchor)
    if view == WEEK:
        return first + timedelta(weeks=steps)
    if view == MONTH:
        months = first.year * 12 + first.month - 1 + steps
        return date(months // 12, months % 12 + 1, 1)
    return date(first.year + steps, 1, 1)


def months_of(first: date, last: date) -> list[date]:
    """The first day of every month touched by [first, last]."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = shift(MONTH, month, 1)
    return months
