"""Outgoing Bot API calls: Telegram's 429 and transient failures are expected events.

A request middleware on the Bot's session waits ``retry_after`` on 429 and retries 5xx and
network errors with backoff, a bounded number of times; anything else is raised to the caller.
A message send that fails after it left is not retried (it may have been delivered).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType

log = logging.getLogger(__name__)


class RetryMiddleware(BaseRequestMiddleware):
    def __init__(
        self, attempts: int = 5, base_delay: float = 0.5, max_retry_after: float = 60.0
    ) -> None:
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_retry_after = max_retry_after

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, GetUpdates):  # the polling loop has its own backoff
            return await make_request(bot, method)  # type: ignore[arg-type]
        delay = self.base_delay
        for attempt in range(1, self.attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == self.attempts or exc.retry_after > self.max_retry_after:
                    raise
                log.warning("%s: Telegram asks to wait %ss", type(method).__name__, exc.retry_after)
                await asyncio.sleep(exc.retry_after)
            except (TelegramServerError, TelegramNetworkError) as exc:
                if attempt == self.attempts or _maybe_delivered(method, exc):
                    raise
                log.warning(
                    "%s failed (%s); retrying in %.1fs",
                    type(method).__name__,
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover


def _maybe_delivered(method: Any, exc: Exception) -> bool:
    """A send that failed after it left (a timeout, a dropped connection) may have reached the
    person: repeating it could deliver it twice, so it is not retried here. Only "cannot
    connect" proves nothing was sent."""
    from bot.ratelimit import SENDS

    return (
        isinstance(exc, TelegramNetworkError)
        and isinstance(method, SENDS)
        and not exc.message.startswith("ClientConnector")
    )


def describe(method: Any) -> str:
    return type(method).__name__
