"""The error boundary: a failure in one update is logged (with its id, never its content),
the person is told their answers are safe, and the bot goes on with the next update."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.types import ErrorEvent

from bot.app import App
from db.repositories import PersonRepository, UpdateRepository

log = logging.getLogger(__name__)


async def on_error(event: ErrorEvent, bot: Bot, app: App) -> bool:
    update = event.update
    log.error(
        "update %s failed: %s",
        update.update_id,
        type(event.exception).__name__,
        exc_info=event.exception,
    )
    chat = None
    if update.message is not None:
        chat = update.message.chat
    elif update.callback_query is not None and update.callback_query.message is not None:
        chat = update.callback_query.message.chat
    try:
        # Mark it handled so a poison update is not re-delivered for ever.
        async with app.db.transaction() as session:
            await UpdateRepository(session).mark(update.update_id)
            language: str = app.settings.default_language
            if chat is not None and chat.type == "private":
                person = await PersonRepository(session).by_telegram_id(chat.id)
                language = person.language if person else language
        if chat is not None and chat.type == "private":
            if update.callback_query is not None:
                await bot.answer_callback_query(update.callback_query.id)
            await bot.send_message(chat.id, app.t("bot.error", language))
    except Exception:  # the boundary itself must never raise
        log.exception("could not report the failure of update %s", update.update_id)
    return True


def build_router() -> Router:
    router = Router(name="errors")
    router.errors.register(on_error)
    return router
