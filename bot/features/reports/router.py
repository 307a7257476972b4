"""``/report`` in a private chat with the bot, for admins (ADMIN_IDS) only: the report as text
in the admin's language, and its chart as a PNG document.

``/report`` — the last full month; ``/report 2026-10-01 2026-10-31`` — those days;
a municipality id may follow either (``/report lohja``).

``/status`` — the bot's own figures for the admins: updates set aside as dead letters
(:mod:`bot.telegram.poison`) and outgoing messages waiting for an admin's decision."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, timedelta

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from bot.app import App
from bot.catalogue import HELSINKI
from bot.content.languages import LANGUAGES
from bot.telegram.filters import PRIVATE_CHAT
from bot.telegram.render import split_text
from db.repositories import (
    HELD,
    UNKNOWN,
    DeadLetterRepository,
    OutboxRepository,
    PersonRepository,
)

from .chart import chart_png
from .report import build_report, last_full_month, to_text

#: the recent period /status counts dead letters in
STATUS_DAYS = timedelta(days=7)


def parse_args(args: str, today: date) -> tuple[date, date, str | None] | None:
    """``[FROM TO] [MUNICIPALITY]``; None if the dates do not make sense."""
    words = args.split()
    first, last = last_full_month(today)
    if len(words) >= 2 and words[0][:1].isdigit():
        try:
            first, last = date.fromisoformat(words[0]), date.fromisoformat(words[1])
        except ValueError:
            return None
        words = words[2:]
    if first > last or len(words) > 1 or (words and words[0][:1].isdigit()):
        return None
    return first, last, (words[0].casefold() if words else None)


async def _admin_language(message: Message, app: App) -> str | None:
    """The admin's language; None (after telling them so) if the sender is not an admin."""
    user = message.from_user
    if user is None:
        return None
    async with app.db.read() as session:
        person = await PersonRepository(session).by_telegram_id(user.id)
    language = person.language if person is not None else app.settings.default_language
    if language not in LANGUAGES:
        language = app.settings.default_language
    if user.id not in app.settings.admin_ids:
        with contextlib.suppress(TelegramAPIError):
            await message.answer(app.t("reports.admin.only_admins", language))
        return None
    return language


async def status_command(message: Message, app: App) -> None:
    """How many updates were set aside (the last 7 days, and ever), and how many outgoing
    messages wait for an admin (held, or delivery unknown)."""
    language = await _admin_language(message, app)
    if language is None:
        return
    async with app.db.read() as session:
        letters = DeadLetterRepository(session)
        week = await letters.count(since=app.clock() - STATUS_DAYS)
        ever = await letters.count()
        outbox = await OutboxRepository(session).counts()
    latest = (
        ever.latest.astimezone(HELSINKI).strftime("%Y-%m-%d %H:%M")
        if ever.latest is not None
        else "–"
    )
    text = app.t(
        "reports.status.text",
        language,
        week=week.count,
        total=ever.count,
        latest=latest,
        held=outbox.get(HELD, 0),
        unknown=outbox.get(UNKNOWN, 0),
    )
    with contextlib.suppress(TelegramAPIError):
        await message.answer(text)


async def report_command(message: Message, command: CommandObject, app: App) -> None:
    language = await _admin_language(message, app)
    if language is None:
        return
    parsed = parse_args(command.args or "", app.clock().astimezone(HELSINKI).date())
    if parsed is None:
        await message.answer(app.t("reports.admin.usage", language))
        return
    first, last, municipality = parsed
    report = await build_report(app, first, last, language=language, municipality=municipality)
    for chunk in split_text(to_text(report)):
        await message.answer(chunk)
    png = await asyncio.to_thread(chart_png, report)
    name = f"urapolku-report-{first.isoformat()}-{last.isoformat()}.png"
    await message.answer_document(
        BufferedInputFile(png, filename=name),
        caption=app.t("reports.admin.chart_caption", language),
    )


def build_router() -> Router:
    router = Router(name="reports")
    router.message.filter(PRIVATE_CHAT)
    router.message.register(report_command, Command("report"))
    router.message.register(status_command, Command("status"))
    return router
