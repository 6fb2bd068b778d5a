"""Configuration from the environment: SECRET_KEY rules and DATABASE_URL forms.

create_app() keeps its instance folder beside the package (Flask's default)
and offers no way to move it. To let the embedded default write its
secret_key somewhere other than the real instance/, the app is started in a
child process that imports the package through a symlink in a temporary
directory; Flask then puts instance/ in that directory.
"""
import json
import os
import stat
import subprocess
import sys

import pytest

from pomodoro import create_app, database_url

from .conftest import ROOT

SHOW_CONFIG = """
import json
from pomodoro import create_app
app = create_app()
print(json.dumps({"secret_key": app.secret_key, "instance_path": app.instance_path,
                  "database": app.config["SQLALCHEMY_DATABASE_URI"]}))
"""


def start_embedded(*homes) -> list[dict]:
    """Start the app on the embedded default from each of `homes`, side by side;
    what each configured."""
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PYTHONPATH")}
    children = []
    for home in homes:
        if not (home / "pomodoro").exists():
            (home / "pomodoro").symlink_to(ROOT / "pomodoro")
        children.append(subprocess.Popen([sys.executable, "-c", SHOW_CONFIG], cwd=home, env=env,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    started = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        started.append(json.loads(out.strip().splitlines()[-1]))
    return started


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("variables", [
    {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres"},
    {"DATABASE_URL": "sqlite:////tmp/pomodoro-config-test.db"},
    {"REDIS_URL": "redis://127.0.0.1:6379/15"},
    {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres", "REDIS_URL": "redis://127.0.0.1:6379/15"},
    {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres", "SECRET_KEY": ""},
])
def test_refuses_to_start_without_a_secret_key_outside_the_embedded_default(clean_env, variables):
    for name, value in variables.items():
        clean_env.setenv(name, value)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_the_wsgi_entry_point_refuses_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'pomodoro.db'}"
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_secret_key_and_database_url_come_from_the_environment(clean_env):
    clean_env.setenv("SECRET_KEY", "from the environment")
    clean_env.setenv("DATABASE_URL", "postgres://someone:pw@db.example.org:5432/pomodoro")
    app = create_app()
    assert app.secret_key == "from the environment"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://someone:pw@db.example.org:5432/pomodoro"
    assert app.config["REDIS_URL"] is None


def test_the_embedded_default_generates_a_secret_key_once_and_keeps_it(tmp_path):
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    first, other_installation = start_embedded(home, elsewhere)
    instance = home / "instance"
    assert first["instance_path"] == str(instance)
    key_file = instance / "secret_key"
    assert key_file.read_text().strip() == first["secret_key"]
    assert len(first["secret_key"]) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # only the owner may read it
    assert first["database"] == f"sqlite:///{instance / 'pomodoro.db'}"
    assert other_installation["secret_key"] != first["secret_key"]

    [again] = start_embedded(home)
    assert again["secret_key"] == first["secret_key"]  # sessions survive a restart


@pytest.mark.parametrize("given, expected", [
    ("postgres://u:p@host:5432/db", "postgresql+psycopg://u:p@host:5432/db"),
    ("postgresql://u:p@host:5432/db", "postgresql+psycopg://u:p@host:5432/db"),
    ("postgresql+psycopg://u:p@host:5432/db", "postgresql+psycopg://u:p@host:5432/db"),
    ("postgres://host/db?sslmode=require", "postgresql+psycopg://host/db?sslmode=require"),
    ("sqlite:////var/lib/pomodoro/pomodoro.db", "sqlite:////var/lib/pomodoro/pomodoro.db"),
    ("sqlite:///relative.db", "sqlite:///relative.db"),
    ("sqlite://", "sqlite://"),
])
def test_database_url_always_talks_psycopg_3_and_leaves_sqlite_alone(given, expected):
    assert database_url(given) == expected
