"""The timer page and its buttons. Each button posts to its own URL, calls the
same action as the JSON API, and answers with the timer fragment (htmx) or a
303 back to the page."""
from flask import flash, request
from flask_login import current_user

from .. import actions, reports, rules
from ..models import utcnow
from . import bp, htmx, label, page, see_other


def _steps(cycle, session, user) -> list[dict]:
    """The cycle plan, each step with the words it is shown with."""
    return [step | {"text": f"Focus {step['number']}" if step["type"] == rules.WORK else label(step["type"])}
            for step in rules.cycle_plan(cycle, session, user)]


def timer_context(alert: str | None = None) -> dict:
    user = current_user
    now = utcnow()
    session = actions.current_session(user, now)
    cycle = session.cycle if session else actions.active_cycle(user)
    interval = cycle.long_break_interval if cycle else user.long_break_interval
    done_work = cycle.completed_work_sessions if cycle else 0
    up_type = session.type if session else (cycle.next_session_type if cycle else rules.WORK)
    return {
        "user": user, "session": session, "cycle": cycle, "now": now, "alert": alert,
        "remaining": rules.remaining_at(session, now) if session else rules.duration_for(user, up_type),
        "up_type": up_type,
        "after": rules.following(cycle, session, user) if session and cycle else None,
        "steps": _steps(cycle, session, user),
        "focus_number": min(done_work + 1, interval), "interval": interval,
        "can_restart_cycle": session is None and cycle is not None and bool(cycle.sessions),
        "today": reports.today(user, now),  # reports: the daily goal and streak
        **_task_extras(session, up_type),
    }


def _task_extras(session, up_type) -> dict:
    from .tasks import timer_extras  # pages/tasks.py builds on this module

    return timer_extras(session, up_type)


def timer_answer(alert: str | None = None, status: int = 200):
    """After a button: the timer fragment for htmx, or a 303 back to the page."""
    if htmx():
        return page("timer.html", "timer", status, **timer_context(alert))
    if alert:
        flash(alert, "error")
    return see_other("pages.index")


@bp.route("/")
def index():
    """The timer page; `?part=tasks` asks htmx for the task board alone (`edit`: one task as a form)."""
    from .tasks import tasks_context

    editing = request.args.get("edit")
    if htmx() and request.args.get("part") == "tasks":
        return page("_tasks.html", "task_board", **tasks_context(editing=editing))
    context = timer_context()
    if htmx():
        return page("timer.html", "timer", **context)
    return page("timer.html", "timer", **context,
                **tasks_context(editing=editing, timer=(context["session"], context["cycle"])))


def _act(action, *args):
    """Run a user action; a refusal (another tab got there first) becomes a message."""
    try:
        action(current_user, *args)
    except (rules.Refused, actions.NotFound) as error:
        return timer_answer(f"{error} This is where things stand now.", 409)
    return timer_answer()


def _session_id() -> str:
    return request.form.get("session_id", "")


@bp.route("/sessions/start", methods=["POST"])
def start():
    return _act(actions.start_session)


@bp.route("/sessions/pause", methods=["POST"])
def pause():
    return _act(actions.pause_session, _session_id())


@bp.route("/sessions/resume", methods=["POST"])
def resume():
    return _act(actions.resume_session, _session_id())


@bp.route("/sessions/skip", methods=["POST"])
def skip():
    return _act(actions.set_session_status, _session_id(), rules.CANCELLED)


@bp.route("/sessions/finish", methods=["POST"])
def finish():
    return _act(actions.set_session_status, _session_id(), rules.COMPLETED)


@bp.route("/cycles/new", methods=["POST"])
def new_cycle():
    return _act(actions.create_cycle)


@bp.route("/settings/auto-start", methods=["POST"])
def auto_start():
    changes = {"auto_start_breaks": "auto_start_breaks" in request.form,
               "auto_start_work": "auto_start_work" in request.form}
    actions.update_configuration(current_user, changes)
    return timer_answer()
