"""The fast lane (db/sqlite/fastlane.py): the hot path's statements on SQLite run on the DB-API
connection, store exactly what SQLAlchemy would store, read exactly what it would read, raise
SQLAlchemy's errors, and step aside whenever they must (pending ORM changes, no write lock,
listeners, a busy reader)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite.core
import pytest
from sqlalchemy import exc
from sqlalchemy.engine import Connection

from db import Database
from db import types as crypto
from db.migrate import upgrade
from db.models import Person
from db.repositories import (
    AnswerRepository,
    PersonRepository,
    StateRepository,
    UpdateRepository,
    hotpath,
)
from db.sqlite import fastlane
from tests.support import statements, while_another_writer_holds_the_lock

KEY = "1:77:77:0:default"
AT = datetime(2026, 11, 28, 12, 30, 15, 123456, tzinfo=UTC)


@contextmanager
def through_sqlalchemy() -> Iterator[list[str]]:
    """The statements SQLAlchemy executes meanwhile (without attaching a listener, which
    would close the lane)."""
    seen: list[str] = []
    original: Any = Connection._execute_context

    def counting(
        self: Any, dialect: Any, constructor: Any, statement: Any, *args: Any, **kw: Any
    ) -> Any:
        seen.append(" ".join(str(statement).split())[:40])
        return original(self, dialect, constructor, statement, *args, **kw)

    Connection._execute_context = counting  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        Connection._execute_context = original  # type: ignore[method-assign]


async def open_db(path: Path, *, fast_lane: bool = True) -> Database:
    db = Database(f"sqlite+aiosqlite:///{path}", fast_lane=fast_lane)
    await upgrade(db)
    return db


@pytest.fixture
async def fast(tmp_path: Path) -> Any:
    db = await open_db(tmp_path / "fast.sqlite3")
    yield db
    await db.dispose()


@pytest.fixture
async def ordinary(tmp_path: Path) -> Any:
    db = await open_db(tmp_path / "ordinary.sqlite3", fast_lane=False)
    yield db
    await db.dispose()


async def one_turn(db: Database) -> int:
    """The hot statements of a turn with every kind of value, as the bot writes them."""
    async with db.transaction() as session:
        person, _ = await PersonRepository(session).ensure(77, "fi", now=AT)
    async with db.transaction() as session:
        assert await UpdateRepository(session).mark(5, now=AT)
        answers = AnswerRepository(session)
        await answers.save(person.id, "plan", "situation", ["unemployed"], now=AT, plain=True)
        await answers.save(person.id, "plan", "wish", "oma yritys ✅", now=AT)
        await StateRepository(session).put(KEY, 77, state="Flow:in", data={"x": "ä"})
        await StateRepository(session).put(KEY, 77, data={"x": "ö", "n": 2})
    return person.id


def stored(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every hot table as SQLite holds it, below the column types; ciphertext decrypted
    (it is random, so only its plaintext can be compared)."""
    with sqlite3.connect(path) as connection:
        tables = {
            "processed_updates": "select update_id, processed_at from processed_updates",
            "answers": "select person_id, dialog, key, value, private_value, answered_at "
            "from answers order by key",
            "conversation_states": "select key, subject, state, data from conversation_states",
        }
        found = {name: list(connection.execute(sql)) for name, sql in tables.items()}
    for name, rows in found.items():
        found[name] = [
            tuple(
                crypto.decrypt(v) if isinstance(v, str) and v.startswith(crypto.TOKEN_PREFIX) else v
                for v in row
            )
            for row in rows
        ]
    return found


async def test_the_lane_stores_what_sqlalchemy_stores(
    fast: Database, ordinary: Database, tmp_path: Path
) -> None:
    with through_sqlalchemy() as seen:
        await one_turn(fast)
    # the person (ORM) went through SQLAlchemy, and each transaction's BEGIN; nothing else
    assert [s for s in seen if "BEGIN" not in s and "persons" not in s] == []
    await one_turn(ordinary)
    lane, plain = stored(tmp_path / "fast.sqlite3"), stored(tmp_path / "ordinary.sqlite3")
    assert lane == plain
    assert lane["processed_updates"] == [(5, "2026-11-28 12:30:15.123456")]
    assert lane["answers"][1][4] == '"oma yritys ✅"'  # encrypted at rest, decrypted above
    with sqlite3.connect(tmp_path / "fast.sqlite3") as connection:
        (secret,) = connection.execute("select data from conversation_states").fetchone()
    assert secret.startswith(crypto.TOKEN_PREFIX)


async def test_the_lane_reads_what_sqlalchemy_reads(fast: Database, ordinary: Database) -> None:
    for db in (fast, ordinary):
        await one_turn(db)
    found = []
    for db in (fast, ordinary):
        with through_sqlalchemy() as seen:
            async with db.read() as session:
                found.append(await UpdateRepository(session).context(5, 77, KEY))
        assert (seen == []) is (db is fast)
    lane, plain = found
    assert lane.processed
    assert lane.person is not None
    assert plain.person is not None
    assert lane.person.first_seen == AT
    assert lane.person.first_seen.tzinfo is UTC
    assert (
        (lane.processed, lane.state)
        == (plain.processed, plain.state)
        == (
            True,
            ("Flow:in", {"x": "ö", "n": 2}),
        )
    )
    assert lane.person == plain.person.__class__(**{**vars_of(plain.person), "id": lane.person.id})


def vars_of(info: Any) -> dict[str, Any]:
    return {name: getattr(info, name) for name in info.__slots__}


async def test_a_read_inside_a_transaction_sees_its_own_writes(fast: Database) -> None:
    async with fast.transaction() as session:
        await UpdateRepository(session).mark(9)
        async with fast.read() as inner:  # the transaction's session, not the lane's reader
            assert inner is session
            assert (await UpdateRepository(inner).context(9)).processed
    async with fast.read() as session:
        assert (await UpdateRepository(session).context(9)).processed


async def test_an_error_is_sqlalchemys_and_the_transaction_rolls_back(fast: Database) -> None:
    async def mark_and_save_for_nobody() -> None:
        async with fast.transaction() as session:
            assert await UpdateRepository(session).mark(21)
            # no such person: the answers' foreign key fails, in the lane
            await AnswerRepository(session).save(4242, "plan", "wish", "salainen", plain=False)

    with pytest.raises(exc.IntegrityError) as raised:
        await mark_and_save_for_nobody()
    assert "FOREIGN KEY" in str(raised.value)
    assert "salainen" not in str(raised.value)  # parameters hidden
    assert "hidden" in str(raised.value)
    async with fast.read() as session:
        assert not (await UpdateRepository(session).context(21)).processed
    async with fast.transaction() as session:  # the connection is fine afterwards
        assert await UpdateRepository(session).mark(21)


async def test_pending_orm_changes_send_the_statement_through_the_session(
    fast: Database,
) -> None:
    """With autoflush, SQLAlchemy would flush before the statement; so does the lane, by
    stepping aside."""
    async with fast.transaction() as session:
        session.add(Person(telegram_id=88, language="sv", first_seen=AT, last_seen=AT))
        with through_sqlalchemy() as seen:
            await StateRepository(session).put("1:88:88:0:default", 88, data={"a": 1})
            await UpdateRepository(session).mark(31)
    assert any("INSERT INTO persons" in s for s in seen)
    assert any("INSERT INTO conversation_states" in s for s in seen)
    assert not any("processed_updates" in s for s in seen)  # flushed: the lane again


async def test_a_write_outside_a_write_transaction_takes_the_ordinary_way(
    fast: Database,
) -> None:
    async with fast.read() as session:
        with through_sqlalchemy() as seen:
            assert await UpdateRepository(session).mark(41)
    assert seen
    assert "processed_updates" in seen[-1]
    async with fast.read() as session:
        assert (await UpdateRepository(session).context(41)).processed


async def test_listeners_see_every_statement(fast: Database) -> None:
    """SQL echo and cursor listeners (logging, tests, tracing) close the lane."""
    with statements(fast) as sql:
        async with fast.transaction() as session:
            await UpdateRepository(session).mark(51)
        async with fast.read() as session:
            await UpdateRepository(session).context(51, 77, KEY)
    assert [s.split(" (")[0] for s in sql] == [
        "BEGIN IMMEDIATE",
        "INSERT INTO processed_updates",
        "SELECT EXISTS",
    ]


async def test_a_busy_reader_hands_the_read_to_the_session(
    fast: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Busy:
        def execute(self, *_: Any) -> Any:
            error = sqlite3.OperationalError("database is locked")
            error.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
            raise error

    lane = fast._lane
    assert lane is not None
    monkeypatch.setattr(lane, "reader", lambda: Busy())
    with through_sqlalchemy() as seen:
        async with fast.read() as session:
            found = await UpdateRepository(session).context(61, 77, KEY)
    assert not found.processed
    assert seen
    assert seen[0].startswith("SELECT EXISTS")


async def test_the_reader_only_reads_and_is_closed_with_the_database(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "r.sqlite3")
    async with db.read() as session:
        await UpdateRepository(session).context(1)
    lane = db._lane
    assert lane is not None
    reader = lane.reader()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("insert into processed_updates values (1, '2026-01-01')")
    await db.dispose()
    with pytest.raises(sqlite3.ProgrammingError):
        reader.execute("select 1")


def test_no_lane_in_memory_or_on_postgresql(tmp_path: Path) -> None:
    assert Database("sqlite+aiosqlite:///:memory:")._lane is None
    assert Database("postgresql+asyncpg://u@127.0.0.1/x")._lane is None
    assert Database(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")._lane is not None
    assert fastlane.WRITER != fastlane.READER


# -- the lane's transaction: begun at once, ended in one step that is never abandoned ----------


def checked_out(db: Database) -> int:
    return int(db.engine.sync_engine.pool.checkedout())  # type: ignore[attr-defined]


async def test_a_failure_inside_rolls_back_and_returns_the_connection(fast: Database) -> None:
    async def fail_after_marking() -> None:
        async with fast.transaction() as session:
            assert await UpdateRepository(session).mark(71)
            raise LookupError("the turn failed")

    with pytest.raises(LookupError):
        await fail_after_marking()
    assert checked_out(fast) == 0
    async with fast.read() as session:
        assert not (await UpdateRepository(session).context(71)).processed


async def test_with_another_writer_the_lane_waits_off_the_loop_then_commits(
    tmp_path: Path,
) -> None:
    """Another process holds SQLite's write lock: the BEGIN waits in aiosqlite's thread (the
    loop goes on), and the transaction then commits, the lane's statements included."""
    db = await open_db(tmp_path / "busy.sqlite3")
    async with db.transaction() as session:
        await UpdateRepository(session).mark(1)

    async def turn() -> None:
        async with db.transaction() as session:
            assert await UpdateRepository(session).mark(2)
            await StateRepository(session).put(KEY, 77, data={"b": 2})

    ticks = await while_another_writer_holds_the_lock(tmp_path / "busy.sqlite3", turn)
    assert ticks == 20
    assert checked_out(db) == 0
    async with db.read() as session:
        found = await UpdateRepository(session).context(2, state_key=KEY)
    assert (found.processed, found.state) == (True, (None, {"b": 2}))
    await db.dispose()


async def test_a_begin_that_times_out_is_sqlalchemys_error_and_leaks_nothing(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'locked.sqlite3'}", busy_timeout_s=0.2)
    await upgrade(db)
    other = sqlite3.connect(tmp_path / "locked.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def turn() -> None:
        async with db.transaction() as session:
            await UpdateRepository(session).mark(3)

    try:
        with pytest.raises(exc.OperationalError, match="locked"):
            await turn()
    finally:
        other.close()
    assert checked_out(db) == 0
    await turn()  # and the next one works
    await db.dispose()


async def test_a_cancelled_turn_still_ends_its_transaction(
    fast: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The COMMIT goes to aiosqlite's thread (a statement of the transaction did), and the task
    is cancelled while it waits: the COMMIT and the close finish anyway, then the task ends
    cancelled, with no connection left out of the pool."""
    entered = asyncio.Event()
    original = aiosqlite.core.Connection._execute

    async def slow_execute(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(fn, "__name__", "") == "commit":
            entered.set()
            await asyncio.sleep(0.2)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", slow_execute)

    async def turn() -> None:
        async with fast.transaction() as session:
            assert await UpdateRepository(session).mark(81)
            await PersonRepository(session).ensure(81, "fi")  # ORM: in the thread

    task = asyncio.create_task(turn())
    await asyncio.wait_for(entered.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert checked_out(fast) == 0
    async with fast.read() as session:
        assert (await UpdateRepository(session).context(81)).processed  # it was committed


async def test_a_column_default_computed_in_python_takes_the_ordinary_way(
    fast: Database,
) -> None:
    """The mark without its time: ``processed_at`` gets SQLAlchemy's per-execution default
    (now), which only SQLAlchemy's execution computes; the lane must not store a constant."""
    before = datetime.now(UTC)
    async with fast.transaction() as session:
        statement = hotpath.hot(session, "mark", hotpath.mark_statement)
        with through_sqlalchemy() as seen:
            assert await hotpath.write(session, statement, {"update_id": 91}) == 1
    assert seen == ["INSERT INTO processed_updates (update_id"]
    with sqlite3.connect(fast._lane.path if fast._lane else "") as connection:
        (stamp,) = connection.execute(
            "select processed_at from processed_updates where update_id = 91"
        ).fetchone()
    assert datetime.fromisoformat(stamp).replace(tzinfo=UTC) >= before.replace(microsecond=0)
