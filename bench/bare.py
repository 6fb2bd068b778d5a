"""The baselines: a bare Flask JSON endpoint, served exactly as the product is,
and the same endpoint making one round trip to the database through
SQLAlchemy with the product's engine options (the floor under any request that
reads a row)."""
import os

from flask import Flask
from sqlalchemy import create_engine, text

from pomodoro import database_url, engine_options

app = Flask(__name__)
url = database_url(os.environ["DATABASE_URL"])
engine = create_engine(url, **engine_options(url))


@app.get("/bare")
def bare():
    return {"ok": True}


@app.get("/bare-db")
def bare_db():
    with engine.connect() as connection:
        return {"ok": connection.scalar(text("SELECT 1")) == 1}
