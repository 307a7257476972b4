"""The bot's own bookkeeping kept small: a daily job forgets what can no longer be needed.

* **Handled-update marks** (``processed_updates``, written with every update's effects so that
  a re-delivered update is skipped): Telegram keeps an unconfirmed update for at most 24 hours,
  so a mark older than :data:`MARKS_KEPT` can never skip anything. Without this the table
  grows by one row per update for ever.
* **Dead letters** (updates set aside, ``/status``): they hold the chat an update came from,
  so they are kept no longer than people's own data (``RETENTION_DAYS``).

Marks go in batches of :data:`BATCH`, one transaction each, so the first run after a long
time does not hold SQLite's write lock for seconds.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from aiogram import Bot

from bot.app import App
from bot.runtime.scheduler import Scheduler
from db.repositories import DeadLetterRepository, UpdateRepository

log = logging.getLogger(__name__)

#: the name of the daily job
PRUNE_JOB = "bookkeeping.prune"
PRUNE_EVERY = 24 * 3600.0
#: handled-update marks are kept this long (Telegram re-delivers for at most 24 hours)
MARKS_KEPT = timedelta(days=2)
#: marks removed per transaction
BATCH = 5_000


async def prune(app: App, bot: Bot | None = None, *, batch: int = BATCH) -> int:
    """Forget old handled-update marks and dead letters; returns how many rows went."""
    now = app.clock()
    marks = 0
    while True:
        async with app.db.transaction() as session:
            removed = await UpdateRepository(session).prune(MARKS_KEPT, now=now, limit=batch)
        marks += removed
        if removed < batch:
            break
    async with app.db.transaction() as session:
        letters = await DeadLetterRepository(session).prune(
            now - timedelta(days=app.settings.retention_days)
        )
    if marks or letters:
        log.info("bookkeeping: forgot %d handled-update marks and %d dead letters", marks, letters)
    return marks + letters


def register(scheduler: Scheduler) -> None:
    """The daily job (it also runs once when the bot starts)."""
    scheduler.every(PRUNE_EVERY, PRUNE_JOB, prune)
