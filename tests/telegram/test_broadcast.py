"""Reminders to many people against Telegram's limits: a 429 is honoured, and no
reminder is lost or sent twice. The Bot API stand-in enforces the limits over real HTTP; the
bot's limiter is set far above them on purpose, so that the stand-in answers 429."""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from bot.factory import create_bot
from bot.features import build_registry
from bot.features.events.jobs import send_notices
from bot.telegram.limits.local import OutgoingLimiter
from bot.telegram.limits.shared import PEOPLE_WAITING, SharedOutgoingLimiter, SharedWindow
from bot.telegram.standin import BotAPIStub
from db.models import EventNotice
from tests.features.events import test_events as ev
from tests.support import REDIS_URL, make_app, make_harness, make_settings, reachable

TOKEN = "123456:BROADCAST-token-abcdefghijklmnop"
PEOPLE = range(1001, 1013)


async def test_429s_are_honoured_and_no_reminder_is_lost_or_doubled(tmp_path: Path) -> None:
    app = await make_app(make_settings(tmp_path, bundled=True), build_registry())
    app.clock = ev.Clock(ev.NOW)
    h = make_harness(app)
    for user_id in PEOPLE:
        await ev.signed_up(h, user_id)
    clock = ev.clock(h)
    clock.now = datetime(2027, 1, 18, 10, 0, tzinfo=ev.HELSINKI)

    async with BotAPIStub(token=TOKEN, enforce_limits=True, global_per_second=4) as stub:
        for user_id in PEOPLE:
            stub.user(user_id, known=True)
        settings = app.settings.model_copy(
            update={
                "telegram_api_url": stub.base_url,
                "outgoing_per_second": 1000.0,
                "outgoing_burst": 1000.0,
            }
        )
        bot = create_bot(settings, token=TOKEN)
        try:
            sent = 0
            for _ in range(20):  # passes of the job; a row refused too often waits its turn
                sent += await send_notices(app, bot)
                if sent == len(PEOPLE):
                    break
                clock.now += timedelta(minutes=1)
        finally:
            await bot.session.close()

    assert stub.rejected > 0  # the stand-in did answer 429
    per_chat = Counter(m.chat_id for m in stub.delivered)
    assert per_chat == dict.fromkeys(PEOPLE, 1)  # everyone once: none lost, none twice
    assert {m.text for m in stub.delivered} == {ev.REMINDER_DAY}
    async with app.db.read() as session:
        rows = await session.execute(
            select(EventNotice.status, func.count())
            .where(EventNotice.kind == "day_before")
            .group_by(EventNotice.status)
        )
        assert dict(rows.all()) == {"sent": len(PEOPLE)}
    await app.db.dispose()


def test_a_429_pauses_the_chat_and_a_second_one_everyone() -> None:
    now = [0.0]
    limiter = OutgoingLimiter(global_per_second=28, global_burst=1, clock=lambda: now[0])
    assert limiter.delay_for(1) == 0
    assert limiter.delay_for(2) > 0  # the next overall slot
    now[0] = 1.0
    limiter.pause(1, 3.0)  # Telegram: retry after 3 s
    assert limiter.delay_for(1) >= 3.0
    assert limiter.delay_for(3) < 1.0  # one 429: the others go on
    limiter.pause(3, 3.0)  # another one within those 3 s: the overall limit
    assert limiter.delay_for(4) >= 3.0
    now[0] = 10.0
    assert limiter.delay_for(5) == 0  # and then it is over


def test_the_overall_bucket_keeps_rate_plus_burst_within_a_second() -> None:
    now = [0.0]
    limiter = OutgoingLimiter(global_per_second=28, global_burst=1, clock=lambda: now[0])
    waits = [limiter.delay_for(1000 + i) for i in range(60)]
    # sends start at 0, 1/28, 2/28, …: no sliding second holds more than 28 + 1 - 1
    starts = sorted(waits)
    assert max(sum(1 for s in starts if t <= s < t + 1.0 - 1e-9) for t in starts) <= 28


async def test_workers_share_one_send_window_in_redis() -> None:
    if not reachable("127.0.0.1", 6379):
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    from redis.asyncio import Redis

    key = f"urapolku:test-outgoing:{os.getpid()}"
    one, two = Redis.from_url(REDIS_URL), Redis.from_url(REDIS_URL)  # two workers' clients
    try:
        a = SharedWindow(one, 5, window=60.0, key=key)
        b = SharedWindow(two, 5, window=60.0, key=key)
        waits = [await w.try_take() for w in (a, b, a, b, a, b, a)]
        assert waits[:5] == [0.0] * 5
        assert all(w > 0 for w in waits[5:])  # the sixth send of either waits
    finally:
        await one.delete(key)
        await one.aclose()
        await two.aclose()


async def test_without_redis_a_worker_falls_back_to_its_share() -> None:
    from redis.asyncio import Redis

    unreachable = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.5)
    limiter = SharedOutgoingLimiter(
        unreachable, global_per_second=28, fallback_per_second=7, key="unused"
    )
    await limiter.acquire(1001)  # logged, not raised
    assert limiter._warned
    await unreachable.aclose()


async def test_workers_background_sends_wait_while_a_persons_send_waits() -> None:
    url = urlsplit(REDIS_URL)
    if not reachable(url.hostname or "127.0.0.1", url.port or 6379):
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    from redis.asyncio import Redis

    key = f"urapolku:test-lanes:{os.getpid()}"
    redis = Redis.from_url(REDIS_URL)
    try:
        full = SharedWindow(redis, 1, window=60.0, key=key)
        assert await full.try_take() == 0.0
        assert await full.try_take() > 0  # a person's send has to wait: people are waiting
        assert await redis.pttl(key + PEOPLE_WAITING) > 0
        await redis.delete(key)  # a place is free again, but the person has not taken it yet
        assert await full.try_take(background=True) > 0  # background does not take it …
        assert await full.try_take() == 0.0  # … the person does
        await redis.delete(key, key + PEOPLE_WAITING)
        assert await full.try_take(background=True) == 0.0  # nobody waiting: background goes
    finally:
        await redis.delete(key, key + PEOPLE_WAITING)
        await redis.aclose()
