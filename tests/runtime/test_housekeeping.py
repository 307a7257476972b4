"""The daily bookkeeping job (bot/runtime/housekeeping.py): handled-update marks older than two
days and dead letters older than the retention time go; newer ones stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.factory import build_scheduler, create_bot
from bot.features import build_registry
from bot.runtime.housekeeping import PRUNE_JOB, prune
from bot.telegram.offline import OfflineSession
from db import Database
from db.models import DeadLetter, ProcessedUpdate
from db.repositories import DeadLetterRepository, UpdateRepository
from tests.support import TEST_TOKEN, Clock, app_on, make_settings

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


async def seed(database: Database) -> None:
    async with database.transaction() as session:
        updates = UpdateRepository(session)
        for update_id, age in [(1, 30), (2, 3), (3, 2.01), (4, 1.99), (5, 0)]:
            await updates.mark(update_id, now=NOW - timedelta(days=age))
        letters = DeadLetterRepository(session)
        for update_id, age in [(11, 200), (12, 179), (13, 1)]:
            await letters.record(
                update_id, chat_id=1001, stage="handle", error="E", now=NOW - timedelta(days=age)
            )


async def kept(database: Database) -> tuple[list[int], list[int | None]]:
    async with database.read() as session:
        marks = await session.scalars(select(ProcessedUpdate.update_id).order_by("update_id"))
        letters = await session.scalars(select(DeadLetter.update_id).order_by(DeadLetter.id))
        return list(marks), list(letters)


async def test_old_marks_and_dead_letters_go_in_the_daily_job(
    database: Database, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, bundled=True, database_url=database.url, retention_days=180)
    app = app_on(settings, database, build_registry())
    app.clock = Clock(NOW)
    await seed(database)
    bot = create_bot(settings, session=OfflineSession(), token=TEST_TOKEN)
    scheduler = build_scheduler(app, bot)
    [job] = [j for j in scheduler.jobs if j.name == PRUNE_JOB]
    assert job.every == 24 * 3600
    assert await scheduler.run_once(PRUNE_JOB) == 3 + 1
    assert await kept(database) == ([4, 5], [12, 13])
    assert await prune(app) == 0  # nothing left to do


async def test_marks_go_in_batches(database: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, bundled=True, database_url=database.url)
    app = app_on(settings, database, build_registry())
    app.clock = Clock(NOW)
    async with database.transaction() as session:
        updates = UpdateRepository(session)
        for update_id in range(1, 12):
            await updates.mark(update_id, now=NOW - timedelta(days=3, minutes=update_id))
        await updates.mark(99, now=NOW)
    assert await prune(app, batch=4) == 11  # three transactions of 4, 4 and 3
    async with database.read() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 1
