"""SQLAlchemy's aiosqlite adapter, leaner: fewer trips to aiosqlite's thread.

:func:`lean_aiosqlite_dbapi` is the DB-API module to give ``create_async_engine`` (``module=``);
:func:`inline_statements` marks the hot path's short statements, which may then run on the
event loop's thread. Builds on private names of SQLAlchemy's aiosqlite adapter and of
aiosqlite (versions: :data:`db.sqlite.WRITTEN_FOR`); when they are missing, the stock adapter
is used.
"""

from __future__ import annotations

import contextvars
import sqlite3
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiosqlite

try:
    from sqlalchemy.util import await_ as _await
except ImportError:  # SQLAlchemy 2.0
    from sqlalchemy.util import await_only as _await

try:
    from sqlalchemy.dialects.sqlite.aiosqlite import (
        AsyncAdapt_aiosqlite_connection,
        AsyncAdapt_aiosqlite_dbapi,
    )
except ImportError:  # moved: lean_aiosqlite_dbapi() keeps the stock adapter
    _STOCK_ADAPTER_FOUND = False
else:
    _STOCK_ADAPTER_FOUND = True

# (1) Inline statements. A trip costs the event loop's thread more than the SQL: a queue put, a
# wake-up of the database thread, the GIL going back and forth, and a loop wake-up for the
# result. The hot path's few short statements (db/repositories/hotpath.py) run inside
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


def lean_aiosqlite_dbapi() -> Any:
    """SQLAlchemy's aiosqlite DB-API shim with :class:`_OneTripCursor` (None: keep the stock
    one, because the internals it builds on are not there)."""
    if not _STOCK_ADAPTER_FOUND:
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
            db/sqlite/fastlane.py); the rows it touched, or None when that lock is not held or a trip
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
