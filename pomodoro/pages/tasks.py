"""Pages: the task list on the timer page, and the timer's task controls
(extend, interrupted, "What did you get done?").

The list is the `task_board` block of _tasks.html, fetched on its own by htmx
(`/?part=tasks`) and refreshed on every socket event, so a change in one tab
shows in the others. Each button posts to its own URL and calls the same
action as the JSON API; without JavaScript it posts the one `task-actions`
form (which holds the CSRF token) and comes back with a 303.
"""
from datetime import timedelta

from flask import flash, request, session as cookie, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from .. import actions, rules, tasks
from ..extensions import db
from ..models import Session, utcnow
from ..schemas import Extension, Interruption, NewTask, SessionChange, TaskChange
from . import bp, htmx, page, see_other
from .timer import _act as timer_act, timer_answer

SHOWN = 50  # open tasks listed at first; the rest a click away
DONE_SHOWN = 20  # the most recently done tasks listed under the fold
NOTE_PROMPT_FOR = timedelta(hours=1)  # how long after a focus session ends its note is asked for
DISMISSED = "note_dismissed"
# The buttons of the list, answered with the list (the timer's buttons get the timer).
LIST_ENDPOINTS = {"pages.add_task", "pages.change_task", "pages.estimate", "pages.move_task",
                  "pages.edit_task", "pages.delete_task"}


# -- what the timer page shows ------------------------------------------------------

def tasks_context(alert: str | None = None, editing: str | None = None, timer: tuple | None = None) -> dict:
    """The task list with the plan (`timer`: the current session and active
    cycle, when the caller has them). The first SHOWN open tasks are listed unless all
    are asked for (`?all=1`), so the page costs the same however long the list."""
    user = current_user
    showing_all = _showing_all()
    return {"open_tasks": tasks.listed(user, "open", None if showing_all else SHOWN),
            "open_count": tasks.open_count(user), "showing_all": showing_all,
            "done_tasks": tasks.done_recently(user, DONE_SHOWN),
            "done_count": tasks.done_count(user), "plan": tasks.plan(user, utcnow(), timer),
            "task_alert": alert, "editing": editing, "board_alone": htmx(),
            "tasks_url": url_for("pages.add_task").rsplit("/", 1)[0]}


def _showing_all() -> bool:
    return request.values.get("all") == "1"


def working_on(session, up_type: str):
    """The task the running focus session counts toward, or the next one will."""
    if session is not None:
        return session.task if session.type == rules.WORK else None
    return tasks.active_task(current_user) if up_type == rules.WORK else None


def note_prompt(session):
    """The focus session that ended lately without a note, whose note to ask for
    (none while another focus session runs, or once dismissed)."""
    if session is not None and session.type == rules.WORK:
        return None
    last = db.session.scalar(
        select(Session).where(Session.user_id == current_user.id, Session.type == rules.WORK,
                              Session.status == rules.COMPLETED)
        .order_by(Session.started_at.desc()).limit(1))
    if last is None or last.note or last.id == cookie.get(DISMISSED):
        return None
    return last if utcnow() - last.completed_at < NOTE_PROMPT_FOR else None


def timer_extras(session, up_type: str) -> dict:
    """What the timer block shows for tasks: the task worked on, and the note to ask for."""
    return {"working_on": working_on(session, up_type), "note_for": note_prompt(session)}


# -- the list's answers ---------------------------------------------------------------

def tasks_answer(alert: str | None = None, status: int = 200, editing: str | None = None):
    """After a task button: the board fragment for htmx, or a 303 back to the page."""
    if htmx():
        return page("_tasks.html", "task_board", status, **tasks_context(alert, editing))
    if alert:
        flash(alert, "error")
    return see_other("pages.index", _anchor="tasks", **({"all": "1"} if _showing_all() else {}))


def _do(action, *args):
    try:
        action(current_user, *args)
    except (rules.Refused, actions.NotFound) as error:
        return tasks_answer(f"{error} This is where things stand now.", 409)
    return tasks_answer()


def _valid(schema, data: dict):
    """The data as the API's own schema takes it, or the first problem as a sentence."""
    try:
        return schema.load(data), None
    except ValidationError as error:
        field, problems = next(iter(error.messages.items()))
        problem = problems[0] if isinstance(problems, list) else next(iter(problems.values()))[0]
        return None, f"{field.replace('_', ' ').capitalize()}: {problem}"


def _tags(text: str) -> list[str]:
    return [tag.strip() for tag in text.split(",") if tag.strip()]


@bp.route("/tasks/add", methods=["POST"])
def add_task():
    fields, problem = _valid(NewTask(), {"title": request.form.get("title", "")})
    if problem:
        return tasks_answer(problem, 422)
    return _do(tasks.create_task, fields)


ONE_CLICK = {
    "done": {"done": True}, "reopen": {"done": False},
    "activate": {"active": True}, "deactivate": {"active": False},
}


@bp.route("/tasks/<task_id>/<any(done, reopen, activate, deactivate):change>", methods=["POST"])
def change_task(task_id, change):
    return _do(tasks.update_task, task_id, ONE_CLICK[change])


@bp.route("/tasks/<task_id>/estimate/<any(more, less):way>", methods=["POST"])
def estimate(task_id, way):
    try:
        task = tasks.get_task(current_user, task_id)
    except actions.NotFound as error:
        return tasks_answer(str(error), 404)
    wanted = min(99, max(0, task.estimated_pomodoros + (1 if way == "more" else -1)))
    return _do(tasks.update_task, task_id, {"estimated_pomodoros": wanted})


@bp.route("/tasks/<task_id>/move/<any(up, down, to):where>", methods=["POST"])
def move_task(task_id, where):
    """Up or down past the next open task (done ones are folded away), or `to` a position (dragging)."""
    try:
        position = _new_position(task_id, where)
    except actions.NotFound as error:
        return tasks_answer(str(error), 404)
    if position is None:
        return tasks_answer()
    return _do(tasks.update_task, task_id, {"position": position})


def _new_position(task_id: str, where: str) -> int | None:
    task = tasks.get_task(current_user, task_id)
    if where == "to":
        fields, _problem = _valid(TaskChange(), {"position": request.form.get("position", type=int) or 0})
        return fields and fields["position"]
    open_ids = [each.id for each in tasks.listed(current_user, "open")]
    if task.id not in open_ids:
        return None
    index = open_ids.index(task.id) + (-1 if where == "up" else 1)
    if not 0 <= index < len(open_ids):
        return None
    return tasks.get_task(current_user, open_ids[index]).position


@bp.route("/tasks/<task_id>/edit", methods=["GET", "POST"])
def edit_task(task_id):
    """The row as a form (GET), then the change (POST)."""
    if request.method == "GET":
        if htmx():
            return tasks_answer(editing=task_id)
        return see_other("pages.index", edit=task_id, _anchor=f"task-{task_id}")
    form = request.form
    changes = {"title": form.get("title", ""), "notes": form.get("notes", ""), "tags": _tags(form.get("tags", ""))}
    if form.get("estimated_pomodoros", "").strip().isdigit():
        changes["estimated_pomodoros"] = int(form["estimated_pomodoros"])
    fields, problem = _valid(TaskChange(), changes)
    if problem:
        return tasks_answer(problem, 422, editing=task_id)
    return _do(tasks.update_task, task_id, fields)


@bp.route("/tasks/<task_id>/delete", methods=["POST"])
def delete_task(task_id):
    return _do(tasks.delete_task, task_id)


# -- the timer's task controls -------------------------------------------------------------

@bp.route("/sessions/extend", methods=["POST"])
def extend():
    fields, problem = _valid(Extension(), {"seconds": request.form.get("seconds", type=int) or 0})
    if problem:
        return timer_answer(problem, 422)
    return timer_act(actions.extend_session, request.form.get("session_id", ""), fields["seconds"])


@bp.route("/sessions/interrupted", methods=["POST"])
def interrupted():
    fields, problem = _valid(Interruption(), {"kind": request.form.get("kind", "")})
    if problem:
        return timer_answer(problem, 422)
    return timer_act(actions.log_interruption, request.form.get("session_id", ""), fields["kind"])


@bp.route("/sessions/note", methods=["POST"])
def note():
    """"What did you get done?": store the note, or put the question away."""
    session_id = request.form.get("session_id", "")
    if "dismiss" in request.form or not request.form.get("note", "").strip():
        cookie[DISMISSED] = session_id
        return timer_answer()
    fields, problem = _valid(SessionChange(), {"note": request.form["note"].strip()})
    if problem:
        return timer_answer(problem, 422)
    return timer_act(actions.update_session, session_id, fields)


def session_editing(session_id: str | None) -> dict:
    """History: the session shown as a form, and the tasks it may be moved to (the open ones)."""
    if not session_id:
        return {"editing": None, "task_choices": []}
    return {"editing": session_id, "task_choices": tasks.listed(current_user, "open")}


@bp.route("/history/sessions/<session_id>", methods=["POST"])
def history_session(session_id):
    """History: change a session's note and task afterwards."""
    changes = {"note": request.form.get("note", "").strip() or None, "task_id": request.form.get("task_id") or None}
    fields, problem = _valid(SessionChange(), changes)
    back = {"page": request.form.get("page", 1, type=int)}
    if problem:
        flash(problem, "error")
        return see_other("pages.history", **back)
    try:
        actions.update_session(current_user, session_id, fields)
    except (rules.Refused, actions.NotFound) as error:
        flash(str(error), "error")
    return see_other("pages.history", **back)
