"""The hot path's statements on SQLite, without SQLAlchemy's per-statement work.

Every handled update runs the same few statements (:mod:`db.repositories.hotpath`). Run
through a session, each costs SQLAlchemy far more than SQLite: a greenlet switch, the
session's connection lookup, an execution context, a cursor result, and for the read a session
of its own with a pool checkout. Here each statement is compiled once (per set of parameter
names) and then run directly on the sqlite3 connection, with the columns' own type conversions
(UTC datetimes, encryption) applied to the parameters and the result:

* :func:`run_write`: inside a write transaction opened with :func:`writing`, on that
  transaction's connection, and only while it holds SQLite's write lock with nothing of its
  own in aiosqlite's thread: then nothing can wait for a lock (the lean adapter's rule for
  inline statements, :mod:`db.sqlite.adapter`).
* :func:`read_one`: in a session opened with :func:`reading`, on a connection of its own that
  only reads (``PRAGMA query_only``), on the event loop's thread: in WAL mode a reader never
  waits for a writer. Its busy timeout is 0; in the rare case SQLite answers "busy" anyway, the
  caller takes the ordinary way.

Both return None when they cannot run (PostgreSQL, an in-memory database, pending ORM changes
to flush first, SQL echo or cursor listeners switched on, which must see every statement);
the caller then runs the statement through the session. Errors are raised as SQLAlchemy's own
exception types, with the parameters hidden. Builds on compiled statements' private
attributes (versions: :data:`db.sqlite.WRITTEN_FOR`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from .adapter import inline_statements

#: ``session.info`` keys set by :func:`writing` and :func:`reading`
WRITER = "urapolku_fast_writer"
READER = "urapolku_fast_reader"

Processor = Callable[[Any], Any] | None


class UnsuitableError(Exception):
    """A statement the fast lane cannot run as SQLAlchemy would; it takes the ordinary way."""


class Prepared:
    """A Core statement compiled once for a dialect and one set of parameter names."""

    __slots__ = ("binds", "results", "sql")

    def __init__(self, statement: Any, dialect: Dialect, names: tuple[str, ...]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        if compiled.positiontup is None:  # pragma: no cover - SQLite's paramstyle is positional
            raise UnsuitableError("the fast lane needs a positional paramstyle")
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
            # a column default computed in Python for each execution (a time, say): only
            # SQLAlchemy's execution computes it
            raise UnsuitableError("a column default computed in Python")
        self.sql: str = compiled.string
        given = set(names)
        #: per positional parameter: its name and conversion, or (None, constant) for a
        #: literal of the statement itself
        self.binds: list[tuple[str | None, Any]] = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in given:
                self.binds.append((name, processor))
            else:
                value = bind.effective_value
                self.binds.append((None, processor(value) if processor else value))
        self.results: list[Processor] = (
            [
                c.type.dialect_impl(dialect).result_processor(dialect, None)
                for c in statement.selected_columns
            ]
            if isinstance(statement, Select)
            else []
        )

    def parameters(self, values: dict[str, Any]) -> list[Any]:
        out = []
        for name, processor in self.binds:
            if name is None:
                out.append(processor)  # the literal, already converted
            else:
                value = values[name]
                out.append(processor(value) if processor is not None else value)
        return out

    def row(self, raw: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(p(v) if p is not None else v for p, v in zip(self.results, raw, strict=True))


def watched(engine: Engine) -> bool:
    """SQL is echoed or something listens to the cursor: then every statement must go through
    SQLAlchemy's execution, where they see it (the lane and the direct BEGIN step aside)."""
    dispatch = engine.dispatch
    return bool(engine.echo or dispatch.before_cursor_execute or dispatch.after_cursor_execute)


class Lane:
    """One database's compiled statements and its read-only connection."""

    def __init__(self, engine: AsyncEngine, path: str) -> None:
        self.engine = engine
        self.path = path
        #: None: the statement with those parameters takes the ordinary way (UnsuitableError)
        self._prepared: dict[tuple[int, tuple[str, ...]], Prepared | None] = {}
        self._statements: list[Any] = []  # keeps each id() above taken
        self._reader: sqlite3.Connection | None = None

    def open(self) -> bool:
        """Whether statements may take the lane now (see :func:`watched`)."""
        return not watched(self.engine.sync_engine)

    def bind(self, statement: Any, values: dict[str, Any]) -> tuple[Prepared, list[Any]] | None:
        """``statement`` compiled for ``values`` and its positional parameters, or None if
        the lane cannot run it."""
        prepared = self.prepared(statement, values)
        if prepared is None:
            return None
        return prepared, prepared.parameters(values)

    def prepared(self, statement: Any, values: dict[str, Any]) -> Prepared | None:
        """``statement`` compiled for ``values``' names, or None if the lane cannot run it."""
        names = tuple(values)
        key = (id(statement), names)
        if key in self._prepared:
            return self._prepared[key]
        found: Prepared | None
        try:
            found = Prepared(statement, self.engine.dialect, names)
        except UnsuitableError:
            found = None
        self._prepared[key] = found
        self._statements.append(statement)
        return found

    def reader(self) -> sqlite3.Connection:
        if self._reader is None:
            reader = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=0
            )
            reader.execute("PRAGMA query_only=1")
            reader.execute("PRAGMA busy_timeout=0")
            self._reader = reader
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def _raise(error: Exception, prepared: Prepared, parameters: list[Any]) -> None:
    raise exc.DBAPIError.instance(
        prepared.sql, parameters, error, sqlite3.Error, hide_parameters=True
    ) from error


def run_write(session: AsyncSession, statement: Any, values: dict[str, Any]) -> int | None:
    """Run an INSERT/UPDATE/DELETE in the session's write transaction; the rows it touched,
    or None if it cannot take the lane (then run it through the session)."""
    writer = session.info.get(WRITER)
    if writer is None:
        return None
    lane, connection = writer
    sync = session.sync_session
    if not lane.open() or (sync.autoflush and (sync.new or sync.deleted or sync.dirty)):
        return None
    bound = lane.bind(statement, values)
    if bound is None:
        return None
    prepared, parameters = bound
    try:
        rowcount: int | None = connection.run_now(prepared.sql, parameters)
    except sqlite3.Error as error:
        _raise(error, prepared, parameters)
    return rowcount


def read_one(session: AsyncSession, statement: Any, values: dict[str, Any]) -> Any:
    """The one row of a SELECT, read outside any transaction; None if it cannot take the lane
    (or SQLite was busy): then read it through the session."""
    lane = session.info.get(READER)
    if lane is None or not lane.open():
        return None
    bound = lane.bind(statement, values)
    if bound is None:
        return None
    prepared, parameters = bound
    try:
        rows = lane.reader().execute(prepared.sql, parameters).fetchall()
    except sqlite3.OperationalError as error:
        if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY:
            return None
        _raise(error, prepared, parameters)
    except sqlite3.Error as error:
        _raise(error, prepared, parameters)
    if not rows:
        raise exc.NoResultFound("No row was found when one was required")
    if len(rows) > 1:
        raise exc.MultipleResultsFound("Multiple rows were found when exactly one was required")
    return prepared.row(rows[0])


# -- the sessions that take the lane -----------------------------------------------------------


@asynccontextmanager
async def writing(session: AsyncSession, lane: Lane) -> AsyncIterator[None]:
    """``session``'s write transaction, taking the lane: begun at once (``BEGIN IMMEDIATE``,
    inline when the write lock is free) so that the hot statements take the lane from the
    first, and ended (COMMIT on success, ROLLBACK on any exception, then close) in one step
    that runs to completion even if the task is cancelled meanwhile."""
    connection: Any = None
    try:
        try:
            connection = await session.run_sync(_write_connection)
        except BaseException:
            await _end_session(session, None, commit=False)
            raise
        session.info[WRITER] = (lane, connection)
        try:
            yield
        except BaseException:
            await _end_session(session, connection, commit=False)
            raise
        await _end_session(session, connection, commit=True)
    finally:
        session.info.pop(WRITER, None)


@asynccontextmanager
async def reading(session: AsyncSession, lane: Lane) -> AsyncIterator[None]:
    """``session`` for reads, taking the lane. SQLite's reads run without BEGIN, each
    statement on its own snapshot, so ending the session's transaction with COMMIT or ROLLBACK
    is the same; a session whose reads all took the lane never had one, and is left as it is."""
    session.info[READER] = lane
    try:
        yield
    finally:
        if session.sync_session.in_transaction():
            await session.close()


def _write_connection(session: Session) -> Any:
    """The DB-API connection of the session's transaction, begun now."""
    with inline_statements():
        return session.connection().connection.dbapi_connection


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    finally:
        session.close()


async def _end_session(session: AsyncSession, connection: Any, *, commit: bool) -> None:
    """Commit (or roll back) and close ``session``; never abandoned halfway.

    When the end runs on the loop's thread (the lean adapter says so), nothing in it waits,
    so a cancellation cannot land inside it. Otherwise it runs in a task of its own that is
    awaited to the end even if this task is cancelled meanwhile (the cancellation is raised
    afterwards), as SQLAlchemy's own ``async with session`` does for its close.
    """
    end = _commit_and_close if commit else Session.close  # close rolls back what is open
    if connection is not None and connection.ends_inline():
        await session.run_sync(end)
        return
    task = asyncio.ensure_future(session.run_sync(end))
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as error:
            cancelled = error
    task.result()
    if cancelled is not None:
        raise cancelled
