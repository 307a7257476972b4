"""Telegram's limits as part of the design: incoming floods and outgoing rate limits.

Outgoing: every send goes through one limiter with token buckets per private chat (about one
message a second, with a small burst so a turn's two or three messages are not delayed), per
group (20 a minute) and overall (OUTGOING_PER_SECOND, default 28 a second with a burst of
OUTGOING_BURST = 1, so that no sliding second holds more than Telegram's ~30). A 429 pauses
the chat for its ``retry_after``, and repeated 429s pause everything. Incoming
(:class:`FloodControl`): a person who sends more than a few messages a second gets one "slow
down" and the excess is dropped as it arrives, before it waits in any queue or reaches the
database.

People first: the overall limit has two lanes. A send answers a person who is waiting unless
it is made within :func:`background_sends` (the scheduler's jobs: reminders, digests,
follow-ups, the outbox). A person's send reserves its place in the overall bucket as it comes;
background sends wait at a door, one at a time, and take a place only when one is free with
no person's send reserved ahead of it. So replies overtake a queue of reminders, and the
reminders fill whatever the replies leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.methods import (
    CopyMessage,
    CopyMessages,
    ForwardMessage,
    ForwardMessages,
    SendAnimation,
    SendAudio,
    SendContact,
    SendDice,
    SendDocument,
    SendLocation,
    SendMediaGroup,
    SendMessage,
    SendPhoto,
    SendPoll,
    SendSticker,
    SendVenue,
    SendVideo,
    SendVideoNote,
    SendVoice,
    TelegramMethod,
)
from aiogram.methods.base import Response, TelegramType
from aiogram.types import Update

from bot import metrics

log = logging.getLogger(__name__)

#: the calls that deliver a new message to a chat (edits and answers to buttons do not count)
SENDS = (
    SendMessage,
    SendDocument,
    SendPhoto,
    SendAudio,
    SendVoice,
    SendVideo,
    SendVideoNote,
    SendAnimation,
    SendSticker,
    SendMediaGroup,
    SendLocation,
    SendVenue,
    SendContact,
    SendPoll,
    SendDice,
    CopyMessage,
    CopyMessages,
    ForwardMessage,
    ForwardMessages,
)


_BACKGROUND: ContextVar[bool] = ContextVar("urapolku_background_sends", default=False)


@contextlib.contextmanager
def background_sends() -> Iterator[None]:
    """Within (and in tasks started within): sends are background work, which waits for the
    overall limit behind every person's reply (see the module's docstring)."""
    token = _BACKGROUND.set(True)
    try:
        yield
    finally:
        _BACKGROUND.reset(token)


_ON_WAIT: ContextVar[Callable[[], None] | None] = ContextVar("urapolku_on_limit_wait", default=None)


@contextlib.contextmanager
def on_limit_wait(callback: Callable[[], None]) -> Iterator[None]:
    """Within: ``callback`` is called whenever a send is about to wait for the limiter (it
    may be called more than once). The polling pipeline gives the update's handling slot
    back then: a turn whose replies wait for Telegram's pace uses no CPU or database."""
    token = _ON_WAIT.set(callback)
    try:
        yield
    finally:
        _ON_WAIT.reset(token)


async def wait_for_limit(seconds: float) -> None:
    """Sleep ``seconds`` for the limiter, telling :func:`on_limit_wait`'s callback first."""
    callback = _ON_WAIT.get()
    if callback is not None:
        callback()
    await asyncio.sleep(seconds)


def lane_of_this_send() -> str:
    """``background`` or ``person`` (the metrics' label)."""
    return "background" if in_background() else "person"


def in_background() -> bool:
    """Whether a send made here is background work (:func:`background_sends`)."""
    return _BACKGROUND.get()


@dataclass(slots=True)
class Bucket:
    """A token bucket: ``capacity`` at once, refilled at ``rate`` tokens a second."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    def reserve(self, now: float) -> float:
        """Take a token; return how long to wait before using it (0 if available now)."""
        paused = max(0.0, self.updated - now)  # see pause()
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = max(now, self.updated)
        self.tokens -= 1
        if self.tokens >= 0:
            return paused
        return paused + -self.tokens / self.rate

    def take_if_free(self, now: float) -> float:
        """Take a token if one is free now (0.0); otherwise take nothing and return how long
        until one may be. Tokens reserved ahead by :meth:`reserve` are not free."""
        paused = self.updated - now
        if paused > 0:
            return paused
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    def pause(self, now: float, seconds: float) -> None:
        """No tokens for ``seconds`` from ``now`` (Telegram answered 429)."""
        self.tokens = min(self.tokens, 0.0)
        self.updated = max(self.updated, now + seconds)


class OutgoingLimiter:
    def __init__(
        self,
        *,
        global_per_second: float = 25.0,
        global_burst: float | None = None,
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
        # The overall bucket lets ``global_burst`` (default: a second's worth) go at once.
        # Against a limit counted per sliding second, rate + burst must stay within it.
        burst = global_per_second if global_burst is None else max(1.0, global_burst)
        self._global = Bucket(global_per_second, burst, burst, clock())
        self._chats: OrderedDict[int | str, Bucket] = OrderedDict()
        self._window_capacity = max(1, math.floor(global_per_second + burst - 1))
        self._sent: deque[float] = deque()
        self._last_429 = -math.inf
        #: background sends pass it one at a time, each when a place in the overall limit is free
        self._door = asyncio.Lock()

    def delay_for(self, chat_id: int | str, *, overall: bool = True) -> float:
        """Reserve a slot for one message to ``chat_id`` (and, with ``overall``, in the overall
        limit); the wait before sending it."""
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
        if overall and self.global_per_second > 0:
            wait = max(wait, self._global.reserve(now))
        return wait

    def pause(self, chat_id: int | str, seconds: float) -> None:
        """Telegram answered 429 with ``retry_after``: nothing more to this chat until it has
        passed. A second 429 (any chat) within that time means the overall limit: then
        nothing at all goes until it has passed, so concurrent senders stop hitting it. (One
        429 alone is usually timing jitter at the edge of the limit; pausing everyone for it
        would cost a second's worth of messages each time.)"""
        now = self.clock()
        bucket = self._chats.get(chat_id)
        if bucket is not None:
            bucket.pause(now, seconds)
        if now - self._last_429 < max(1.0, seconds):
            self._global.pause(now, seconds)
        self._last_429 = now

    async def acquire(self, chat_id: int | str) -> None:
        """Wait until one message may go to ``chat_id`` (in the lane of :func:`in_background`)."""
        if in_background():
            await self._acquire_background(chat_id)
            return
        wait = self.delay_for(chat_id)
        if wait > 0:
            await wait_for_limit(wait)
        if self.global_per_second > 0:
            await self._enter_window()

    async def _acquire_background(self, chat_id: int | str) -> None:
        """The chat's slot as any send; then, through the door, a free place overall."""
        wait = self.delay_for(chat_id, overall=False)
        if wait > 0:
            await wait_for_limit(wait)
        if self.global_per_second <= 0:
            return
        async with self._door:
            wait = self._global.take_if_free(self.clock())
            while wait > 0:
                await wait_for_limit(wait)  # the time the bucket named, not a condition
                wait = self._global.take_if_free(self.clock())
            await self._enter_window(background=True)

    async def _enter_window(self, *, background: bool = False) -> None:
        """At most ``rate + burst - 1`` sends start in any sliding second, counted when they
        actually start (``background``: the send is background work; this process's door
        already let people's sends go first): a stalled event loop that wakes several reserved sends at once must
        not crowd them into one second (Telegram counts what arrives, not what we planned)."""
        while True:
            now = self.clock()
            while self._sent and self._sent[0] <= now - 1.0:
                self._sent.popleft()
            if len(self._sent) < self._window_capacity:
                self._sent.append(now)
                return
            await wait_for_limit(self._sent[0] + 1.0 - now)


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
        if not isinstance(method, SENDS):
            return await make_request(bot, method)
        chat_id = method.chat_id
        await metrics.time_send_wait(self.limiter.acquire(chat_id), lane_of_this_send())
        try:
            return await make_request(bot, method)  # type: ignore[arg-type]
        except Exception as exc:
            # a 429, possibly wrapped by an inner middleware (the outbox's guard)
            cause = exc if isinstance(exc, TelegramRetryAfter) else exc.__cause__
            if isinstance(cause, TelegramRetryAfter):
                self.limiter.pause(chat_id, float(cause.retry_after))
            raise


class Verdict(enum.Enum):
    """What flood control decides about one incoming update."""

    #: handled as usual
    PASS = "pass"
    #: dropped: the person is flooding and has been told so already
    DROP = "drop"
    #: dropped, and the first of a flood: the person hears "slow down" (once)
    SLOW_DOWN = "slow down"


class FloodControl:
    """Drops a person's updates beyond ``limit`` in ``window`` seconds, before the database.

    Updates are counted when they were sent (:meth:`judge`'s ``age``) or arrive, not when
    they are handled: :class:`~bot.telegram.arrival.ArrivalGate` asks as soon as an update
    comes in, before it waits behind the person's earlier updates. A person with ``backlog``
    updates waiting already (sending faster than they are answered) is flooding as well.

    A flood gets one answer (``on_flood``, "slow down"); it lasts until the person has been
    quiet for a whole window, so a long flood is not answered again and again. Dropped button
    presses are answered silently (the phone would otherwise spin). Group chats are not
    limited here (the coach group is trusted; other groups are ignored anyway).
    """

    def __init__(
        self,
        *,
        limit: int = 5,
        window: float = 2.0,
        backlog: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_people: int = 50_000,
        on_flood: Callable[[Update, dict[str, Any]], Awaitable[None]] | None = None,
    ) -> None:
        self.limit = limit
        self.window = window
        #: updates of one person waiting to be handled beyond which more is a flood
        self.backlog = 4 * limit if backlog is None else backlog
        self.clock = clock
        self.max_people = max_people
        self.on_flood = on_flood
        self._seen: OrderedDict[int, list[float]] = OrderedDict()
        #: when each flooding person's last dropped update came
        self._flooding: OrderedDict[int, float] = OrderedDict()
        self.dropped = 0

    def judge(self, user_id: int, *, age: float = 0.0, backlog: int = 0) -> Verdict:
        """Count one update of ``user_id``, sent ``age`` seconds ago, with ``backlog`` of
        theirs still waiting to be handled; whether it may be handled."""
        now = self.clock() - max(0.0, age)
        times = [t for t in self._seen.pop(user_id, []) if now - t < self.window]
        times.append(now)
        self._seen[user_id] = times
        if len(self._seen) > self.max_people:
            self._seen.popitem(last=False)
        if len(times) <= self.limit and backlog < self.backlog:
            return Verdict.PASS
        self.dropped += 1
        last = self._flooding.pop(user_id, None)
        self._flooding[user_id] = now
        if len(self._flooding) > self.max_people:
            self._flooding.popitem(last=False)
        if last is None or now - last >= self.window:
            return Verdict.SLOW_DOWN
        return Verdict.DROP

    async def refuse(self, update: Update, data: dict[str, Any], verdict: Verdict) -> None:
        """What a dropped update gets: "slow down" for the first of a flood (``on_flood``), a
        silent answer for a button press, nothing otherwise."""
        if verdict is Verdict.SLOW_DOWN and self.on_flood is not None:
            log.info("update %s: flood from a person; slowing down", update.update_id)
            await self.on_flood(update, data)
        elif update.callback_query is not None:
            bot: Bot = data["bot"]
            with contextlib.suppress(TelegramAPIError):
                await bot.answer_callback_query(update.callback_query.id)
