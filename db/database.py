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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

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
    def __init__(self, url: str, *, echo: bool = False, busy_timeout_s: float = 15.0) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        # parameters are people's data: never in exception messages or logs
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            ensure_sqlite_folder(self.url)
            kwargs["connect_args"] = {"timeout": busy_timeout_s}
            if parsed.database in (None, "", ":memory:"):
                from sqlalchemy.pool import StaticPool

                kwargs["poolclass"] = StaticPool
            else:
                kwargs["pool_size"] = 8
                kwargs["max_overflow"] = 24
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _install_sqlite_pragmas(self.engine, int(busy_timeout_s * 1000))
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
        async with self._writer_turn(), self._write() as session:
            token = _current.set(session)
            try:
                async with session.begin():
                    yield session
            finally:
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
        async with self._read() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


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

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode != "NONE":
            connection.exec_driver_sql(f"BEGIN {mode}")
