"""How the engine's SQLite connections are set up, so that SQLite holds up under concurrent
writers: WAL journal, ``synchronous=NORMAL``, a busy timeout, foreign keys, and write
transactions opened with ``BEGIN IMMEDIATE``.

A plain (deferred) ``BEGIN`` that first reads and then writes fails at once with "database is
locked" when another writer got there in between, whatever the timeout, because SQLite cannot
upgrade the read lock without risking a deadlock. ``BEGIN IMMEDIATE`` takes the write lock up
front and waits for it politely. A connection with the execution option
``sqlite_begin="NONE"`` (the engine's readers) runs its statements without BEGIN: each sees a
consistent WAL snapshot and never blocks writers.

Use: :func:`install` on the engine, once, right after ``create_async_engine``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine

from .fastlane import watched


def install(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    """The pragmas on every new connection, and ``BEGIN IMMEDIATE`` (or the connection's
    ``sqlite_begin`` mode) whenever SQLAlchemy begins a transaction."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy, not the driver, decides when transactions begin (see the docstring)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode == "NONE":
            return
        statement = f"BEGIN {mode}"
        if watched(sync_engine):
            connection.exec_driver_sql(statement)  # where echo and listeners see it
            return
        # one statement without parameters or results: SQLAlchemy's execution adds nothing
        try:
            connection.connection.dbapi_connection.cursor().execute(statement)
        except Exception as error:
            raise exc.DBAPIError.instance(
                statement, None, error, sync_engine.dialect.loaded_dbapi.Error
            ) from error
