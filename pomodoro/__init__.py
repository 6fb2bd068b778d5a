"""Pomodoro: a timer service whose server keeps the clock."""
import os
import secrets
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import database  # noqa: F401 (how the engine talks to each database: its hooks)
from . import extensions as ext
from . import security


def database_url(url: str) -> str:
    """Accept the URL forms hosting providers hand out; always talk psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _secret_key(app: Flask) -> str:
    """SECRET_KEY from the environment; the embedded default keeps a generated
    one in instance/ so sessions survive a restart. Anything else refuses to start."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    if os.environ.get("DATABASE_URL") or os.environ.get("REDIS_URL"):
        raise RuntimeError("SECRET_KEY must be set when DATABASE_URL or REDIS_URL is: refusing to start.")
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def engine_options(url: str) -> dict:
    """No ping before each use of a pooled connection (a round trip on every
    request): a dropped one is met by the request and handled there (see
    errors.handle_database_unavailable). On PostgreSQL, keep as many idle
    connections as a process uses at once (the worker's completion threads,
    a web process under a burst of requests): past `pool_size`, SQLAlchemy
    closes each connection it gets back, and a burst then opens a new one, a
    new server process, per query."""
    if url.startswith("sqlite"):
        return {}
    return {"pool_size": 16, "max_overflow": 8}


def _settings(app: Flask) -> dict:
    env = os.environ
    redis_url = env.get("REDIS_URL") or None
    return {
        "SQLALCHEMY_DATABASE_URI": database_url(
            env.get("DATABASE_URL") or f"sqlite:///{Path(app.instance_path) / 'pomodoro.db'}"
        ),
        "REDIS_URL": redis_url,
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "10 per minute"),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "SOCKET_PING_SECONDS": float(env.get("SOCKET_PING_SECONDS", "25")),
        "SIGNUP_RATE_LIMIT": env.get("SIGNUP_RATE_LIMIT", "5 per minute;20 per hour"),
        "PASSWORD_HASH_METHOD": env.get("PASSWORD_HASH_METHOD", "scrypt"),
        "SOCKETS_PER_USER": int(env.get("SOCKETS_PER_USER", "50")),
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", "0")),
        "SESSION_COOKIE_SECURE": env.get("SECURE_COOKIES", "0") == "1",
        "REMEMBER_COOKIE_SECURE": env.get("SECURE_COOKIES", "0") == "1",
        "WEBHOOK_ALLOW_PRIVATE": env.get("WEBHOOK_ALLOW_PRIVATE", "0") == "1",
        "BACKGROUND_NICENESS": int(env.get("BACKGROUND_NICENESS", "10")),
    }


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=64 * 1024,
        RATELIMIT_HEADERS_ENABLED=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked where cookies authenticate: see auth.require_user
        SOCK_SERVER_OPTIONS={"max_message_size": 4096},  # no ping_interval: see socket.py
        API_TITLE="Pomodoro",
        API_VERSION="1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/static/vendor/swagger-ui/",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    app.config.from_mapping(_settings(app))
    if test_config is None or "SECRET_KEY" not in test_config:
        app.config["SECRET_KEY"] = _secret_key(app)
    if test_config is not None:
        app.config.from_mapping(test_config)
        app.config["SQLALCHEMY_DATABASE_URI"] = database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))

    if app.config["TRUSTED_PROXIES"]:
        # Behind N proxies of our own, the client is the address the Nth from the
        # end saw (X-Forwarded-For), and the log-in and sign-up limits key on it.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    ext.db.init_app(app)
    ext.migrate.init_app(app, ext.db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    ext.login_manager.init_app(app)
    ext.login_manager.login_view = "pages.login"
    ext.csrf.init_app(app)
    ext.limiter.init_app(app)
    # Every limit here is a route's own, set by a decorator that checks it as the view is called.
    # The check Flask-Limiter also runs before every request, for limits of the whole app or of a
    # blueprint (there are none), would only cost each request its time.
    app.before_request_funcs[None].remove(ext.limiter._check_request_limit)
    ext.sock.init_app(app)
    _init_runtime(app)

    from . import api as json_api, auth, errors, pages, schemas, socket  # noqa: I001 (views need the extensions bound)
    from .worker import background_command, worker_command

    ext.api.ERROR_SCHEMA = schemas.Error
    app.url_map.converters["session_id"] = ext.SessionIdConverter
    ext.api.init_app(app)
    ext.api.register_blueprint(auth.bp)
    for blueprint in json_api.blueprints():
        ext.api.register_blueprint(blueprint)
    app.register_blueprint(pages.bp)
    app.register_blueprint(socket.bp)
    errors.init_app(app)
    security.init_app(app)
    app.cli.add_command(worker_command)
    app.cli.add_command(background_command)
    _check_browser_files(app)
    return app


def _check_browser_files(app: Flask) -> None:
    """Say so when the npm build step was skipped: the pages would load, but their live parts would not."""
    if not (Path(app.static_folder) / "vendor" / "htmx" / "htmx.min.js").exists():
        app.logger.error("pomodoro/static/vendor is missing: run `npm ci` (see README, Running it for many users).")


def _init_runtime(app: Flask) -> None:
    """Pick the timer, event and background-work adapters: Redis and RQ when
    REDIS_URL is set, in-process otherwise. Nothing connects or starts here."""
    from .background import LocalBackground, RQBackground
    from .events import LocalEvents, RedisEvents
    from .timers import LocalTimers, RQTimers

    if app.config["REDIS_URL"]:
        app.extensions["pomodoro.timers"] = RQTimers.connect(app.config["REDIS_URL"])
        app.extensions["pomodoro.events"] = RedisEvents(app.config["REDIS_URL"])
        app.extensions["pomodoro.background"] = RQBackground.connect(app.config["REDIS_URL"])
    else:
        timers = app.extensions["pomodoro.timers"] = LocalTimers(app)
        app.extensions["pomodoro.events"] = LocalEvents()
        app.extensions["pomodoro.background"] = LocalBackground(app)
        # The one process keeps the clock: it starts with the first request it serves.
        app.before_request(lambda: timers.start())
