"""The database: engine, sessions and transactions (:class:`Database`).

Code that needs a transaction writes ``async with db.transaction() as session:``; the session
is also published as :func:`current_session` so that a collaborator deep inside the same unit
of work (the conversation storage) joins the same transaction instead of opening its own.
Read-only work uses ``async with db.read() as session:``.

SQLite is the default; on SQLite, write transactions begin with ``BEGIN IMMEDIATE`` and take
turns within the process, and reads run without a transaction (:mod:`db.sqlite.connection`),
and the hot path's statements may take the fast lane (:mod:`db.sqlite.fastlane`).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from .sqlite import adapter, connection, fastlane

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
        (:mod:`db.sqlite.fastlane`); False runs every statement through SQLAlchemy.
        ``pool_size``: the connections a PostgreSQL pool keeps open; up to twice as many more
        are opened under load (SQLite's pool is fixed: its connections are files, not server
        processes)."""
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        # parameters are people's data: never in exception messages or logs
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            ensure_sqlite_folder(self.url)
            kwargs["connect_args"] = {"timeout": busy_timeout_s}
            aiosqlite_driver = parsed.get_driver_name() == "aiosqlite"
            module = adapter.lean_aiosqlite_dbapi() if aiosqlite_driver else None
            if module is not None:
                kwargs["module"] = module
                # the lean adapter runs some statements on the event loop's thread;
                # it never lets two threads use a connection at once
                kwargs["connect_args"]["check_same_thread"] = False
            if parsed.database in (None, "", ":memory:"):
                kwargs["poolclass"] = StaticPool
            else:
                kwargs["pool_size"] = 8
                kwargs["max_overflow"] = 24
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = 2 * pool_size
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        #: the hot path's statements without SQLAlchemy's per-statement work (fastlane):
        #: the lean SQLite adapter on a plain database file only (no URI options)
        self._lane: fastlane.Lane | None = None
        if self.is_sqlite:
            connection.install(self.engine, int(busy_timeout_s * 1000))
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
            async with self._writer_turn():
                session = self._write()
                token = _current.set(session)
                try:
                    async with fastlane.writing(session, self._lane):
                        yield session
                finally:
                    _current.reset(token)
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
        if self._lane is not None:
            session = self._read()
            async with fastlane.reading(session, self._lane):
                yield session
            return
        async with self._read() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        if self._lane is not None:
            self._lane.close()
        await self.engine.dispose()
