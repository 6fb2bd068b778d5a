"""Completed sessions written straight into the database, for the reports'
tests and benchmark (years of history cannot be run through the timer)."""
import uuid
from datetime import datetime, timedelta

from sqlalchemy import insert

from pomodoro import rules
from pomodoro.models import Cycle, Session


def add_sessions(connection, user_id: str, sessions, session_type: str = rules.WORK,
                 status: str = rules.COMPLETED, **columns) -> list[str]:
    """Insert one finished cycle holding `sessions`, each (started_at, seconds
    focused) or (started_at, seconds focused, seconds planned); returns their ids.

    `columns` (task_id, note, interruptions_internal...) are given to each.
    `connection` is a SQLAlchemy connection or session: bulk Core inserts, so
    50,000 sessions take seconds."""
    if not sessions:
        return []
    cycle_id = uuid.uuid4().hex
    first = min(entry[0] for entry in sessions)
    connection.execute(insert(Cycle), [{
        "id": cycle_id, "user_id": user_id, "status": rules.FINISHED, "long_break_interval": 4,
        "completed_work_sessions": 0, "next_session_type": rules.WORK,
        "created_at": first, "finished_at": first}])
    rows = []
    for position, (started_at, focused, *planned) in enumerate(sessions, 1):
        duration = planned[0] if planned else max(int(focused), 1)
        ended = started_at + timedelta(seconds=focused)
        rows.append({
            "id": uuid.uuid4().hex, "user_id": user_id, "cycle_id": cycle_id, "type": session_type,
            "status": status, "position": position, "duration_seconds": duration,
            "remaining_seconds": float(duration - focused), "started_at": started_at,
            "ends_at": ended if status == rules.COMPLETED else None,
            "completed_at": ended if status == rules.COMPLETED else None,
            "cancelled_at": ended if status == rules.CANCELLED else None,
            "version": 1, **columns,
        })
    connection.execute(insert(Session), rows)
    return [row["id"] for row in rows]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
