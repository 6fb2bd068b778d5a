"""The baselines: a bare Flask JSON endpoint, served exactly as the product is,
and the same endpoint making one round trip to the database through
SQLAlchemy with the product's engine options (the floor under any request that
reads a row), and one that makes one UPDATE of a random row in a transaction
(the floor under any request that writes)."""
import functools
import os
import random

from flask import Flask
from sqlalchemy import create_engine, text

from pomodoro import database_url, engine_options

ROWS = 64

app = Flask(__name__)


@functools.cache
def engine():
    url = database_url(os.environ["DATABASE_URL"])
    return create_engine(url, **engine_options(url))


@app.get("/bare")
def bare():
    return {"ok": True}


@app.get("/bare-db")
def bare_db():
    with engine().connect() as connection:
        return {"ok": connection.scalar(text("SELECT 1")) == 1}


@app.post("/bare-write")
def bare_write():
    with engine().begin() as connection:
        changed = connection.execute(text("UPDATE bare_rows SET n = n + 1 WHERE id = :id"),
                                     {"id": random.randrange(ROWS)})
        return {"ok": changed.rowcount == 1}


def prepare(url: str) -> None:
    """The small table /bare-write updates, made before the app's processes start."""
    with create_engine(database_url(url)).begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS bare_rows (id integer PRIMARY KEY, n integer NOT NULL)"))
        connection.execute(text("INSERT INTO bare_rows SELECT i, 0 FROM generate_series(0, :last) AS i "
                                "ON CONFLICT DO NOTHING"), {"last": ROWS - 1})
