"""The error boundary: a failure in one update is logged (with its id, never its content),
the person is told their answers are safe, and the bot goes on with the next update.

The failed turn's transaction has already been rolled back when we get here (it is an
``async with`` around the turn), so nothing half-done is stored. The update is then marked
handled on its own, so a poison update is not re-delivered for ever, and recorded as a dead
letter (ids and the error's type and place, no content; :mod:`bot.telegram.poison`), which the
admins count with ``/status``.

The log record carries the update id, the exception's type and where it was raised (file,
line, function of each frame), but not the exception's message: messages of validation and
database errors often quote the input, i.e. what the person typed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import traceback

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Chat, ErrorEvent, Update

from bot.app import App
from db.repositories import HANDLE, DeadLetterRepository, PersonRepository, UpdateRepository

log = logging.getLogger(__name__)


#: how many frames of a traceback are logged (the innermost ones)
FRAMES = 8


def where(exc: BaseException, frames: int = FRAMES) -> str:
    """The innermost ``frames`` of the traceback (file:line in function), innermost first,
    without the exception's message."""
    innermost = traceback.extract_tb(exc.__traceback__)[-frames:]
    return " <- ".join(f"{_short(f.filename)}:{f.lineno} in {f.name}" for f in reversed(innermost))


def _short(filename: str) -> str:
    for marker in ("/site-packages/", f"{os.getcwd()}/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def _private_chat(update: Update) -> Chat | None:
    message = update.message or update.edited_message
    if message is not None:
        chat: Chat | None = message.chat
    elif update.callback_query is not None and update.callback_query.message is not None:
        chat = update.callback_query.message.chat
    else:
        chat = None
    return chat if chat is not None and chat.type == "private" else None


def _chat_id(update: Update) -> int | None:
    """The chat of ``update`` for its dead letter (None for other kinds of update)."""
    for event in (update.message, update.edited_message, update.my_chat_member):
        if event is not None:
            return event.chat.id
    press = update.callback_query
    if press is not None:
        return press.message.chat.id if press.message is not None else press.from_user.id
    return None


async def on_error(event: ErrorEvent, bot: Bot, app: App, update_tries: int = 1) -> bool:
    """``update_tries``: how often the update was tried (:class:`~bot.telegram.poison.Attempts`)."""
    update = event.update
    exc = event.exception
    log.error(
        "update %s failed (try %d): %s at %s",
        update.update_id,
        update_tries,
        type(exc).__name__,
        where(exc),
    )
    chat = _private_chat(update)
    try:
        async with app.db.transaction() as session:
            await UpdateRepository(session).mark(update.update_id)
            await DeadLetterRepository(session).record(
                update.update_id,
                chat_id=_chat_id(update),
                stage=HANDLE,
                error=f"{type(exc).__name__} at {where(exc, frames=1)}",
                attempts=update_tries,
                now=app.clock(),
            )
            language: str = app.settings.default_language
            if chat is not None:
                person = await PersonRepository(session).by_telegram_id(chat.id)
                language = person.language if person else language
        if chat is None:
            return True
        if update.callback_query is not None:
            # it may have been answered before the failure: that is fine
            with contextlib.suppress(TelegramAPIError):
                await bot.answer_callback_query(update.callback_query.id)
        await bot.send_message(chat.id, app.t("bot.error", language))
    except Exception as failure:  # the boundary itself must never raise
        log.error(
            "could not report the failure of update %s: %s at %s",
            update.update_id,
            type(failure).__name__,
            where(failure),
        )
    return True


def build_router() -> Router:
    router = Router(name="errors")
    router.errors.register(on_error)
    return router
