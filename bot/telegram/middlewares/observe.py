"""What an operator sees of each update: counts and the log records' ``update_id``.

:class:`ObserveMiddleware`, the outermost of the bot's update middlewares, counts the update
(and its failure, if handling raised) in :mod:`bot.metrics`, by kind only.
:class:`ObservedDispatcher` puts the update's id into every log record made while it is
handled (:func:`bot.logsetup.log_fields`; the JSON log's ``update_id``), the error
boundary's included (aiogram runs that outside every middleware we can register). Nothing
from the update's content goes into either.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.types import TelegramObject, Update

from bot import metrics
from bot.logsetup import log_fields


def kind_of(update: Update) -> str:
    """message, callback_query, …; ``unknown`` for a kind aiogram does not know."""
    try:
        return update.event_type
    except Exception:
        return "unknown"


class ObserveMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        kind = kind_of(event)
        try:
            return await handler(event, data)
        except Exception:
            metrics.handler_failed(kind)
            raise
        finally:
            metrics.update_handled(kind)


class ObservedDispatcher(Dispatcher):
    """aiogram's Dispatcher whose every update (polling, webhook, tests) is handled with its
    id in the log records' fields."""

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        with log_fields(update_id=update.update_id):
            return await super().feed_update(bot, update, **kwargs)
