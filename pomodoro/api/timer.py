"""The JSON API of the timer: users and their configuration, cycles and sessions."""
from contextlib import contextmanager

from flask import url_for
from flask_smorest import abort as abort_with
from flask_login import current_user
from flask_smorest import Blueprint

from .. import actions, schemas
from ..auth import limit_signups
from ..models import User
from . import protect

bp = Blueprint("api", __name__, description="Users, cycles and sessions")
protect(bp, public={"api.create_user"})


def own_user(user_id: str) -> User:
    if user_id != current_user.id:
        raise actions.NotFound("No such user.")
    return current_user


@bp.route("/users", methods=["POST"])
@bp.doc(security=[])  # open to anyone: this is how an account begins
@limit_signups
@bp.arguments(schemas.SignUp)
@bp.response(201, schemas.User)
@bp.alt_response(409, schema=schemas.Error, description="The e-mail is taken")
@bp.alt_response(429, schema=schemas.Error, description="Too many sign-ups from this address; wait and try again")
def create_user(fields):
    """Sign up."""
    user = actions.sign_up(fields["email"], fields["password"], fields["name"])
    return user, 201, {"Location": url_for("api.get_user", user_id=user.id)}


@bp.route("/users/me")
@bp.response(200, schemas.User)
def get_me():
    """The signed-in user, with their configuration."""
    return current_user


@bp.route("/users/<user_id>")
@bp.response(200, schemas.User)
def get_user(user_id):
    """A user, with their configuration (only your own)."""
    return own_user(user_id)


@bp.route("/users/<user_id>/configuration", methods=["PATCH"])
@bp.arguments(schemas.ConfigurationChange, required=False)  # every field is optional, so the body is too
@bp.response(200, schemas.Configuration)
def update_configuration(changes, user_id):
    """Change any of the timer settings; new sessions use them."""
    return actions.update_configuration(own_user(user_id), changes)


@bp.route("/cycles", methods=["POST"])
@bp.arguments(schemas.NewCycle, required=False)  # every field is optional, so the body is too
@bp.response(201, schemas.Cycle)
@bp.alt_response(409, schema=schemas.Error, description="A session is running or paused")
def create_cycle(_fields):
    """Start a new cycle, finishing the active one."""
    return actions.create_cycle(current_user)


@bp.route("/cycles")
@bp.arguments(schemas.Page, location="query")
@bp.response(200, schemas.CycleList)
def list_cycles(page):
    """Your cycles, newest first."""
    items, total = actions.cycles_page(current_user, page["page"], page["per_page"])
    return {"items": items, "total": total, **page}


@bp.route("/cycles/<cycle_id>")
@bp.response(200, schemas.Cycle)
def get_cycle(cycle_id):
    """One cycle."""
    return actions.get_cycle(current_user, cycle_id)


@bp.route("/cycles/<cycle_id>/sessions")
@bp.response(200, schemas.SessionList)
def list_cycle_sessions(cycle_id):
    """The cycle's sessions in order."""
    return {"items": actions.get_cycle(current_user, cycle_id).sessions}


@bp.route("/sessions", methods=["POST"])
@bp.arguments(schemas.NewSession, required=False)  # every field is optional, so the body is too
@bp.response(201, schemas.Session)
@bp.alt_response(409, schema=schemas.Error, description="A session is already running or paused, or the cycle is finished")
def start_session(fields):
    """Start a session: by default the active cycle's next one (a cycle is made if none is active).
    A focus session counts toward `task_id`, by default the active task."""
    with unknown_task_is_invalid():
        return actions.start_session(current_user, fields.get("cycle_id"), fields.get("type"),
                                     task_id=fields.get("task_id", actions.ACTIVE_TASK))


@bp.route("/sessions/current")
@bp.response(200, schemas.Session)
@bp.alt_response(404, schema=schemas.Error, description="No session is running or paused")
def current_session():
    """The running or paused session."""
    session = actions.current_session(current_user)
    if session is None:
        raise actions.NotFound("No session is running or paused.")
    return session


@bp.route("/sessions/<session_id:session_id>")
@bp.response(200, schemas.Session)
def get_session(session_id):
    """One session."""
    return actions.get_session(current_user, session_id)


@bp.route("/sessions/<session_id>/stop", methods=["PATCH"])
@bp.response(200, schemas.Session)
@bp.alt_response(409, schema=schemas.Error, description="The session is not running")
def stop_session(session_id):
    """Pause a running session."""
    return actions.pause_session(current_user, session_id)


@bp.route("/sessions/<session_id>/resume", methods=["PATCH"])
@bp.response(200, schemas.Session)
@bp.alt_response(409, schema=schemas.Error, description="The session is not paused")
def resume_session(session_id):
    """Resume a paused session: it ends after the time it had left."""
    return actions.resume_session(current_user, session_id)


@bp.route("/sessions/<session_id>/status", methods=["PATCH"])
@bp.arguments(schemas.StatusChange)
@bp.response(200, schemas.Session)
@bp.alt_response(409, schema=schemas.Error, description="That transition is not allowed from the session's status")
def change_session_status(fields, session_id):
    """Move a session to `paused`, `running`, `completed` (finish early) or `cancelled` (skip)."""
    return actions.set_session_status(current_user, session_id, fields["status"])


# -- tasks: a session's task and note, extending, interruptions ---------------------

@contextmanager
def unknown_task_is_invalid():
    """A task id in a body that names none of yours is a field error (422), not a missing page."""
    try:
        yield
    except actions.TaskNotFound as error:
        abort_with(422, messages={"json": {"task_id": [str(error)]}})


@bp.route("/sessions/<session_id:session_id>", methods=["PATCH"])
@bp.arguments(schemas.SessionChange, required=False)  # every field is optional, so the body is too
@bp.response(200, schemas.Session)
def update_session(changes, session_id):
    """Change the task a session counts toward (null: none) or its note, whatever its status."""
    with unknown_task_is_invalid():
        return actions.update_session(current_user, session_id, changes)


@bp.route("/sessions/<session_id>/extend", methods=["PATCH"])
@bp.arguments(schemas.Extension)
@bp.response(200, schemas.Session)
@bp.alt_response(409, schema=schemas.Error, description="The session is not running or paused, or would last more than a day")
def extend_session(fields, session_id):
    """Give a running or paused session more time: a running one ends that much later."""
    return actions.extend_session(current_user, session_id, fields["seconds"])


@bp.route("/sessions/<session_id>/interruptions", methods=["POST"])
@bp.arguments(schemas.Interruption)
@bp.response(200, schemas.Session)
@bp.alt_response(409, schema=schemas.Error, description="Not a running or paused focus session")
def log_interruption(fields, session_id):
    """Count an interruption of a running or paused focus session: `internal` (a thought of
    your own) or `external` (someone else)."""
    return actions.log_interruption(current_user, session_id, fields["kind"])
