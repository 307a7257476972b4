"""aiogram's FSM middleware in two parts, so the conversation state is read once per update.

aiogram takes the per-chat event-isolation lock and reads the state in its first middleware,
before ours run. Here the lock is taken first (:class:`ChatLockMiddleware`, in the place of
aiogram's FSM middleware), our unit-of-work middleware then reads the update's "handled?" mark,
the person and the state row in one statement, and the FSM context is put into handler data
last (:func:`state_middleware`, which finds the state already read and takes no lock again).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.storage.memory import DisabledEventIsolation
from aiogram.types import TelegramObject

#: handler data: the StorageKey of the update's conversation (set while its lock is held)
FSM_KEY = "fsm_key"


class ChatLockMiddleware(BaseMiddleware):
    """Holds the chat's event-isolation lock (of ``fsm``, the dispatcher's) for the update."""

    def __init__(self, fsm: FSMContextMiddleware) -> None:
        self.fsm = fsm

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        bot: Bot = data["bot"]
        context = self.fsm.resolve_event_context(bot, data)
        if context is None:
            return await handler(event, data)
        async with self.fsm.events_isolation.lock(key=context.key):
            data[FSM_KEY] = context.key
            return await handler(event, data)


def state_middleware(fsm: FSMContextMiddleware) -> FSMContextMiddleware:
    """``fsm`` without its lock: register after :class:`ChatLockMiddleware` and the unit of work."""
    return FSMContextMiddleware(
        storage=fsm.storage, events_isolation=DisabledEventIsolation(), strategy=fsm.strategy
    )
