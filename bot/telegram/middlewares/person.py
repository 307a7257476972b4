"""Finds (or creates) the person behind a private-chat update and puts it in handler data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject, Update, User

from bot.app import App
from bot.telegram.conversation import Conversation
from bot.telegram.middlewares.unit_of_work import PRELOADED_PERSON
from db.repositories import PersonRepository

#: last_seen is refreshed at most this often, to keep writes off the hot path
TOUCH_EVERY = timedelta(minutes=10)


class PersonMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        app: App = data["app"]
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        if user is None or user.is_bot or chat is None or chat.type != "private":
            return await handler(event, data)
        if isinstance(event, Update) and event.my_chat_member is not None:
            # blocking or unblocking the bot is not a visit: no person row is created for
            # someone who never wrote, and last_seen is left alone (bot/telegram/handlers/updates.py)
            return await handler(event, data)
        now = app.clock()
        if PRELOADED_PERSON in data:  # read with the update's "handled?" check
            person = data[PRELOADED_PERSON]
        else:
            async with app.db.read() as session:
                person = await PersonRepository(session).by_telegram_id(user.id)
        if person is None or person.blocked or now - person.last_seen > TOUCH_EVERY:
            async with app.db.transaction() as session:
                repo = PersonRepository(session)
                language = first_language(user.language_code, app.content.languages)
                if language is None:
                    language = app.settings.default_language
                person, created = await repo.ensure(user.id, language, now=now)
                if not created:
                    await repo.touch(person.id, now=now)
                person = await repo.get(person.id)
        assert person is not None
        data["person"] = person
        data["conversation"] = Conversation(
            app,
            data["uow"],
            data["state"],
            person,
            data["bot"],
            first_name=user.first_name,
            callback=event.callback_query if isinstance(event, Update) else None,
        )
        return await handler(event, data)


def first_language(code: str | None, known: list[str]) -> str | None:
    """The content language for a Telegram ``language_code``: the code itself when the content
    has it (a variant such as ``fi-selko``, which the terminal chat passes on), else its first
    two letters ("pt-br" → "pt"); None when the content has neither."""
    code = (code or "").lower()
    for candidate in (code, code[:2]):
        if candidate and candidate in known:
            return candidate
    return None
