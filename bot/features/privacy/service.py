"""The rules of the person's own data: erasing one person (on request or after the retention
time), withdrawing consent, and the retention purge. Works inside the caller's transaction
through :class:`~db.repositories.privacy.PrivacyRepository`; talks to nobody.

A conversation state kept outside the database (Redis, with ``REDIS_URL``) is cleared through
the aiogram storage API: :func:`clear_state`. The person's messages in the coach chat (cards,
relayed messages, forum topics) are removed afterwards by the handoff outbox: erasing queues
one ``scrub`` row per request in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiogram.fsm.storage.base import BaseStorage, StorageKey
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.features.events import api as events
from bot.features.handoff import api as handoff
from bot.runtime.scheduler import Scheduler
from bot.telegram.handlers.errors import where
from db.repositories import (
    ErasureCounts,
    HandoffRepository,
    PrivacyRepository,
    StatsRepository,
    Subject,
)

log = logging.getLogger(__name__)

#: the name of the daily retention job
PURGE_JOB = "privacy.purge"
PURGE_EVERY = 24 * 3600.0
#: people erased per transaction in a purge (keeps SQLite's write lock short)
PURGE_BATCH = 50

StateClearer = Callable[[int], Awaitable[None]]


async def erase_person(
    session: AsyncSession, app: App, subject: Subject, *, now: datetime, reason: str
) -> ErasureCounts:
    """Remove everything that identifies the person (see :meth:`PrivacyRepository.erase`);
    one anonymous counter records that it happened (``reason``: ``request`` or ``retention``).
    """
    # seats are given up first, so a freed seat goes to the next in line
    promoted = await events.release_seats(session, app, subject.person_id, now=now)
    in_coach_chat = await HandoffRepository(session).in_coach_chat_of_person(subject.person_id)
    counts = await PrivacyRepository(session).erase(subject, now=now)
    # queued after the erasure, which skips the request's rows
    await handoff.queue_scrubs(session, in_coach_chat, now=now)
    await StatsRepository(session).record("data_erased", {"reason": reason}, at=now)
    if promoted:
        events.wake_notices(app)
    if in_coach_chat:
        handoff.kick(app)
    return counts


def storage_key(bot_id: int, telegram_id: int) -> StorageKey:
    """The key of a person's private-chat conversation (chat id = user id)."""
    return StorageKey(bot_id=bot_id, chat_id=telegram_id, user_id=telegram_id)


async def clear_state(storage: BaseStorage, key: StorageKey) -> None:
    """Forget a conversation through the storage API (RedisStorage deletes the keys).

    With the database storage this writes an empty row, which the erasure in the same
    transaction then deletes.
    """
    await storage.set_state(key, None)
    await storage.set_data(key, {})


@dataclass(slots=True)
class PurgeReport:
    people: int = 0
    counts: ErasureCounts = field(default_factory=ErasureCounts)
    relay_texts: int = 0
    dry_run: bool = False


class _DryRunError(Exception):
    """Rolls back a dry run's transaction."""


async def purge(
    app: App, *, dry_run: bool = False, clear: StateClearer | None = None
) -> PurgeReport:
    """Remove people not seen for ``RETENTION_DAYS`` and the relayed texts of requests closed
    more than ``RELAY_RETENTION_DAYS`` ago.

    A dry run does the same work in one transaction and rolls it back: its counts are exactly
    what a real run would remove now.
    """
    settings = app.settings
    now = app.clock()
    seen_before = now - timedelta(days=settings.retention_days)
    closed_before = now - timedelta(days=settings.relay_retention_days)
    report = PurgeReport(dry_run=dry_run)
    if dry_run:
        try:
            async with app.db.transaction() as session:
                await _purge_in(session, app, report, seen_before, closed_before, now)
                raise _DryRunError
        except _DryRunError:
            pass
        return report
    #: people whose erasure failed in this run (tried again in the next one)
    failed: set[int] = set()
    while True:
        async with app.db.read() as session:
            waiting = await PrivacyRepository(session).inactive(seen_before, now=now)
        batch = [s for s in waiting if s.person_id not in failed][:PURGE_BATCH]
        try:
            erased = await _erase(app, batch, now)
        except Exception:
            # One person's erasure fails (any exception type): the others still go, one by
            # one; that person is logged with their id and tried again in the next run.
            erased = []
            for subject in batch:
                try:
                    erased += await _erase(app, [subject], now)
                except Exception as exc:
                    failed.add(subject.person_id)
                    log.error(
                        "retention: person %s could not be erased: %s at %s",
                        subject.person_id,
                        type(exc).__name__,
                        where(exc),
                    )
        for subject, counts in erased:
            report.counts += counts
            report.people += 1
            if clear is not None:
                await clear(subject.telegram_id)
        if len(batch) < PURGE_BATCH:
            break
    async with app.db.transaction() as session:
        report.relay_texts = await PrivacyRepository(session).forget_relay_texts(closed_before)
    if report.people or report.relay_texts:
        log.info(
            "retention: removed %d inactive people and %d old relayed texts",
            report.people,
            report.relay_texts,
        )
    return report


async def _erase(
    app: App, subjects: list[Subject], now: datetime
) -> list[tuple[Subject, ErasureCounts]]:
    """Erase ``subjects`` in one transaction (all or none)."""
    erased = []
    async with app.db.transaction() as session:
        for subject in subjects:
            counts = await erase_person(session, app, subject, now=now, reason="retention")
            erased.append((subject, counts))
    return erased


async def _purge_in(
    session: AsyncSession,
    app: App,
    report: PurgeReport,
    seen_before: datetime,
    closed_before: datetime,
    now: datetime,
) -> None:
    repo = PrivacyRepository(session)
    for subject in await repo.inactive(seen_before, now=now):
        report.counts += await erase_person(session, app, subject, now=now, reason="retention")
        report.people += 1
    report.relay_texts = await repo.forget_relay_texts(closed_before)


def redis_clearer(
    redis_url: str | None, bot_id: int | None
) -> tuple[StateClearer | None, Callable[[], Awaitable[None]]]:
    """(clear, close) for conversations kept in Redis; (None, no-op) without Redis."""

    async def nothing() -> None:
        return None

    if not redis_url:
        return None, nothing
    if bot_id is None:
        log.warning("REDIS_URL is set but the bot id is unknown: conversations stay in Redis")
        return None, nothing
    # only with REDIS_URL: needs the optional redis package
    from bot.telegram.fsm.redis import redis_storage

    storage = redis_storage(redis_url)

    async def clear(telegram_id: int) -> None:
        await clear_state(storage, storage_key(bot_id, telegram_id))

    return clear, storage.close


async def purge_job(app: App, bot: object) -> int:
    """The daily retention job (see :func:`purge`)."""
    bot_id = getattr(bot, "id", None)
    clear, close = redis_clearer(app.settings.redis_url, bot_id)
    try:
        report = await purge(app, clear=clear)
    finally:
        await close()
    return report.people + report.relay_texts


def register(scheduler: Scheduler) -> None:
    """The daily retention job (it also runs once when the bot starts)."""
    scheduler.every(PURGE_EVERY, PURGE_JOB, purge_job)
