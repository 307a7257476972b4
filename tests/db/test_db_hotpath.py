"""The hot path's statements (built once per dialect, run on the session's connection) and the
one-trip aiosqlite adapter (db/sqlite/adapter.py): same results as before on SQLite and PostgreSQL,
ciphertext at rest, autoflush kept, and one trip to aiosqlite's thread per statement."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite.core
import pytest
from sqlalchemy import exc, select, text

from db import Database
from db import types as crypto
from db.migrate import upgrade
from db.models import Event, Person, ProcessedUpdate
from db.repositories import (
    AnswerRepository,
    PersonRepository,
    StateRepository,
    UpdateRepository,
)
from tests.support import statements, while_another_writer_holds_the_lock

KEY = "1:77:77:0:default"
AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


async def raw_rows(db: Database, query: str) -> list[tuple[Any, ...]]:
    """Rows as stored, below the column types (no decryption)."""
    async with db.engine.connect() as connection:
        return [tuple(row) for row in await connection.exec_driver_sql(query)]


async def test_mark_is_true_once_then_false_and_keeps_its_time(database: Database) -> None:
    db = database
    async with db.transaction() as session:
        assert await UpdateRepository(session).mark(11, now=AT) is True
        assert await UpdateRepository(session).mark(11) is False
    async with db.transaction() as session:
        assert await UpdateRepository(session).mark(11) is False
        assert await UpdateRepository(session).mark(12) is True
    async with db.read() as session:
        rows = await session.execute(
            select(ProcessedUpdate.update_id, ProcessedUpdate.processed_at)
        )
        stamps = dict(list(rows))
    assert set(stamps) == {11, 12}
    assert stamps[11] == AT


async def test_context_in_each_shape(database: Database) -> None:
    db = database
    async with db.read() as session:
        repo = UpdateRepository(session)
        assert await repo.context(1) == await repo.context(1, None, None)
        nothing = await repo.context(1, 77, KEY)
    assert (nothing.processed, nothing.person, nothing.state) == (False, None, None)
    async with db.transaction() as session:
        person, _ = await PersonRepository(session).ensure(77, "en", now=AT)
        person = dataclasses.replace(person, open_request=False)  # the context also says this
        await StateRepository(session).put(KEY, 77, state="Flow:in", data={"x": "ä"})
        await UpdateRepository(session).mark(1)
    async with db.read() as session:
        repo = UpdateRepository(session)
        both = await repo.context(1, 77, KEY)
        person_only = await repo.context(2, 77)
        state_only = await repo.context(1, state_key=KEY)
        other_person = await repo.context(2, 78, "1:78:78:0:default")
    assert (both.processed, both.person, both.state) == (True, person, ("Flow:in", {"x": "ä"}))
    assert both.person is not None
    assert both.person.first_seen == AT
    assert (person_only.processed, person_only.person, person_only.state) == (False, person, None)
    assert (state_only.processed, state_only.person, state_only.state) == (
        True,
        None,
        ("Flow:in", {"x": "ä"}),
    )
    assert (other_person.person, other_person.state) == (None, None)


async def test_answers_plain_private_replaced_and_deleted(database: Database) -> None:
    db = database
    async with db.transaction() as session:
        person, _ = await PersonRepository(session).ensure(77, "fi")
        answers = AnswerRepository(session)
        await answers.save(person.id, "career_plan", "situation", ["unemployed"], plain=True)
        await answers.save(person.id, "career_plan", "wish", "oma yritys", now=AT)
        await answers.save(person.id, "career_plan", "gone", "x")
        await answers.save(person.id, "career_plan", "gone", None)
        await answers.save(person.id, "career_plan", "never", None)
    async with db.read() as session:
        assert await AnswerRepository(session).for_person(person.id) == {
            "situation": ["unemployed"],
            "wish": "oma yritys",
        }
    stored = {
        key: (value, secret, dialog)
        for key, value, secret, dialog in await raw_rows(
            db, "select key, value, private_value, dialog from answers"
        )
    }
    assert set(stored) == {"situation", "wish"}
    assert stored["situation"] == ('["unemployed"]', None, "career_plan")
    value, secret, _ = stored["wish"]
    assert value is None
    assert secret.startswith(crypto.TOKEN_PREFIX)
    assert "oma" not in secret
    assert crypto.decrypt(secret) == '"oma yritys"'

    # the same key again: the row is updated in place, into the other column when the kind
    # changes, with the new dialog and time
    async with db.transaction() as session:
        answers = AnswerRepository(session)
        await answers.save(person.id, "other", "wish", ["own_company"], now=AT, plain=True)
        await answers.save(person.id, "other", "situation", "kirjoitin itse")
    stored = {
        key: (value, secret, dialog)
        for key, value, secret, dialog in await raw_rows(
            db, "select key, value, private_value, dialog from answers"
        )
    }
    assert stored["wish"] == ('["own_company"]', None, "other")
    value, secret, dialog = stored["situation"]
    assert (value, dialog) == (None, "other")
    assert crypto.decrypt(secret) == '"kirjoitin itse"'
    assert len(await raw_rows(db, "select id from answers")) == 2


async def test_state_put_leaves_the_part_not_given(database: Database) -> None:
    db = database

    async def row() -> tuple[Any, ...]:
        (found,) = await raw_rows(db, "select key, subject, state, data from conversation_states")
        return found

    async with db.transaction() as session:
        await StateRepository(session).put(KEY, 77, state="A")
    key, subject, state, data = await row()
    assert (key, subject, state) == (KEY, 77, "A")
    assert data.startswith(crypto.TOKEN_PREFIX)
    assert crypto.decrypt(data) == "{}"

    async with db.transaction() as session:
        await StateRepository(session).put(KEY, 99, data={"answers": {"q": "salainen"}})
    key, subject, state, data = await row()
    assert (subject, state) == (77, "A")  # the subject is set once; the state kept
    assert data.startswith(crypto.TOKEN_PREFIX)
    assert "salainen" not in data
    assert json.loads(crypto.decrypt(data)) == {"answers": {"q": "salainen"}}

    async with db.transaction() as session:
        await StateRepository(session).put(KEY, 77, state=None)
        await StateRepository(session).put(KEY, 77)  # touches updated_at only
    async with db.read() as session:
        assert await StateRepository(session).get(KEY) == (None, {"answers": {"q": "salainen"}})

    async with db.transaction() as session:
        await StateRepository(session).put(KEY, 77, state="B", data={})
        await StateRepository(session).put("other", None, data={"n": 1})
    async with db.read() as session:
        assert await StateRepository(session).get(KEY) == ("B", {})
        assert await StateRepository(session).get("other") == (None, {"n": 1})


async def test_pending_orm_changes_are_flushed_before_a_hot_statement(database: Database) -> None:
    """As ``session.execute`` did: an update added through the ORM counts as marked."""
    db = database
    async with db.transaction() as session:
        session.add(ProcessedUpdate(update_id=31, processed_at=AT))
        assert await UpdateRepository(session).mark(31) is False
        session.add(Person(telegram_id=31, language="fi", first_seen=AT, last_seen=AT))
        found = await UpdateRepository(session).context(31, 31)
    assert found.processed
    assert found.person is not None
    assert found.person.telegram_id == 31


async def test_a_failed_hot_statement_rolls_back_the_transaction(database: Database) -> None:
    db = database

    async def turn() -> None:
        async with db.transaction() as session:
            assert await UpdateRepository(session).mark(41)
            await AnswerRepository(session).save(10_000, "d", "k", ["x"], plain=True)  # no person

    with pytest.raises(exc.IntegrityError):
        await turn()
    async with db.read() as session:
        assert not await UpdateRepository(session).is_processed(41)


# -- the one-trip aiosqlite adapter -------------------------------------------------------------


@contextmanager
def trips() -> Iterator[list[str]]:
    """The calls made in aiosqlite's thread meanwhile."""
    seen: list[str] = []
    original: Any = aiosqlite.core.Connection._execute

    async def counting(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    aiosqlite.core.Connection._execute = counting  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        aiosqlite.core.Connection._execute = original  # type: ignore[method-assign]


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> Any:
    """SQLite with every statement through SQLAlchemy: these tests are about the adapter
    underneath (the fast lane above it: tests/db/test_fastlane.py)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'hot.sqlite3'}", fast_lane=False)
    await upgrade(db)
    yield db
    await db.dispose()


async def test_the_hot_path_makes_no_trip_while_no_other_process_writes(
    sqlite_db: Database,
) -> None:
    """The hot read and the whole write transaction run on the loop's thread."""
    db = sqlite_db
    async with db.transaction() as session:
        await PersonRepository(session).ensure(77, "fi")
    async with db.read() as session:  # the pool's connection is open: no connect below
        await UpdateRepository(session).context(1, 77, KEY)
    with trips() as seen:
        async with db.read() as session:
            found = await UpdateRepository(session).context(1, 77, KEY)
    assert found.person is not None
    assert seen == []  # the SELECT ran inline; the read's COMMIT had nothing to commit
    with trips() as seen, statements(db) as sql:
        async with db.transaction() as session:
            await UpdateRepository(session).mark(1)
            await StateRepository(session).put(KEY, 77, data={"a": 1})
    assert sql[0] == "BEGIN IMMEDIATE"
    assert len(sql) == 3
    # BEGIN IMMEDIATE, the two statements and the COMMIT inline; no rollback when the
    # connection goes back to the pool
    assert seen == []
    async with db.read() as session:
        after = await UpdateRepository(session).context(1, 77, KEY)
    assert after.processed
    assert after.state == (None, {"a": 1})


async def test_other_statements_keep_one_trip_each(sqlite_db: Database) -> None:
    """Outside the hot path (an ORM query, a report) every statement still runs in the thread,
    and a transaction that had one such statement commits there too."""
    db = sqlite_db
    with trips() as seen:
        async with db.read() as session:
            await PersonRepository(session).by_telegram_id(77)
    assert seen == ["_run_in_thread"]
    with trips() as seen:
        async with db.transaction() as session:
            await UpdateRepository(session).mark(2)  # BEGIN and the INSERT inline
            await PersonRepository(session).ensure(77, "fi")  # two ORM statements
    assert seen == ["_run_in_thread"] * 2 + ["commit"]


async def test_a_hot_write_without_the_write_lock_goes_to_the_thread(
    sqlite_db: Database,
) -> None:
    """A write that might wait for SQLite's lock never runs inline, even on the hot path."""
    async with sqlite_db.read() as session:
        with trips() as seen:
            assert await UpdateRepository(session).mark(3)
    assert seen == ["_run_in_thread"]


async def test_an_inline_statement_waits_for_a_trip_still_running(sqlite_db: Database) -> None:
    """A connection is never used by two threads at once: with a trip of its own pending,
    a hot statement takes the thread too (queued behind it)."""
    async with sqlite_db.read() as session:
        await UpdateRepository(session).context(4)
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        adapted: Any = raw.dbapi_connection
        adapted._pending.add(object())
        try:
            with trips() as seen:
                await UpdateRepository(session).context(4)
        finally:
            adapted._pending.clear()
    assert seen == ["_run_in_thread"]


async def test_an_error_inline_ends_like_one_in_the_thread(sqlite_db: Database) -> None:
    """A failing inline statement raises SQLAlchemy's error and its ROLLBACK leaves nothing
    behind; the connection is usable (inline again) afterwards."""
    db = sqlite_db

    async def failing_turn() -> None:
        async with db.transaction() as session:
            assert await UpdateRepository(session).mark(5)
            await AnswerRepository(session).save(10_000, "d", "k", ["x"], plain=True)

    with trips() as seen, pytest.raises(exc.IntegrityError):
        await failing_turn()
    assert seen == []  # BEGIN, the failed INSERT and the ROLLBACK inline
    with trips() as seen:
        async with db.transaction() as session:
            assert await UpdateRepository(session).mark(5)
    assert seen == []
    async with db.read() as session:
        assert await UpdateRepository(session).is_processed(5)


async def test_the_adapter_keeps_rowcount_lastrowid_executemany_and_errors(
    sqlite_db: Database,
) -> None:
    db = sqlite_db
    async with db.transaction() as session:
        session.add_all([Event(name="hot", dims={"n": n}, at=AT) for n in range(3)])
        await session.flush()
        ids = list(await session.scalars(select(Event.id).order_by(Event.id)))
        one = Event(name="single", dims={}, at=AT)
        session.add(one)
        await session.flush()
        result = await session.execute(
            text("update stat_events set name = 'hot2' where name = 'hot'")
        )
        assert result.rowcount == 3  # type: ignore[attr-defined]
        await session.execute(
            text("insert into processed_updates (update_id, processed_at) values (:u, :t)"),
            [{"u": n, "t": "2026-11-28 12:00:00"} for n in (1, 2, 3)],
        )
    assert len(ids) == 3
    assert one.id == max(ids) + 1
    async with db.read() as session:
        assert await session.scalar(text("select count(*) from processed_updates")) == 3
    with pytest.raises(exc.IntegrityError):
        async with db.transaction() as session:
            await session.execute(
                text("insert into processed_updates (update_id, processed_at) values (1, 'x')")
            )
    with pytest.raises(exc.OperationalError):
        async with db.read() as session:
            await session.execute(text("select nothing from nowhere"))
    async with db.engine.connect() as connection:  # a streamed (server-side) result still works
        stream = await connection.stream(text("select update_id from processed_updates"))
        assert sorted([row[0] async for row in stream]) == [1, 2, 3]


def test_the_engine_uses_the_one_trip_adapter(sqlite_db: Database) -> None:
    assert type(sqlite_db.engine.dialect.loaded_dbapi).__name__ == "DBAPI"


async def test_an_unfinished_trip_makes_commit_and_rollback_take_their_trip(
    sqlite_db: Database,
) -> None:
    """A trip whose task was cancelled may still be running in the thread (a BEGIN, say): the
    adapter cannot know SQLite's transaction state then, and queues the real ROLLBACK behind
    it as the stock adapter does."""
    async with sqlite_db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        adapted: Any = raw.dbapi_connection

        def end(_sync: Any) -> None:
            adapted.rollback()
            adapted.commit()

        with trips() as seen:
            await connection.run_sync(end)
        assert seen == []  # no transaction open: nothing to do
        adapted._pending.add(object())
        try:
            with trips() as seen:
                await connection.run_sync(end)
        finally:
            adapted._pending.clear()
        assert seen == ["rollback", "commit"]


async def test_with_another_writer_the_begin_waits_in_the_thread_not_on_the_loop(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Another process's writer holds SQLite's lock: the hot transaction's BEGIN IMMEDIATE
    waits for it in aiosqlite's thread (the busy timeout applies), the event loop goes on
    meanwhile, and the transaction commits once the lock is free."""
    db = sqlite_db
    async with db.transaction() as session:  # the connection exists and is back in the pool
        await UpdateRepository(session).mark(6)

    async def turn() -> None:
        async with db.transaction() as session:
            assert await UpdateRepository(session).mark(7)

    with trips() as seen:
        ticks = await while_another_writer_holds_the_lock(tmp_path / "hot.sqlite3", turn)
    assert ticks == 20
    assert seen[0] == "_run_in_thread"  # the BEGIN, after its inline attempt found the lock
    async with db.read() as session:
        assert await UpdateRepository(session).is_processed(7)
    async with db.engine.connect() as connection:  # the pool's one connection
        busy = await connection.exec_driver_sql("PRAGMA busy_timeout")
        assert busy.scalar() == 15_000  # back from the attempt's 0
