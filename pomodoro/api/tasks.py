"""The JSON API of tasks: the list in order, each task, and the day's plan."""
from flask import jsonify
from flask_login import current_user
from flask_smorest import Blueprint

from .. import schemas, tasks
from . import protect

bp = Blueprint("tasks", __name__, description="Tasks planned in pomodoros")
protect(bp)


@bp.route("/tasks")
@bp.arguments(schemas.TaskQuery, location="query")
@bp.response(200, schemas.TaskList)
def list_tasks(query):
    """Your tasks in list order (the open ones by default), with the plan for the open ones:
    what remains of their estimates, that much focus, and when it will be done with the
    breaks your cycle puts between the pomodoros."""
    return jsonify(tasks.task_list(current_user, query["state"]))  # shaped already: see tasks.task_list


@bp.route("/tasks", methods=["POST"])
@bp.arguments(schemas.NewTask)
@bp.response(201, schemas.Task)
def create_task(fields):
    """Add a task at the end of the list (`active: true` also makes it the one new focus sessions count toward)."""
    return tasks.create_task(current_user, fields)


@bp.route("/tasks/<task_id>")
@bp.response(200, schemas.Task)
def get_task(task_id):
    """One task, with its completed pomodoros and focused time."""
    return tasks.get_task(current_user, task_id)


@bp.route("/tasks/<task_id>", methods=["PATCH"])
@bp.arguments(schemas.TaskChange, required=False)  # every field is optional, so the body is too
@bp.response(200, schemas.Task)
@bp.alt_response(409, schema=schemas.Error, description="A done task cannot be made active")
def update_task(changes, task_id):
    """Change any of its fields. `done: false` reopens a done task; `position` moves it in the list."""
    return tasks.update_task(current_user, task_id, changes)


@bp.route("/tasks/<task_id>", methods=["DELETE"])
@bp.response(204)
def delete_task(task_id):
    """Delete the task; its sessions stay, counting as no task."""
    tasks.delete_task(current_user, task_id)


@bp.route("/tasks/<task_id>/sessions")
@bp.arguments(schemas.Page, location="query")
@bp.response(200, schemas.SessionPage)
def list_task_sessions(page, task_id):
    """The sessions that counted toward the task, newest first."""
    return tasks.sessions_of(current_user, task_id, page["page"], page["per_page"])
