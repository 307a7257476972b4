"""Sending what ``event_notices`` holds: reminders (the day before at 10:00 Finnish time, and
an hour before), "a place became free and it is yours", "the time has changed", and a note to
the coach group.

"The time has changed" (``moved``) is queued by a job of its own (:func:`find_moved`, every
few minutes and right after new content goes live): a seat or a place in line at a date the
catalogue no longer has — an editor moved or removed the date, or the whole item — is told
once, with the item's card (its new dates) or, for an item that is gone, the browser. The
sign-up itself is left as it is: the person decides whether the new time suits them. A
catalogue that is missing or empty is never read as "everything was removed".

The rows are written in the same transaction as the sign-up (or the cancellation that freed
a seat), so they survive restarts; this job sends the due ones. Each row goes through:

1. **claim** — one short transaction: a conditional UPDATE ``pending`` → ``sending`` (of
   several workers or overlapping passes exactly one gets the row), and in the same
   transaction the checks: the sign-up is still active, the person has not blocked the bot,
   the item and its date are still in the catalogue, it is not too late. A row that fails a
   check becomes ``skipped``.
2. **send** — outside any transaction.
3. **record** — ``sent`` (or ``failed``; or ``pending`` again later for a 429 or a 5xx, which
   mean Telegram did not take the message).

Exactly once, and the one gap: a crash between 2 and 3 leaves the row ``sending`` for good;
it is never sent again (a lost reminder, never a doubled one). A network failure whose outcome
is unknown is recorded as ``failed`` for the same reason. The bot's retrying middleware may
still repeat a request whose answer was lost in the network: the one case where a person
could get the same reminder twice.

Telegram's limits: up to :data:`LANES` rows at a time, each send waiting for its slot in the
outgoing limiter (1 a second per chat, OUTGOING_PER_SECOND overall); at most
:data:`MAX_PER_PASS` rows a pass, and the scheduler runs passes back to back while they find
work (a large batch of reminders goes out at the overall limit). A 403
means the person blocked the bot: they are marked blocked, and nothing more goes to them
until they write again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Final

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from bot.app import App
from bot.catalogue.schedule import Occurrence, render_occurrence, render_start
from bot.catalogue.schema import Catalogue, Item
from bot.engine.output import Button
from bot.runtime.scheduler import Scheduler
from bot.telegram.handlers.errors import where
from bot.telegram.render import keyboard
from db.repositories import (
    NOTICE_FAILED,
    NOTICE_SENT,
    NOTICE_SKIPPED,
    EventRepository,
    NoticeInfo,
    PersonRepository,
)

from . import callbacks as cb
from .browser import COACH, DAY_BEFORE, HOUR_BEFORE, MOVED, MOVED_JOB, NOTICES_JOB, PROMOTED
from .views import lookup, occurrence_at, place_text

log = logging.getLogger(__name__)

EVERY: Final = 30.0
#: how often to look for sign-ups whose date is no longer in the catalogue
MOVED_EVERY: Final = 300.0
MAX_PER_PASS: Final = 200
MAX_ATTEMPTS: Final = 5
#: notices in flight at once, so that Telegram's round trips do not limit the rate: the
#: outgoing limiter, not this, keeps the pace (overall and 1 a second per chat)
LANES: Final = 48


async def send_notices(app: App, bot: Bot) -> int:
    """One pass over the due notices; returns how many were sent."""
    now = app.clock()
    async with app.db.read() as session:
        due = await EventRepository(session).due_notices(now, limit=MAX_PER_PASS)
    lanes = asyncio.Semaphore(LANES)

    async def lane(notice: NoticeInfo) -> int:
        async with lanes:
            try:
                return await _one(app, bot, notice.id)
            except Exception as exc:  # before the send: nothing went out (see _one)
                await _unexpected(app, notice, exc)
                return 0

    return sum(await asyncio.gather(*(lane(notice) for notice in due)))


async def _unexpected(app: App, notice: NoticeInfo, exc: Exception) -> None:
    """A notice that failed before its send in a way nobody planned for (any exception type):
    logged with its id, tried again later, and given up (``failed``) after
    :data:`MAX_ATTEMPTS` tries. The other notices go on."""
    attempts = notice.attempts + 1
    log.error(
        "notice %s failed, try %d: %s at %s", notice.id, attempts, type(exc).__name__, where(exc)
    )
    now = app.clock()
    error = f"unexpected {type(exc).__name__}"
    try:
        async with app.db.transaction() as session:
            repo = EventRepository(session)
            if attempts >= MAX_ATTEMPTS:
                await repo.finish_notice(notice.id, NOTICE_FAILED, now=now, error=error)
            else:
                await repo.retry_notice(
                    notice.id,
                    at=now + timedelta(seconds=60 * attempts),
                    error=error,
                    attempts=attempts,
                )
    except Exception as failure:
        log.error("notice %s: could not record its failure: %s", notice.id, type(failure).__name__)


async def find_moved(app: App, bot: Bot) -> int:
    """Queue a ``moved`` notice for every upcoming sign-up whose date the catalogue no longer
    has; returns how many were queued."""
    catalogue = app.content.catalogue
    if not isinstance(catalogue, Catalogue) or len(catalogue) == 0:
        return 0  # no catalogue at all is a mistake in the content, not news to people
    now = app.clock()
    async with app.db.read() as session:
        upcoming = await EventRepository(session).upcoming_without_notice(now, MOVED)
    stranded = []
    for signup in upcoming:
        try:
            if _date_gone(catalogue.get(signup.item_id), signup.starts_at):
                stranded.append(signup)
        except Exception as exc:  # one odd item or date: the others are still checked
            log.error(
                "sign-up %s could not be checked against the catalogue: %s at %s",
                signup.id,
                type(exc).__name__,
                where(exc),
            )
    if not stranded:
        return 0
    async with app.db.transaction() as session:
        repo = EventRepository(session)
        for signup in stranded:
            await repo.schedule_notice(signup.id, MOVED, now)
    log.info("%d sign-up(s) at dates no longer in the catalogue", len(stranded))
    if app.scheduler is not None:
        app.scheduler.wake(NOTICES_JOB)
    return len(stranded)


def _date_gone(item: Item | None, start: datetime) -> bool:
    return item is None or occurrence_at(item, start) is None


def _skip_reason(
    app: App, notice: NoticeInfo, item: Item | None, now: datetime
) -> tuple[str | None, Occurrence | None]:
    if notice.kind == MOVED:
        if not (notice.signup.active or notice.signup.waiting):
            return "not active", None
        if notice.blocked:
            return "blocked", None
        if now >= notice.signup.starts_at:
            return "late", None
        if not _date_gone(item, notice.signup.starts_at):
            return "back", None  # the editor put the date back
        return None, None
    if not notice.signup.active:
        return "not active", None
    if notice.kind == COACH:
        if app.settings.coach_chat_id is None:
            return "no coach chat", None
    elif notice.blocked:
        return "blocked", None
    occurrence = occurrence_at(item, notice.signup.starts_at) if item is not None else None
    if occurrence is None:
        return "gone", None
    if now >= occurrence.start:
        return "late", None
    if notice.kind == DAY_BEFORE and now >= occurrence.start - timedelta(hours=1):
        return "late", None  # the hour-before reminder says it better now
    return None, occurrence


async def _one(app: App, bot: Bot, notice_id: int) -> int:
    now = app.clock()
    catalogue = app.content.catalogue
    async with app.db.transaction() as session:
        repo = EventRepository(session)
        if not await repo.claim_notice(notice_id, now=now):
            return 0  # another worker has it
        notice = await repo.notice(notice_id)
        assert notice is not None
        item = catalogue.get(notice.signup.item_id) if isinstance(catalogue, Catalogue) else None
        reason, occurrence = _skip_reason(app, notice, item, now)
        if reason is not None:
            await repo.finish_notice(notice.id, NOTICE_SKIPPED, now=now, error=reason)
            return 0
    to_person = notice.kind != COACH
    chat_id = notice.telegram_id if to_person else app.settings.coach_chat_id
    assert chat_id is not None
    if notice.kind == MOVED:
        text, buttons = _moved_message(app, notice, item)
    else:
        assert item is not None
        assert occurrence is not None
        text, buttons = await _message(app, notice, item, occurrence)
    try:
        await bot.send_message(chat_id, text, reply_markup=keyboard(buttons))
    except TelegramForbiddenError:
        async with app.db.transaction() as session:
            if to_person:
                await PersonRepository(session).mark_blocked(notice.telegram_id, now=now)
            await EventRepository(session).finish_notice(
                notice.id, NOTICE_FAILED, now=now, error="403"
            )
        log.info("notice %s: the chat has blocked the bot", notice.id)
        return 0
    except (TelegramRetryAfter, TelegramServerError) as exc:
        # Telegram did not take it: try again later, a few times.
        delay = exc.retry_after + 1 if isinstance(exc, TelegramRetryAfter) else 60 * notice.attempts
        async with app.db.transaction() as session:
            repo = EventRepository(session)
            error = type(exc).__name__
            if notice.attempts >= MAX_ATTEMPTS:  # counted by the claim
                await repo.finish_notice(notice.id, NOTICE_FAILED, now=now, error=error)
            else:
                await repo.retry_notice(notice.id, at=now + timedelta(seconds=delay), error=error)
        log.warning("notice %s: %s; tried %d time(s)", notice.id, error, notice.attempts)
        return 0
    except Exception as exc:  # incl. an answer aiogram cannot read: it may have gone out
        if isinstance(exc, TelegramNetworkError) or not isinstance(exc, TelegramAPIError):
            error = "network: outcome unknown"
        else:
            error = "refused"
        async with app.db.transaction() as session:
            await EventRepository(session).finish_notice(
                notice.id, NOTICE_FAILED, now=now, error=f"{error} ({type(exc).__name__})"
            )
        log.warning("notice %s not sent: %s", notice.id, type(exc).__name__)
        return 0
    try:
        async with app.db.transaction() as session:
            await EventRepository(session).finish_notice(notice.id, NOTICE_SENT, now=app.clock())
    except Exception as exc:  # stays "sending": never sent again (see the module doc)
        log.error("notice %s sent but not recorded: %s", notice.id, type(exc).__name__)
    return 1


async def _message(
    app: App, notice: NoticeInfo, item: Item, occurrence: Occurrence
) -> tuple[str, tuple[tuple[Button, ...], ...]]:
    language = notice.language if notice.kind != COACH else app.settings.default_language

    def t(key: str, **params: object) -> str:
        return app.t(key, language, **params)

    title = item.title.get(language)
    when = render_occurrence(occurrence, lookup(t))
    open_card = Button(t("events.button.open"), cb.pack(cb.CARD, item.id))
    if notice.kind == COACH:
        async with app.db.read() as session:
            taken = await EventRepository(session).taken(item.id, occurrence.start)
        if item.capacity is None:
            return t("events.coach.signup_unlimited", title=title, when=when, taken=taken), ()
        text = t("events.coach.signup", title=title, when=when, taken=taken, capacity=item.capacity)
        return text, ()
    if notice.kind == PROMOTED:
        calendar = Button(t("events.button.calendar"), cb.pack(cb.CALENDAR, item.id))
        text = t("events.reminder.promoted", title=title, when=when)
        return text, ((open_card,), (calendar,))
    where = place_text(item, language, t)
    key = (
        "events.reminder.hour_before"
        if notice.kind == HOUR_BEFORE
        else "events.reminder.day_before"
    )
    return t(key, title=title, when=when, where=where), ((open_card,),)


def _moved_message(
    app: App, notice: NoticeInfo, item: Item | None
) -> tuple[str, tuple[tuple[Button, ...], ...]]:
    """The time has changed (the card shows the new ones), or the item is gone altogether."""

    def t(key: str, **params: object) -> str:
        return app.t(key, notice.language, **params)

    when = render_start(notice.signup.starts_at, lookup(t))
    if item is None:
        browse = Button(t("events.button.browse"), cb.pack(cb.HOME))
        return t("events.moved.removed", when=when), ((browse,),)
    open_card = Button(t("events.button.open"), cb.pack(cb.CARD, item.id))
    return t("events.moved.changed", title=item.title.get(notice.language), when=when), (
        (open_card,),
    )


def register(scheduler: Scheduler) -> None:
    scheduler.every(EVERY, NOTICES_JOB, send_notices)
    scheduler.every(MOVED_EVERY, MOVED_JOB, find_moved, on_content_change=True)
