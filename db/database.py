"""Engine, sessions and transactions.

SQLite is the default and must hold up under concurrent writers: WAL journal,
``synchronous=NORMAL``, a busy timeout, and write transactions opened with ``BEGIN IMMEDIATE``.
A plain (deferred) ``BEGIN`` that first reads and then writes fails at once with "database is
locked" when another writer got there in between, whatever the timeout, because SQLite cannot
upgrade the read lock without risking a deadlock. ``BEGIN IMMEDIATE`` takes the write lock up
front and waits for it politely. Read-only work uses :meth:`Database.read`, whose
statements run without an explicit transaction: each sees a consistent WAL snapshot, never
blocks writers, and saves a round trip to the database thread.

Code that needs a transaction writes ``async with db.transaction() as session:``; the session
is also published as :func:`current_session` so that a collaborator deep inside the same unit
of work (the conversation storage) joins the same transaction instead of opening its own.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from . import fastlane

try:
    from sqlalchemy.util import await_ as _await
except ImportError:  # SQLAlchemy 2.0
    from sqlalchemy.util import await_only as _await

_current: contextvars.ContextVar[AsyncSession | None] = contextvars.ContextVar(
    "urapolku_db_session", default=None
)


def current_session() -> AsyncSession | None:
    """The session of the write transaction this task is inside, if any."""
    return _current.get()


def normalise_url(url: str) -> str:
    """Accept the URLs operators write and pick the async driver for them."""
    if url.startswith(("sqlite:///", "sqlite://")):
        url = "sqlite+aiosqlite://" + url[len("sqlite://") :]
    elif url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def ensure_sqlite_folder(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


class Database:
    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        busy_timeout_s: float = 15.0,
        fast_lane: bool = True,
        pool_size: int = 10,
    ) -> None:
        """``fast_lane``: the hot path's statements on SQLite bypass SQLAlchemy's execution
        (db/fastlane.py); False runs every statement through SQLAlchemy. ``pool_size``: the
        connections a PostgreSQL pool keeps open; up to twice as many more are opened under
        load (SQLite's pool is fixed: its connections are files, not server processes)."""
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        # parameters are people's data: never in exception messages or logs
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            ensure_sqlite_folder(self.url)
            kwargs["connect_args"] = {"timeout": busy_timeout_s}
            module = _lean_aiosqlite_dbapi() if parsed.get_driver_name() == "aiosqlite" else None
            if module is not None:
                kwargs["module"] = module
                # the lean adapter runs some statements on the event loop's thread (see below);
                # it never lets two threads use a connection at once
                kwargs["connect_args"]["check_same_thread"] = False
            if parsed.database in (None, "", ":memory:"):
                from sqlalchemy.pool import StaticPool

                kwargs["poolclass"] = StaticPool
            else:
                kwargs["pool_size"] = 8
                kwargs["max_overflow"] = 24
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = 2 * pool_size
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        #: the hot path's statements without SQLAlchemy's per-statement work (db/fastlane.py):
        #: the lean SQLite adapter on a plain database file only (no URI options)
        self._lane: fastlane.Lane | None = None
        if self.is_sqlite:
            _install_sqlite_pragmas(self.engine, int(busy_timeout_s * 1000))
            file = parsed.database
            plain_file = bool(file) and file != ":memory:" and not parsed.query
            if fast_lane and module is not None and file and plain_file:
                self._lane = fastlane.Lane(self.engine, str(Path(file).expanduser()))
        self._write = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        reader = (
            self.engine.execution_options(sqlite_begin="NONE") if self.is_sqlite else self.engine
        )
        self._read = async_sessionmaker(reader, expire_on_commit=False, autoflush=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed on success, rolled back on any exception.

        Nested use inside the same task joins the outer transaction.
        """
        outer = _current.get()
        if outer is not None:
            yield outer
            return
        if self._lane is not None:
            async with self._writer_turn(), self._lane_transaction(self._lane) as session:
                yield session
            return
        async with self._writer_turn(), self._write() as session:
            token = _current.set(session)
            try:
                async with session.begin():
                    yield session
            finally:
                _current.reset(token)

    @asynccontextmanager
    async def _lane_transaction(self, lane: fastlane.Lane) -> AsyncIterator[AsyncSession]:
        """:meth:`transaction` on SQLite with the fast lane: begun at once (``BEGIN
        IMMEDIATE``, inline when the write lock is free) so that the hot statements take the
        lane from the first, and ended (COMMIT or ROLLBACK, then close) in one step that runs
        to completion even if the task is cancelled meanwhile."""
        session = self._write()
        token = _current.set(session)
        connection: Any = None
        try:
            try:
                connection = await session.run_sync(_write_connection)
            except BaseException:
                await _end_session(session, None, commit=False)
                raise
            session.info[fastlane.WRITER] = (lane, connection)
            try:
                yield session
            except BaseException:
                await _end_session(session, connection, commit=False)
                raise
            await _end_session(session, connection, commit=True)
        finally:
            session.info.pop(fastlane.WRITER, None)
            _current.reset(token)

    @asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[None]:
        """On SQLite, one writer at a time per process, queued fairly in asyncio.

        SQLite allows one writer anyway. Without this, concurrent ``BEGIN IMMEDIATE`` calls
        wait in SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and turns
        a queue of short transactions into long stalls. Other processes still meet the busy
        timeout, which is what it is for.
        """
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session (inside a write transaction: that transaction's session)."""
        outer = _current.get()
        if outer is not None:
            yield outer
            return
        if self._lane is not None:
            # SQLite's reads run without BEGIN, each statement on its own snapshot, so ending
            # the session's transaction with COMMIT or ROLLBACK is the same; a session whose
            # reads all took the fast lane never had one, and is left as it is
            session = self._read()
            session.info[fastlane.READER] = self._lane
            try:
                yield session
            finally:
                if session.sync_session.in_transaction():
                    await session.close()
            return
        async with self._read() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        if self._lane is not None:
            self._lane.close()
        await self.engine.dispose()


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


def _install_sqlite_pragmas(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see the docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode == "NONE":
            return
        statement = f"BEGIN {mode}"
        if fastlane.watched(sync_engine):
            connection.exec_driver_sql(statement)  # where echo and listeners see it
            return
        # one statement without parameters or results: SQLAlchemy's execution adds nothing
        try:
            connection.connection.dbapi_connection.cursor().execute(statement)
        except Exception as error:
            raise exc.DBAPIError.instance(
                statement, None, error, sync_engine.dialect.loaded_dbapi.Error
            ) from error


# -- fewer trips to aiosqlite's thread ---------------------------------------------------------
#
# (1) Inline statements. A trip costs the event loop's thread more than the SQL: a queue put, a
# wake-up of the database thread, the GIL going back and forth, and a loop wake-up for the
# result. The hot path's few short statements (db/repositories.py) run inside
# :func:`inline_statements`, and there they run on the calling thread, without a trip, when
# that cannot wait for another connection's lock:
#
# * a SELECT outside a transaction (WAL mode: a reader never waits for a writer), or
# * any statement inside a transaction that began with ``BEGIN IMMEDIATE``/``EXCLUSIVE``: the
#   connection holds SQLite's write lock, so nothing it does waits for anyone.
#
# ``BEGIN IMMEDIATE`` runs inline only as an attempt with a busy timeout of 0: if another
# process's writer holds the lock, it goes to aiosqlite's thread and waits there (up to the
# busy timeout) as before. Every statement outside the block still goes to the thread, so a
# long report or a lock wait never stalls the loop. The COMMIT or ROLLBACK of a write
# transaction whose every statement ran inline runs inline too (it holds the write lock; in
# WAL mode a commit appends to the log and never waits). A connection's statements never run
# on two threads at once: inline only when no trip of that connection is queued or running.
#
# (2) One trip per statement.
#
# aiosqlite runs every sqlite3 call in its own thread; each call is a trip there and back
# (a queue put, a thread wake-up, a loop wake-up), and on a small machine those trips cost more
# CPU than the SQL. SQLAlchemy's stock adapter makes three or four per statement (create a
# cursor, execute, fetch, close) and one for every COMMIT/ROLLBACK, even when SQLite has no
# transaction open (a read without BEGIN, the pool's rollback after a commit). The adapter below
# makes ONE trip per statement and none for a COMMIT/ROLLBACK with no transaction open (sqlite3
# would do nothing then). Everything else (errors, server-side cursors, events, the SQL) is the
# stock adapter's. If SQLAlchemy or aiosqlite change the internals it builds on, the stock
# adapter is used instead.


def _takes_write_lock(operation: str) -> bool:
    """``BEGIN IMMEDIATE`` or ``BEGIN EXCLUSIVE``: SQLite's write lock is held once it ran."""
    return operation.strip().upper() in ("BEGIN IMMEDIATE", "BEGIN EXCLUSIVE")


_INLINE: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "urapolku_sqlite_inline", default=False
)


@contextmanager
def inline_statements() -> Iterator[None]:
    """Statements in this block may run on the calling thread (SQLite's lean adapter only; see
    above). For short statements of the hot path: a statement run inline holds the event loop
    for as long as it takes."""
    token = _INLINE.set(True)
    try:
        yield
    finally:
        _INLINE.reset(token)


def _run_in_thread(
    pending: set[object],
    token: object,
    connection: Any,
    operation: Any,
    parameters: Any,
    many: bool,
) -> tuple[Any, int, Any, list[Any]]:
    """In aiosqlite's thread: the whole life of one cursor."""
    try:
        return _cursor_life(connection, operation, parameters, many)
    finally:
        pending.discard(token)


def _cursor_life(
    connection: Any, operation: Any, parameters: Any, many: bool
) -> tuple[Any, int, Any, list[Any]]:
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class _OneTripCursor:
    """A DB-API cursor whose rows were all fetched in the one trip that executed it."""

    server_side = False
    __slots__ = ("_adapt", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt = adapt_connection
        self._rows: deque[Any] = deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: Any = None
        self.arraysize = 1

    def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        adapt = self._adapt
        try:
            inline = _INLINE.get()
            if inline and adapt._may_run_inline(operation):
                found = adapt._run_inline(operation, parameters, many)
            elif inline and adapt._begin_inline(operation):
                found = (None, -1, None, [])
            else:
                found = _await(adapt._one_trip(_run_in_thread, operation, parameters, many))
                adapt._after_trip(operation)
        except Exception as error:
            adapt._handle_exception(error)
        self.description, self.rowcount, self.lastrowid, rows = found
        self._rows = deque(rows)

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._run(operation, parameters, False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._run(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        """Nothing to close: the sqlite3 cursor was closed in its thread."""

    def close(self) -> None:
        self._rows.clear()

    def __enter__(self) -> _OneTripCursor:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def setinputsizes(self, *_: Any) -> None:
        return None

    def setoutputsize(self, *_: Any) -> None:
        return None


def _lean_aiosqlite_dbapi() -> Any:
    """SQLAlchemy's aiosqlite DB-API shim with :class:`_OneTripCursor` (None: keep the stock
    one, because the internals it builds on are not there)."""
    try:
        import sqlite3

        import aiosqlite
        from sqlalchemy.dialects.sqlite.aiosqlite import (
            AsyncAdapt_aiosqlite_connection,
            AsyncAdapt_aiosqlite_dbapi,
        )
    except ImportError:
        return None
    if not (
        hasattr(aiosqlite.Connection, "_execute")
        and hasattr(aiosqlite.Connection, "in_transaction")
        and hasattr(AsyncAdapt_aiosqlite_connection, "_handle_exception")
        and hasattr(AsyncAdapt_aiosqlite_connection, "_execute_mutex")
    ):
        return None

    class Connection(AsyncAdapt_aiosqlite_connection):
        #: trips queued and not yet finished in the thread (one whose task was cancelled
        #: meanwhile included): until they are done, SQLite's transaction state is not known
        __slots__ = ("_all_inline", "_busy_ms", "_pending", "_write_locked")

        def __init__(self, dbapi: Any, connection: Any) -> None:
            super().__init__(dbapi, connection)
            self._pending: set[object] = set()
            #: a BEGIN IMMEDIATE/EXCLUSIVE succeeded and its transaction is still open
            self._write_locked = False
            #: ... and every statement since ran inline (its COMMIT/ROLLBACK may too)
            self._all_inline = False
            #: the connection's busy timeout (read once, when first needed)
            self._busy_ms: int | None = None

        def _begin_inline(self, operation: str) -> bool:
            """BEGIN IMMEDIATE/EXCLUSIVE on this thread if SQLite's write lock is free right
            now (busy timeout 0 for the attempt); False if it was not tried or another
            process's writer holds the lock: then the caller waits for it in the thread."""
            if self._trip_under_way() or not _takes_write_lock(operation):
                return False
            connection = self._connection._conn
            if connection.in_transaction:
                return False
            if self._busy_ms is None:
                self._busy_ms = int(connection.execute("PRAGMA busy_timeout").fetchone()[0])
            connection.execute("PRAGMA busy_timeout=0")
            try:
                connection.execute(operation)
            except sqlite3.OperationalError as error:
                if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY:
                    return False
                raise
            finally:
                connection.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            self._write_locked = self._all_inline = True
            return True

        def run_now(self, operation: str, parameters: Any) -> int | None:
            """A write of the transaction holding SQLite's write lock, on this thread (see
            db/fastlane.py); the rows it touched, or None when that lock is not held or a trip
            of this connection is under way."""
            if not self._write_locked or self._trip_under_way():
                return None
            connection = self._connection._conn
            try:
                cursor = connection.execute(operation, parameters)
                rowcount = int(cursor.rowcount)
                cursor.close()
                return rowcount
            finally:
                if not connection.in_transaction:  # it ended (an error SQLite rolled back)
                    self._write_locked = self._all_inline = False

        def ends_inline(self) -> bool:
            """Whether a COMMIT or ROLLBACK now, and the pool's reset after it, would run
            on this thread, without waiting for anything."""
            if self._trip_under_way():
                return False
            return (self._write_locked and self._all_inline) or not self._in_transaction()

        def _trip_under_way(self) -> bool:
            """A trip of this connection is queued or running in aiosqlite's thread."""
            return bool(self._pending) or self._execute_mutex.locked()

        def _may_run_inline(self, operation: str) -> bool:
            if self._trip_under_way():
                return False
            if self._write_locked:
                return True
            try:
                in_transaction = self._connection._conn.in_transaction
            except Exception:  # closed: the stock way raises the right error
                return False
            return not in_transaction and operation.lstrip()[:6].upper() == "SELECT"

        def _run_inline(
            self, operation: Any, parameters: Any, many: bool
        ) -> tuple[Any, int, Any, list[Any]]:
            connection = self._connection._conn
            try:
                return _cursor_life(connection, operation, parameters, many)
            finally:
                if not connection.in_transaction:  # it ended (an error, a COMMIT)
                    self._write_locked = self._all_inline = False

        def _after_trip(self, operation: str) -> None:
            """Bookkeeping after a statement ran in the thread."""
            if _takes_write_lock(operation):
                self._write_locked = self._all_inline = True
                return
            self._all_inline = False
            if self._write_locked and not self._pending:
                self._write_locked = bool(self._connection._conn.in_transaction)

        def _end(self, statement: str, stock: Any) -> None:
            """COMMIT or ROLLBACK: on this thread if the whole transaction ran inline, else
            ``stock`` (a trip), and only if SQLite has a transaction open."""
            inline = self._write_locked and self._all_inline and not self._trip_under_way()
            self._write_locked = self._all_inline = False
            if inline:
                try:
                    self._connection._conn.execute(statement)
                except Exception as error:
                    self._handle_exception(error)
            elif self._in_transaction():
                stock()

        def cursor(self, server_side: bool = False) -> Any:
            if server_side:
                return super().cursor(server_side=True)
            return _OneTripCursor(self)

        async def _one_trip(self, fn: Any, *args: Any) -> Any:
            driver = self._connection
            async with self._execute_mutex:
                token = object()
                self._pending.add(token)
                # a token left behind by a trip that never reached the thread only makes
                # COMMIT/ROLLBACK take the stock (always correct) way
                return await driver._execute(fn, self._pending, token, driver._conn, *args)

        def _in_transaction(self) -> bool:
            """Whether SQLite has a transaction open, read without a trip; True when unsure (a
            trip still running, a closed connection), so that the real COMMIT/ROLLBACK is
            queued (after that trip) as the stock adapter would."""
            if self._pending:
                return True
            try:
                return bool(self._connection.in_transaction)
            except Exception:  # closed: let the stock code decide
                return True

        def commit(self) -> None:
            self._end("COMMIT", super().commit)

        def rollback(self) -> None:
            self._end("ROLLBACK", super().rollback)

    class DBAPI(AsyncAdapt_aiosqlite_dbapi):
        def connect(self, *arg: Any, **kw: Any) -> Any:
            stock = super().connect(*arg, **kw)
            return Connection(self, stock._connection)

    try:
        return DBAPI(aiosqlite, sqlite3)
    except Exception:
        return None
