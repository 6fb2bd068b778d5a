"""The JSON API, one blueprint per resource:

- `timer`: users and their configuration, cycles and sessions;
- `tasks`: tasks and the day's plan;
- `reports`: statistics, export and the calendar feed;
- `integrations`: personal API tokens and webhooks.

(`auth` beside this package holds log-in by token.) Every blueprint here is
`protect`ed the same way: authenticated, JSON bodies only, no impossible ids.
"""
from flask import abort, request
from flask_login import current_user

from ..auth import require_json_body, require_user


def protect(bp, public: set[str] = frozenset()) -> None:
    """Refuse anonymous requests (but to the `public` endpoints), bodies that are
    not JSON, and ids that cannot name anything."""

    @bp.before_request
    def guard():
        if request.endpoint not in public and (refused := require_user()) is not None:
            return refused
        require_json_body()
        # An id with a NUL in it names nothing (and PostgreSQL will not even compare it).
        if request.view_args and any("\x00" in value for value in request.view_args.values()):
            abort(404)
        return None


def per_user() -> str:
    """The key of a per-user rate limit (the routes using it are authenticated)."""
    return f"user:{current_user.id}"


def blueprints() -> list:
    from . import integrations, reports, tasks, timer

    return [timer.bp, tasks.bp, reports.bp, integrations.bp]
