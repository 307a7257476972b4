"""Filters that run on the event loop.

aiogram runs every filter that is not a coroutine function through ``asyncio.to_thread``,
and a magic filter (``F.chat.type == "private"``) is a plain callable: each check is a hop to
a worker thread and back. Every update passes the router-level filters of each router until
one takes it, so with a dozen routers that was several thread hops per update before any
handler ran. :class:`Magic` checks the same expression inline; it is quicker than the hop
and does not queue behind the database or other threads.
"""

from __future__ import annotations

from typing import Any

from aiogram import F
from aiogram.filters import Filter
from aiogram.types import TelegramObject
from magic_filter import MagicFilter


class Magic(Filter):
    """``Magic(F.chat.type == "private")``: the magic filter, checked on the event loop."""

    __slots__ = ("magic",)

    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: TelegramObject) -> Any:
        return self.magic.resolve(event)

    def __str__(self) -> str:
        return self._signature_to_string(magic=self.magic)


#: a message (or edited message) in a private chat, from a person (a message without a sender
#: is left to :mod:`bot.telegram.handlers.updates`, which ignores it)
PRIVATE_CHAT = Magic((F.chat.type == "private") & F.from_user)
#: a message in a private chat without a sender (Telegram does not send these; a forged one)
PRIVATE_WITHOUT_SENDER = Magic((F.chat.type == "private") & ~F.from_user)
#: a button press on a message in a private chat
PRIVATE_BUTTON = Magic(F.message.chat.type == "private")
