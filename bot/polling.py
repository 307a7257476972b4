"""Long polling that confirms an update to Telegram only after it has been handled.

aiogram's own polling asks for the next batch (which confirms the previous one) while the
previous batch may still be in progress; a crash then loses those updates. Here a batch is
handled completely before the next ``getUpdates`` call moves the offset on, so a crash means
re-delivery, and the unit-of-work middleware makes re-delivery harmless.

Within a batch, updates of different chats run concurrently and updates of one chat run in
order, so one person's fast double tap cannot race their own conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetUpdates
from aiogram.types import Update

log = logging.getLogger(__name__)


def chat_key(update: Update) -> int:
    """The chat an update belongs to (updates without one are their own group)."""
    for event in (update.message, update.edited_message):
        if event is not None:
            return event.chat.id
    if update.callback_query is not None:
        message = update.callback_query.message
        return message.chat.id if message is not None else update.callback_query.from_user.id
    if update.my_chat_member is not None:
        return update.my_chat_member.chat.id
    return -update.update_id


async def handle_batch(dispatcher: Dispatcher, bot: Bot, updates: Sequence[Update]) -> None:
    groups: dict[int, list[Update]] = defaultdict(list)
    for update in updates:
        groups[chat_key(update)].append(update)

    async def run(group: list[Update]) -> None:
        for update in group:
            try:
                await dispatcher.feed_update(bot, update)
            except Exception:
                # The error boundary handles handler failures; this is the last resort.
                log.exception("update %s could not be handled", update.update_id)

    await asyncio.gather(*(run(group) for group in groups.values()))


async def poll(
    dispatcher: Dispatcher,
    bot: Bot,
    *,
    stop: asyncio.Event,
    allowed_updates: list[str],
    timeout: int = 25,  # noqa: ASYNC109 - the long-poll timeout sent to Telegram
    limit: int = 100,
) -> None:
    """Poll until ``stop`` is set; the batch in progress is always finished first."""
    offset: int | None = None
    backoff = 1.0
    while not stop.is_set():
        request = asyncio.ensure_future(
            bot(
                GetUpdates(
                    offset=offset, timeout=timeout, limit=limit, allowed_updates=allowed_updates
                )
            )
        )
        stopper = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({request, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if request not in done:
            request.cancel()  # unconfirmed updates in that answer come again next time
            await asyncio.gather(request, return_exceptions=True)
            break
        stopper.cancel()
        try:
            updates = request.result()
        except TelegramUnauthorizedError:
            raise
        except TelegramRetryAfter as exc:
            await _sleep(stop, exc.retry_after)
            continue
        except (TelegramNetworkError, TelegramServerError) as exc:
            log.warning("getUpdates failed (%s); retrying in %.0fs", type(exc).__name__, backoff)
            await _sleep(stop, backoff)
            backoff = min(backoff * 2, 30.0)
            continue
        backoff = 1.0
        if not updates:
            continue
        await handle_batch(dispatcher, bot, updates)
        offset = updates[-1].update_id + 1
    if offset is not None:
        # Confirm the last handled batch so it is not delivered again after a clean stop.
        try:
            await bot(
                GetUpdates(offset=offset, timeout=0, limit=1, allowed_updates=allowed_updates)
            )
        except Exception as exc:  # a failed confirmation only means a harmless re-delivery
            log.warning("could not confirm the last updates: %s", type(exc).__name__)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
