"""RQ jobs: plain functions that take ids, run by `flask --app wsgi worker`."""
from datetime import datetime

from flask import current_app

from . import actions
from .models import utcnow


def complete_session(session_id: str, version: int, ends_at: str) -> None:
    """Complete the session at `ends_at`.

    RQ delivers this job half a minute early on purpose (its scheduler keeps
    whole seconds and a busy queue adds delay); the worker's own timer then
    completes the session on the dot. Delivered late, it completes at once.
    """
    due = datetime.fromisoformat(ends_at)
    if utcnow() >= due:
        actions.complete_by_clock(session_id, version)
    else:
        current_app.extensions["pomodoro.worker"].arm(session_id, version, due)
