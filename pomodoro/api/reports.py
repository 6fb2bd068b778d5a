"""The JSON API of reports: statistics, export and the calendar feed."""
from flask_smorest import Blueprint

from . import protect

bp = Blueprint("reports", __name__, description="Statistics, export and the calendar feed")
protect(bp)
