"""The geometry of the reports page's SVG charts: where each bar, cell, tick
and label goes. The templates draw what these return; no chart library, so
the Content-Security-Policy stays as strict as it is."""
from calendar import monthrange
from datetime import date, timedelta

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 26
CELL, GAP = 11, 2
WEEKDAYS = ("Mon", "", "Wed", "", "Fri", "", "")
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NICE = (5, 10, 15, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 3000, 6000)


def nice_step(top: float, ticks: int = 4) -> int:
    """A round number of minutes between gridlines so that `ticks` of them reach past `top`."""
    return next((step for step in NICE if step * ticks >= top), NICE[-1] * (int(top // (NICE[-1] * ticks)) + 1))


def bar_chart(bars: list[dict], goal: float | None = None, every: int = 1) -> dict:
    """Bars of `value` (minutes), each with a `label` and a `title`; `goal` (minutes)
    is a line across, or with `per_bar_goal` in a bar a mark over that bar alone.
    A label is written under every `every`-th bar."""
    goals = [bar.get("goal") or 0 for bar in bars] + [goal or 0]
    step = nice_step(max([bar["value"] for bar in bars] + goals + [1]))
    top = step * 4
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(bars), 1)

    def y(minutes: float) -> float:
        return round(TOP + plot_height * (1 - minutes / top), 2)

    drawn = []
    for index, bar in enumerate(bars):
        x = LEFT + slot * index
        height = round(plot_height * bar["value"] / top, 2)
        drawn.append(bar | {
            "x": round(x + slot * 0.15, 2), "width": round(slot * 0.7, 2), "y": round(TOP + plot_height - height, 2),
            "height": height, "center": round(x + slot / 2, 2), "show_label": index % every == 0,
            "goal_y": y(bar["goal"]) if bar.get("goal") else None,
        })
    return {"width": WIDTH, "height": HEIGHT, "bars": drawn, "left": LEFT, "right": WIDTH - RIGHT,
            "baseline": TOP + plot_height, "label_y": HEIGHT - 8,
            "ticks": [{"y": y(step * n), "label": step * n} for n in range(5)],
            "goal_y": y(goal) if goal else None, "goal": goal}


def heat_level(value: float, highest: float) -> int:
    """0 for nothing, else 1..4 by the share of the year's busiest day."""
    if value <= 0 or highest <= 0:
        return 0
    return min(4, 1 + int(4 * value / highest * 0.999))


def heatmap(year: int, day_rows: list[dict]) -> dict:
    """A year of days as a grid: a column per week (Monday first), a row per weekday."""
    by_day = {row["date"]: row for row in day_rows}
    first = date(year, 1, 1)
    start = first - timedelta(days=first.weekday())
    highest = max((row["focused_seconds"] for row in day_rows), default=0)
    left, top = 30, 16
    cells, months = [], []
    for offset in range((date(year, 12, 31) - first).days + 1):
        day = first + timedelta(days=offset)
        week = (day - start).days // 7
        row = by_day.get(day, {"focused_seconds": 0, "work_sessions": 0})
        minutes, sessions = round(row["focused_seconds"] / 60), row["work_sessions"]
        # The words are written here, once per cell: 366 cells through template filters cost more than the counting
        cells.append({"date": day.isoformat(), "x": left + week * (CELL + GAP), "y": top + day.weekday() * (CELL + GAP),
                      "level": heat_level(row["focused_seconds"], highest), "sessions": sessions, "minutes": minutes,
                      "name": f"{WEEKDAY_NAMES[day.weekday()]} {day.day} {MONTH_NAMES[day.month - 1]} {day.year}",
                      "count": f"{sessions} focus session{'' if sessions == 1 else 's'}"})
        if day.day == 1:
            months.append({"x": left + week * (CELL + GAP), "label": MONTH_NAMES[day.month - 1]})
    weeks = (date(year, 12, 31) - start).days // 7 + 1
    return {"cells": cells, "months": months, "cell": CELL, "label_y": top - 5,
            "weekdays": [{"y": top + n * (CELL + GAP) + CELL - 2, "label": name} for n, name in enumerate(WEEKDAYS) if name],
            "width": left + weeks * (CELL + GAP), "height": top + 7 * (CELL + GAP)}


def days_in_month(month: date) -> int:
    return monthrange(month.year, month.month)[1]
