"""The JSON API of tasks: the list in order, each task, and the day's plan."""
from flask_smorest import Blueprint

from . import protect

bp = Blueprint("tasks", __name__, description="Tasks planned in pomodoros")
protect(bp)
