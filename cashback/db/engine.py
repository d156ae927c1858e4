"""Engines for the two databases the program runs on: SQLite (embedded default, a file in WAL
mode) and PostgreSQL (production, through psycopg 3).

A PostgreSQL server that goes away and comes back needs no restart of the program: every
connection is pinged when it leaves the pool (a dead one is replaced, and a connection found
dead invalidates the whole pool), a new connection gives up after `connect_timeout`, and TCP
keepalives plus `tcp_user_timeout` end a connection to a vanished peer instead of waiting for
the kernel's retransmissions (minutes). Error messages never carry the statement's parameters
(`hide_parameters`) nor the values PostgreSQL quotes from them (its `DETAIL: Key
(agreement_number)=(...)` and `Failing row contains (...)`, which may hold customer names): they
end up in logs and in the workflow history of a failed activity.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, ExceptionContext, make_url
from sqlalchemy.pool import ConnectionPoolEntry

# libpq settings for connections to PostgreSQL, unless the URL or the caller gives their own.
POSTGRES_CONNECT_DEFAULTS: dict[str, int] = {
    "connect_timeout": 10,  # seconds to establish a connection
    "keepalives": 1,
    "keepalives_idle": 30,  # seconds idle before the first probe
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # ms that sent data may stay unacknowledged
}

# Execution option read by the SQLite "begin" hook: open the transaction with BEGIN IMMEDIATE
# (take the write lock at once) or with a plain deferred BEGIN.
SQLITE_BEGIN_IMMEDIATE = "cashback_sqlite_begin_immediate"


def database_url(url: str | URL) -> URL:
    """`url` with PostgreSQL pointed at psycopg 3 (`postgresql://` -> `postgresql+psycopg://`)."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, *, sqlite_busy_timeout_ms: int = 30_000, **kwargs: Any) -> Engine:
    """An engine for `url`. SQLite gets WAL mode, foreign keys, a busy timeout, and transactions
    that start with BEGIN IMMEDIATE (see `Database`); PostgreSQL runs on psycopg 3, with the
    pool pinging connections and the connection settings of `POSTGRES_CONNECT_DEFAULTS`."""
    parsed = database_url(url)
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        connect_args = dict(kwargs.get("connect_args") or {})
        for name, value in POSTGRES_CONNECT_DEFAULTS.items():
            if name not in parsed.query:
                connect_args.setdefault(name, value)
        kwargs["connect_args"] = connect_args
    engine = create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, sqlite_busy_timeout_ms)
    event.listen(engine, "handle_error", _withhold_quoted_values)
    return engine


_QUOTED = re.compile(r'"[^"]*"')


def _withhold_quoted_values(context: ExceptionContext) -> None:
    """Keep only the primary message of a PostgreSQL error (`duplicate key value violates unique
    constraint "..."`): its DETAIL, HINT and CONTEXT lines quote the row's values. The fields
    stay on the driver's error (`diag`) for code that needs them."""
    original = context.original_exception
    diag = getattr(original, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if not primary or not original.args:
        return
    if str(getattr(original, "sqlstate", "")).startswith("22"):
        # Data exceptions quote the input itself: 'invalid input syntax for type integer: "x"'.
        primary = _QUOTED.sub('"…"', primary)
    if original.args[0] == primary:
        return
    original.args = (primary,)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None and wrapped.args:
        kind = f"{type(original).__module__}.{type(original).__name__}"
        wrapped.args = (f"({kind}) {primary}", *wrapped.args[1:])


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # sqlite3 must not open transactions itself: the "begin" hook below does, so that it
        # can choose BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(SQLITE_BEGIN_IMMEDIATE, True)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
