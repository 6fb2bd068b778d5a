"""The JSON API of integrations: personal API tokens and webhooks."""
from flask_smorest import Blueprint

from . import protect

bp = Blueprint("integrations", __name__, description="Personal API tokens and webhooks")
protect(bp)
