"""How the engine talks to each database, whichever app or tool made it.

PostgreSQL: reads outside a transaction, a transaction from the first write.
psycopg opens each transaction with a `BEGIN` of its own, and a request that
only reads would then end with a `ROLLBACK`: three round trips to read one
row. Under READ COMMITTED a transaction gives a read nothing it lacks alone
(each statement sees what was committed when it began, in or out of one), so
a connection comes out of the pool in autocommit, and the first statement
that is not a plain `SELECT` (a write, a `SELECT … FOR UPDATE`, a savepoint,
a read through a server-side cursor) turns autocommit off just before it runs: psycopg then sends `BEGIN`, and
everything from that statement to the commit is one transaction, as before.
A read that leads up to a write at a moment that matters (a completion read
ahead of its `ends_at`) can open the transaction itself: `OPENS_TRANSACTION`.
Idle at the end, a connection goes back to the pool with no `ROLLBACK`, and
psycopg keeps the statements it has prepared (a `ROLLBACK` drops them).

SQLite: write-ahead logging, a busy timeout, foreign keys.
"""
from functools import lru_cache

from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

# An execution option: this statement (a read) begins the transaction the writes after it join.
OPENS_TRANSACTION = {"pomodoro_opens_transaction": True}
AUTOCOMMIT_READS = "pomodoro.autocommit_reads"  # in a pooled connection's info: its autocommit is ours
LOCKING = (" FOR UPDATE", " FOR NO KEY UPDATE", " FOR SHARE", " FOR KEY SHARE")


@lru_cache(maxsize=4096)  # the statements are few, their texts long: each is looked at once
def _plain_read(statement: str) -> bool:
    return statement.lstrip()[:6].upper() == "SELECT" and not any(lock in statement for lock in LOCKING)


def _psycopg(dbapi_connection) -> bool:
    return type(dbapi_connection).__module__.startswith("psycopg")


@event.listens_for(Pool, "checkout")
def _read_outside_transactions(dbapi_connection, record, _proxy) -> None:
    if _psycopg(dbapi_connection) and not dbapi_connection.autocommit \
            and dbapi_connection.info.transaction_status == TransactionStatus.IDLE:
        dbapi_connection.autocommit = True
        record.info[AUTOCOMMIT_READS] = True


@event.listens_for(Engine, "before_cursor_execute")
def _begin_at_the_first_write(connection, cursor, statement, _parameters, context, _executemany) -> None:
    if not connection.info.get(AUTOCOMMIT_READS):
        return
    options = context.execution_options if context is not None else {}
    if "isolation_level" in options:  # someone asked for autocommit (or a level) on purpose
        return
    if options.get("pomodoro_opens_transaction") or options.get("stream_results") \
            or not _plain_read(statement):  # a server-side cursor lives in a transaction
        cursor.connection.autocommit = False
        connection.info[AUTOCOMMIT_READS] = False


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite: let readers and the timer thread work beside a writer."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
