"""The database layer: SQLite under concurrent writers, migrations, repositories."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from db import Database
from db.migrate import current_revision, head_revision, upgrade
from db.models import Base
from db.repositories import AnswerRepository, PersonRepository, UpdateRepository


async def test_fifty_concurrent_writers_no_lock_errors(database: Database) -> None:
    db = database
    errors: list[BaseException] = []

    async def writer(n: int) -> None:
        try:
            for i in range(5):
                # read-then-write: exactly the pattern that fails under a deferred BEGIN
                async with db.transaction() as session:
                    person, _ = await PersonRepository(session).ensure(10_000 + n, "fi")
                    await AnswerRepository(session).save(person.id, "career_plan", f"k{i}", [n, i])
                    await UpdateRepository(session).mark(n * 100 + i)
        except Exception as exc:
            errors.append(exc)

    await asyncio.gather(*(writer(n) for n in range(50)))
    assert errors == []
    async with db.read() as session:
        assert await PersonRepository(session).count() == 50
        total = await session.scalar(text("select count(*) from answers"))
        assert total == 250
        if db.is_sqlite:
            assert await session.scalar(text("pragma journal_mode")) == "wal"


async def test_migrations_match_the_models(database: Database) -> None:
    db = database
    assert await current_revision(db) == head_revision()

    def diff(connection: object) -> list[object]:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)  # type: ignore[arg-type]

    async with db.engine.connect() as connection:
        assert await connection.run_sync(diff) == []
    await upgrade(db)  # idempotent


async def test_update_is_marked_once(database: Database) -> None:
    db = database
    async with db.transaction() as session:
        assert await UpdateRepository(session).mark(5)
        assert not await UpdateRepository(session).mark(5)
    async with db.read() as session:
        assert await UpdateRepository(session).is_processed(5)
        assert not await UpdateRepository(session).is_processed(6)


async def test_rolled_back_transaction_leaves_nothing(database: Database) -> None:
    db = database
    try:
        async with db.transaction() as session:
            await PersonRepository(session).ensure(1, "fi")
            raise RuntimeError("crash mid-turn")
    except RuntimeError:
        pass
    async with db.read() as session:
        assert await PersonRepository(session).count() == 0
