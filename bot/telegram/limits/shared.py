"""Telegram's overall limit shared by several workers through Redis.

Telegram counts a bot's messages, not a process's. With one worker the
:class:`~bot.telegram.limits.local.OutgoingLimiter` keeps the pace alone. With N workers and REDIS_URL set,
every send also takes a place in one sliding window in Redis (a sorted set of send times,
trimmed and counted by a Lua script using Redis's own clock), so the workers together stay
within OUTGOING_PER_SECOND + OUTGOING_BURST - 1 sends in any second, and a worker that is the
only one sending (a batch of reminders) gets the whole rate. Without Redis each worker gets
OUTGOING_PER_SECOND / N (see :mod:`bot.runtime.workers`).

People first across workers too: a person's send that finds the window full marks, in Redis,
that people are waiting (for as long as it was told to wait), and background sends of every
worker (:func:`~bot.telegram.limits.local.background_sends`) take no place while the mark is
there. Within a worker the local door already lets people's sends go first.

If Redis does not answer, the worker falls back to its own share of the rate (logged once);
Telegram's limits are a matter of speed, not of correctness.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from bot.telegram.limits.local import OutgoingLimiter, wait_for_limit

log = logging.getLogger(__name__)

KEY = "urapolku:outgoing"

#: a person's send waited here: background sends hold back until it expires
PEOPLE_WAITING = ":people-waiting"

#: take a place in the window, or answer how many milliseconds until there is one. ARGV[4]:
#: "1" for a person's send (marks KEYS[2] when it has to wait), "0" for background work
#: (waits while KEYS[2] is there).
_TAKE = """
if ARGV[4] == '0' then
  local held = redis.call('PTTL', KEYS[2])
  if held > 0 then
    return held
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = math.max(1, tonumber(oldest[2]) + window - now)
if ARGV[4] == '1' and redis.call('PTTL', KEYS[2]) < wait + 50 then
  redis.call('SET', KEYS[2], '1', 'PX', wait + 50)
end
return wait
"""


class SharedWindow:
    """At most ``capacity`` sends in any ``window`` seconds across every process using ``key``."""

    def __init__(self, redis: Any, capacity: int, *, window: float = 1.0, key: str = KEY) -> None:
        self.redis = redis
        self.capacity = capacity
        self.window_ms = max(1, int(window * 1000))
        self.key = key
        self._script = redis.register_script(_TAKE)
        self._tag = secrets.token_hex(4)
        self._ids = itertools.count()

    async def try_take(self, *, background: bool = False) -> float:
        """Take a place now (0.0) or return the seconds to wait before trying again."""
        member = f"{self._tag}:{next(self._ids)}"
        wait_ms = await self._script(
            keys=[self.key, self.key + PEOPLE_WAITING],
            args=[self.capacity, self.window_ms, member, "0" if background else "1"],
        )
        return int(wait_ms) / 1000

    async def take(self, *, background: bool = False) -> None:
        while True:
            wait = await self.try_take(background=background)
            if wait <= 0:
                return
            await wait_for_limit(wait)  # a time Redis named, not a condition to wait for


class SharedOutgoingLimiter(OutgoingLimiter):
    """The outgoing limiter whose overall window is shared through Redis (per-chat buckets
    stay per process: one chat's updates mostly reach one worker at a time)."""

    def __init__(
        self,
        redis: Any,
        *,
        global_per_second: float,
        global_burst: float = 1.0,
        fallback_per_second: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        key: str = KEY,
    ) -> None:
        super().__init__(
            global_per_second=global_per_second, global_burst=global_burst, clock=clock
        )
        # the same sliding-second capacity as the per-process window it replaces
        self.shared = SharedWindow(redis, self._window_capacity, key=key)
        #: this worker's share, used while Redis does not answer
        self.fallback = OutgoingLimiter(
            global_per_second=fallback_per_second or global_per_second,
            global_burst=global_burst,
            clock=clock,
        )
        self._warned = False

    async def _enter_window(self, *, background: bool = False) -> None:
        try:
            await self.shared.take(background=background)
            self._warned = False
        except Exception as exc:  # Redis down or unreachable: go on at our own share
            if not self._warned:
                log.warning("shared send rate unavailable (%s); using this worker's share", exc)
                self._warned = True
            wait = self.fallback._global.reserve(self.clock())
            if wait > 0:
                await wait_for_limit(wait)


def shared_limiter(
    redis_url: str, *, per_second: float, burst: float, workers: int
) -> SharedOutgoingLimiter:
    """The limiter of one of ``workers`` workers sharing ``per_second`` through Redis."""
    from redis.asyncio import Redis  # the optional 'scale' extra: imported only with REDIS_URL

    redis = Redis.from_url(redis_url)
    return SharedOutgoingLimiter(
        redis,
        global_per_second=per_second,
        global_burst=burst,
        fallback_per_second=per_second / max(1, workers),
    )
