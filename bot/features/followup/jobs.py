"""Sending due follow-ups: the job starts the ``followup`` dialog in the person's own
conversation, as if they had opened it themselves.

Each due row goes through:

1. **claim** — one short transaction: ``pending`` → ``sending`` (of several workers or
   overlapping passes exactly one gets the row) and the checks that need no conversation:
   the person still exists (erasure deletes the rows anyway), has consent (``consent_version``
   set), has not blocked the bot, and has not had another follow-up in the last
   :data:`SPACING` (several events in one week would otherwise ask the same thing several
   times). A row that fails a check becomes ``skipped`` with the reason.
2. **start** — under the conversation's event-isolation lock (the same lock the dispatcher
   takes for the person's updates, so the two never interleave): read the conversation
   state. The person is *busy* when a question other than the main menu waits for their
   answer, when they used the bot in the last :data:`QUIET`, or while they have an open
   request to a coach; then the row goes back to
   ``pending`` for :data:`BUSY_RETRY` later, and after :data:`GIVE_UP` of being busy it is
   skipped. Otherwise the engine begins the dialog and the new state is saved in one
   transaction (with the database storage, the same one).
3. **send** — after the commit, through the bot (whose session has the outgoing rate
   limiter); then ``sent``, or ``failed`` (a 403 also marks the person blocked).

Exactly once, and the one gap: a crash between 2 and 3 leaves the row ``sending``: it is never
sent again (a lost check-in, never a doubled one).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from datetime import datetime, timedelta
from typing import Final

from aiogram import Bot
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, StorageKey

from bot.app import App
from bot.engine.output import Turn
from bot.engine.runner import TurnContext
from bot.engine.state import ConversationState
from bot.runtime.scheduler import Scheduler
from bot.telegram.conversation import Services
from bot.telegram.handlers.errors import where
from bot.telegram.render import Delivery
from db.repositories import (
    FOLLOWUP_FAILED,
    FOLLOWUP_SENT,
    FOLLOWUP_SKIPPED,
    FollowupInfo,
    FollowupRepository,
    HandoffRepository,
    PersonRepository,
    StatsRepository,
)

from .schedule import FOLLOWUP_JOB

log = logging.getLogger(__name__)

#: the dialog the job starts (dialogs/followup.yaml)
DIALOG: Final = "followup"
EVERY: Final = 300.0
MAX_PER_PASS: Final = 100
#: a follow-up that failed unexpectedly is tried again after this times its tries so far, and
#: given up after MAX_ATTEMPTS tries
RETRY_AFTER: Final = timedelta(minutes=10)
MAX_ATTEMPTS: Final = 3
#: not while the person is using the bot
QUIET: Final = timedelta(minutes=30)
#: a busy person is asked again this much later …
BUSY_RETRY: Final = timedelta(hours=3)
#: … until the row is this much overdue; then it is skipped
GIVE_UP: Final = timedelta(days=14)
#: at most one follow-up in this time per person
SPACING: Final = timedelta(days=7)


def _skip_reason(info: FollowupInfo | None, recent: int) -> str | None:
    if info is None or info.telegram_id is None:
        return "gone"
    if info.consent_version is None:
        return "no consent"
    if info.blocked:
        return "blocked"
    if recent:
        return "spaced"
    return None


def idle(app: App, state: ConversationState) -> bool:
    """At the main menu, at the end of a dialog, or browsing events: not in the middle of one."""
    return state.position is None or state.position == app.engine.home


async def send_followups(
    app: App, bot: Bot, *, storage: BaseStorage, isolation: BaseEventIsolation
) -> int:
    """One pass over the due follow-ups; returns how many were sent."""
    async with app.db.read() as session:
        due = await FollowupRepository(session).due(app.clock(), limit=MAX_PER_PASS)
    sent = 0
    for followup_id in due:
        try:
            sent += await _one(app, bot, followup_id, storage, isolation)
        except Exception as exc:  # before the send: nothing went out (see _one)
            await _unexpected(app, followup_id, exc)
    return sent


async def _unexpected(app: App, followup_id: int, exc: Exception) -> None:
    """A follow-up that failed before its send in a way nobody planned for (any exception
    type): logged with its id, tried again later, given up after :data:`MAX_ATTEMPTS` tries;
    the other follow-ups go on."""
    try:
        async with app.db.transaction() as session:
            tries = await FollowupRepository(session).failed_unexpectedly(
                followup_id,
                now=app.clock(),
                error=f"unexpected {type(exc).__name__}",
                max_attempts=MAX_ATTEMPTS,
                retry_in=RETRY_AFTER,
            )
    except Exception as failure:
        tries = None
        log.error(
            "follow-up %s: could not record its failure: %s", followup_id, type(failure).__name__
        )
    log.error(
        "follow-up %s failed, try %s: %s at %s", followup_id, tries, type(exc).__name__, where(exc)
    )


async def _one(
    app: App, bot: Bot, followup_id: int, storage: BaseStorage, isolation: BaseEventIsolation
) -> int:
    if app.content.dialogs.get(DIALOG) is None:
        return 0  # the content has no follow-up dialog (yet): leave the rows pending
    now = app.clock()
    async with app.db.transaction() as session:
        repo = FollowupRepository(session)
        if not await repo.claim(followup_id, now=now):
            return 0  # another worker has it
        info = await repo.get(followup_id)
        recent = await repo.sent_since(info.person_id, now - SPACING) if info else 0
        reason = _skip_reason(info, recent)
        if reason is not None:
            await repo.finish(followup_id, FOLLOWUP_SKIPPED, now=now, error=reason)
            return 0
    assert info is not None
    assert info.telegram_id is not None
    key = StorageKey(bot_id=bot.id, chat_id=info.telegram_id, user_id=info.telegram_id)
    async with isolation.lock(key):
        # In a task with an empty context: nothing this job's task keeps between passes (the
        # database storage keeps the state row it read for "the current update" in a context
        # variable) can stand in for a fresh read, and nothing set here leaks out.
        turn = await asyncio.create_task(
            _start(app, info, key, storage, now), context=contextvars.Context()
        )
    if turn is None:
        return 0
    delivery = Delivery(bot, info.telegram_id)
    try:
        await delivery.send(turn)
    except Exception as exc:  # incl. an answer aiogram cannot read: it may have gone out
        async with app.db.transaction() as session:
            await FollowupRepository(session).finish(
                followup_id, FOLLOWUP_FAILED, now=now, error=type(exc).__name__
            )
        log.warning("follow-up %s not sent: %s", followup_id, type(exc).__name__)
        return 0
    try:
        async with app.db.transaction() as session:
            if delivery.blocked:
                await PersonRepository(session).mark_blocked(info.telegram_id, now=now)
                await FollowupRepository(session).finish(
                    followup_id, FOLLOWUP_FAILED, now=now, error="403"
                )
                return 0
            await FollowupRepository(session).finish(followup_id, FOLLOWUP_SENT, now=app.clock())
            dims = {"source": info.source_kind, "days": info.days, "language": info.language}
            await StatsRepository(session).record("followup_sent", dims, at=now)
    except Exception as exc:  # stays "sending": never sent again
        log.error("follow-up %s sent but not recorded: %s", followup_id, type(exc).__name__)
        return 0
    return 1


async def _start(
    app: App, info: FollowupInfo, key: StorageKey, storage: BaseStorage, now: datetime
) -> Turn | None:
    """Begin the dialog if the person is idle (returns the turn to send), else put it off."""
    async with app.db.transaction() as session:
        repo = FollowupRepository(session)
        state = ConversationState.from_data(await storage.get_data(key))
        person = await PersonRepository(session).get(info.person_id)
        assert person is not None  # checked by the claim; erasure takes the row with it
        busy = (
            not idle(app, state)
            or (info.last_seen is not None and now - info.last_seen < QUIET)
            # talking with a coach: the coach's conversation is not interrupted either
            or await HandoffRepository(session).open_for_person(person.id) is not None
        )
        if busy:
            if now - info.due_at >= GIVE_UP:
                await repo.finish(info.id, FOLLOWUP_SKIPPED, now=now, error="busy")
            else:
                await repo.postpone(info.id, at=now + BUSY_RETRY, reason="busy")
            return None
        services = Services(app, session, person, consent=person.has_consent)
        ctx = TurnContext(
            language=person.language,
            person_id=person.id,
            params={"first_name": "", "days": info.days},
            services=services,
        )
        new_state, turn = await app.engine.begin(state, ctx, DIALOG)
        await storage.set_data(key, new_state.to_data())
    await services.committed()  # as a person's own turn does
    return turn


def register(scheduler: Scheduler, *, storage: BaseStorage, isolation: BaseEventIsolation) -> None:
    """The job uses the dispatcher's own storage and event isolation (see the module doc)."""

    async def job(app: App, bot: Bot) -> int:
        return await send_followups(app, bot, storage=storage, isolation=isolation)

    scheduler.every(EVERY, FOLLOWUP_JOB, job)
