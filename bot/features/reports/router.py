"""``/report`` in a private chat with the bot, for admins (ADMIN_IDS) only: the report as text
in the admin's language, and its chart as a PNG document.

``/report`` — the last full month; ``/report 2026-10-01 2026-10-31`` — those days;
a municipality id may follow either (``/report lohja``)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from bot.app import App
from bot.catalogue import HELSINKI
from bot.content.languages import LANGUAGES
from bot.telegram.filters import PRIVATE_CHAT
from bot.telegram.render import split_text
from db.repositories import PersonRepository

from .chart import chart_png
from .report import build_report, last_full_month, to_text


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


async def report_command(message: Message, command: CommandObject, app: App) -> None:
    user = message.from_user
    if user is None:
        return
    async with app.db.read() as session:
        person = await PersonRepository(session).by_telegram_id(user.id)
    language = person.language if person is not None else app.settings.default_language
    if language not in LANGUAGES:
        language = app.settings.default_language
    if user.id not in app.settings.admin_ids:
        with contextlib.suppress(TelegramAPIError):
            await message.answer(app.t("reports.admin.only_admins", language))
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
    return router
