"""``/event <item id>`` in the coach group: the sign-ups of that item's recent and upcoming
dates, one button per sign-up that toggles "attended".

Who may press is decided from the database on every update, as in the coach router: only an
active coach (everyone in ADMIN_IDS is one), found by the handoff's rule, which the factory
passes to :func:`build_router`. Marking attendance schedules the person's
follow-ups (counted from the occurrence's start); unmarking skips the ones not yet sent. The
router is included before the coach router (whose last handler takes every other message).

People are shown by their sign-up number (``#41``), the same number on every list: the bot
knows no names of people who only signed up.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from itertools import groupby
from typing import Final, Protocol

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.catalogue import HELSINKI
from bot.catalogue.schedule import render_occurrence
from bot.catalogue.schema import Catalogue, Item
from bot.config import Settings
from bot.features.events.api import lookup, occurrence_at
from bot.telegram.callbacks import DatabaseInts
from bot.telegram.filters import Magic
from bot.telegram.middlewares.unit_of_work import UnitOfWork
from db.repositories import AttendanceRepository, AttendeeInfo

from . import schedule

log = logging.getLogger(__name__)

#: dates shown: those that started in the last RECENT, and those in the next UPCOMING
RECENT: Final = timedelta(days=14)
UPCOMING: Final = timedelta(days=7)
#: Telegram allows 100 buttons a message
MAX_BUTTONS: Final = 90


class CoachId(Protocol):
    """The id of the active coach behind a Telegram user, or None
    (:func:`bot.features.handoff.api.coach_id`)."""

    async def __call__(
        self,
        session: AsyncSession,
        settings: Settings,
        telegram_id: int,
        name: str,
        *,
        now: datetime,
    ) -> int | None: ...


class AttendanceAction(CallbackData, DatabaseInts, prefix="att"):
    #: the sign-up to toggle
    s: int


def _item(app: App, item_id: str) -> Item | None:
    catalogue = app.content.catalogue
    return catalogue.get(item_id) if isinstance(catalogue, Catalogue) else None


def _t(app: App, key: str, **params: object) -> str:
    return app.t(key, app.settings.default_language, **params)


def _when(app: App, item: Item, starts_at: datetime) -> str:
    occurrence = occurrence_at(item, starts_at)
    if occurrence is None:
        return starts_at.astimezone(HELSINKI).strftime("%d.%m.%Y %H:%M")
    return render_occurrence(occurrence, lookup(lambda key, **p: _t(app, key, **p)))


def attendance_view(
    app: App, item: Item, signups: list[AttendeeInfo]
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The list and its buttons: one block of text and one row of buttons per date."""
    title = item.title.get(app.settings.default_language)
    if not signups:
        return _t(app, "attendance.none", title=title), None
    blocks = [_t(app, "attendance.title", title=title)]
    rows: list[list[InlineKeyboardButton]] = []
    shown = 0
    for starts_at, group in groupby(signups, key=lambda s: s.starts_at):
        people = list(group)
        attended = sum(1 for s in people if s.attended)
        blocks.append(
            _t(
                app,
                "attendance.occurrence",
                when=_when(app, item, starts_at),
                count=len(people),
                attended=attended,
            )
        )
        for signup in people:
            if shown >= MAX_BUTTONS:
                break
            key = "attendance.button.attended" if signup.attended else "attendance.button.absent"
            label = _t(app, key, number=signup.signup_id)
            data = AttendanceAction(s=signup.signup_id).pack()
            rows.append([InlineKeyboardButton(text=label, callback_data=data)])
            shown += 1
    if shown < len(signups):
        blocks.append(_t(app, "attendance.too_many", shown=shown, count=len(signups)))
    return "\n\n".join(blocks), InlineKeyboardMarkup(inline_keyboard=rows)


async def _signups(app: App, item_id: str) -> list[AttendeeInfo]:
    now = app.clock()
    async with app.db.read() as session:
        return await AttendanceRepository(session).signups(item_id, now - RECENT, now + UPCOMING)


async def event_command(
    message: Message, command: CommandObject, app: App, uow: UnitOfWork, coach_id: CoachId
) -> None:
    """/event <item id>: the attendance list of that item."""
    item_id = (command.args or "").strip()
    user = message.from_user
    async with uow.transaction() as session:
        coach = (
            await coach_id(session, app.settings, user.id, user.first_name, now=app.clock())
            if user is not None
            else None
        )
    markup: InlineKeyboardMarkup | None = None
    if coach is None:
        text = _t(app, "coach.only_coaches")
    elif not item_id:
        text = _t(app, "attendance.usage")
    elif (item := _item(app, item_id)) is None:
        text = _t(app, "attendance.unknown", item_id=item_id[:40])
    else:
        text, markup = attendance_view(app, item, await _signups(app, item.id))
    with contextlib.suppress(TelegramAPIError):
        await message.reply(text, reply_markup=markup)


async def toggle(
    callback: CallbackQuery,
    callback_data: AttendanceAction,
    app: App,
    uow: UnitOfWork,
    coach_id: CoachId,
) -> None:
    """A press on a sign-up: attended ↔ not marked."""
    now = app.clock()
    user = callback.from_user
    async with uow.transaction() as session:
        coach = await coach_id(session, app.settings, user.id, user.first_name, now=now)
        repo = AttendanceRepository(session)
        signup = await repo.signup(callback_data.s) if coach is not None else None
        notice = "coach.only_coaches" if coach is None else "attendance.gone"
        if coach is not None and signup is not None:
            if signup.attended:
                await repo.unmark(signup.signup_id)
                await schedule.attendance_unmarked(session, signup_id=signup.signup_id)
                notice = "attendance.unmarked"
            else:
                await repo.mark(signup.signup_id, coach_id=coach, now=now)
                await schedule.after_attended(
                    session,
                    app.settings,
                    person_id=signup.person_id,
                    signup_id=signup.signup_id,
                    starts_at=signup.starts_at,
                    now=now,
                )
                notice = "attendance.marked"
    with contextlib.suppress(TelegramAPIError):
        await callback.answer(_t(app, notice, number=callback_data.s))
    item = _item(app, signup.item_id) if signup is not None else None
    if item is None or not isinstance(callback.message, Message):
        return
    text, markup = attendance_view(app, item, await _signups(app, item.id))
    with contextlib.suppress(TelegramAPIError):
        await callback.message.edit_text(text, reply_markup=markup)


def build_router(coach_chat_id: int, coach_id: CoachId) -> Router:
    """The ``/event`` command and its buttons in the coach chat; ``coach_id`` decides who may
    use them."""

    async def on_event(message: Message, command: CommandObject, app: App, uow: UnitOfWork) -> None:
        await event_command(message, command, app, uow, coach_id)

    async def on_toggle(
        callback: CallbackQuery, callback_data: AttendanceAction, app: App, uow: UnitOfWork
    ) -> None:
        await toggle(callback, callback_data, app, uow, coach_id)

    router = Router(name="attendance")
    router.message.filter(Magic(F.chat.id == coach_chat_id))
    router.callback_query.filter(Magic(F.message.chat.id == coach_chat_id))
    router.message.register(on_event, Command("event"))
    router.callback_query.register(on_toggle, AttendanceAction.filter())
    return router
