"""Telegram's limits as part of the design: incoming floods and outgoing rate limits.

Outgoing: every send goes through one limiter with token buckets per private chat (about one
message a second, with a small burst so a turn's two or three messages are not delayed), per
group (20 a minute) and overall (25 a second, under Telegram's ~30). Incoming: a person who
sends more than a few messages a second gets one "slow down" and the excess is dropped before
it reaches the database.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import (
    CopyMessage,
    CopyMessages,
    ForwardMessage,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.methods.base import Response, TelegramType
from aiogram.types import TelegramObject, Update

#: the calls that deliver a new message to a chat
SENDS = (SendMessage, SendDocument, SendPhoto, CopyMessage, CopyMessages, ForwardMessage)


@dataclass(slots=True)
class Bucket:
    """A token bucket: ``capacity`` at once, refilled at ``rate`` tokens a second."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    def reserve(self, now: float) -> float:
        """Take a token; return how long to wait before using it (0 if available now)."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = max(now, self.updated)
        self.tokens -= 1
        if self.tokens >= 0:
            return 0.0
        return -self.tokens / self.rate


class OutgoingLimiter:
    def __init__(
        self,
        *,
        global_per_second: float = 25.0,
        private_per_second: float = 1.0,
        private_burst: float = 5.0,
        group_per_minute: float = 20.0,
        group_burst: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        max_chats: int = 50_000,
    ) -> None:
        self.global_per_second = global_per_second
        self.private = (private_per_second, private_burst)
        self.group = (group_per_minute / 60.0, group_burst)
        self.clock = clock
        self.max_chats = max_chats
        self._global = Bucket(global_per_second, global_per_second, global_per_second, clock())
        self._chats: OrderedDict[int | str, Bucket] = OrderedDict()

    def delay_for(self, chat_id: int | str) -> float:
        """Reserve a slot for one message to ``chat_id``; the wait before sending it."""
        now = self.clock()
        rate, burst = self.private if isinstance(chat_id, int) and chat_id > 0 else self.group
        bucket = self._chats.get(chat_id)
        if bucket is None:
            bucket = Bucket(rate, burst, burst, now)
            self._chats[chat_id] = bucket
            if len(self._chats) > self.max_chats:
                self._chats.popitem(last=False)
        else:
            self._chats.move_to_end(chat_id)
        wait = bucket.reserve(now)
        if self.global_per_second > 0:
            wait = max(wait, self._global.reserve(now))
        return wait

    async def acquire(self, chat_id: int | str) -> None:
        wait = self.delay_for(chat_id)
        if wait > 0:
            await asyncio.sleep(wait)


class RateLimitMiddleware(BaseRequestMiddleware):
    """Request middleware: every send waits for its slot in :class:`OutgoingLimiter`."""

    def __init__(self, limiter: OutgoingLimiter) -> None:
        self.limiter = limiter

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, SENDS):
            await self.limiter.acquire(method.chat_id)
        return await make_request(bot, method)


class FloodControlMiddleware(BaseMiddleware):
    """Drops a person's updates beyond ``limit`` in ``window`` seconds, answering once."""

    def __init__(
        self,
        *,
        limit: int = 5,
        window: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        max_people: int = 50_000,
        on_flood: Callable[[Update, dict[str, Any]], Awaitable[None]] | None = None,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_people = max_people
        self.on_flood = on_flood
        self._seen: OrderedDict[int, list[float]] = OrderedDict()
        self._warned: dict[int, float] = {}

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user = data.get("event_from_user")
        chat = data.get("event_chat")
        if user is None or chat is None or chat.type != "private":
            return await handler(event, data)
        now = self.clock()
        times = [t for t in self._seen.pop(user.id, []) if now - t < self.window]
        times.append(now)
        self._seen[user.id] = times
        if len(self._seen) > self.max_people:
            self._seen.popitem(last=False)
        if len(times) <= self.limit:
            return await handler(event, data)
        if now - self._warned.get(user.id, -1e9) >= self.window and self.on_flood is not None:
            self._warned[user.id] = now
            if isinstance(event, Update):
                await self.on_flood(event, data)
        return None
