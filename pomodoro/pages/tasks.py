"""Pages: tasks."""
from . import bp  # noqa: F401 (the routes here are registered on the pages blueprint)
