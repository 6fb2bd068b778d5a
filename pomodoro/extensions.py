"""Extension objects, unbound: `create_app()` binds them to an app."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase
from werkzeug.routing import BaseConverter


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
api = Api()


class SessionIdConverter(BaseConverter):
    """A session's id in `/sessions/<id>`: anything but "current", which is a
    path of its own (so that its `OPTIONS` and 405s name its own methods,
    not also those of the id's route)."""

    regex = r"(?!current(?![^/]))[^/]+"


api.register_converter(SessionIdConverter, lambda converter: {"type": "string"})
sock = Sock()
