"""Incoming flood control and the outgoing rate limiter."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiogram.methods import SendMessage
from sqlalchemy import func, select

from bot.factory import create_bot
from bot.telegram.limits.local import OutgoingLimiter, background_sends
from bot.telegram.offline import OfflineSession
from db.models import ProcessedUpdate
from tests.support import TEST_TOKEN, make_app, make_harness, make_settings


async def test_flood_gets_one_slow_down_and_no_database_growth(tmp_path: Path) -> None:
    app = await make_app(make_settings(tmp_path, flood_limit=5))
    harness = make_harness(app)
    person = harness.person()
    replies: list[str] = []
    for i in range(12):
        calls = await person.send(f"viesti {i}")
        replies += [c.text for c in calls if isinstance(c, SendMessage)]
    assert replies.count("SLOW-fi") == 1
    async with app.db.read() as session:
        handled = await session.scalar(select(func.count()).select_from(ProcessedUpdate))
    assert handled == 5  # the dropped ones left no trace
    await app.db.dispose()


def test_limiter_spaces_sends_per_chat_group_and_overall() -> None:
    now = [0.0]
    limiter = OutgoingLimiter(global_per_second=25, clock=lambda: now[0])
    # a private chat: a burst of 5 (one turn's messages), then one a second
    assert [limiter.delay_for(1) for _ in range(7)] == [0, 0, 0, 0, 0, 1.0, 2.0]
    # a group: a burst of 5, then 20 a minute (one every 3 s)
    waits = [limiter.delay_for(-100) for _ in range(7)]
    assert waits[:5] == [0, 0, 0, 0, 0]
    assert [round(w, 6) for w in waits[5:]] == [3.0, 6.0]
    # overall: 25 chats at once fit the global burst; the 26th waits 1/25 s
    fresh = OutgoingLimiter(global_per_second=25, clock=lambda: now[0])
    overall = [fresh.delay_for(1000 + i) for i in range(27)]
    assert overall[:25] == [0] * 25
    assert [round(w, 6) for w in overall[25:]] == [0.04, 0.08]


def test_limiter_forgets_old_chats() -> None:
    limiter = OutgoingLimiter(max_chats=10, clock=lambda: 0.0)
    for chat in range(100):
        limiter.delay_for(chat + 1)
    assert len(limiter._chats) == 10


async def test_send_that_may_have_arrived_is_not_repeated(harness: object) -> None:
    """A timeout after a message left must not deliver it twice; 'cannot connect' is retried."""
    from aiogram.exceptions import TelegramNetworkError

    from bot.telegram.session import RetryMiddleware

    h = harness  # type: ignore[assignment]
    for middleware in h.bot.session.middleware._middlewares:  # type: ignore[attr-defined]
        if isinstance(middleware, RetryMiddleware):
            middleware.base_delay = 0.0
    person = h.person()
    h.session.fail_next(
        SendMessage, lambda m: TelegramNetworkError(method=m, message="Request timeout error")
    )
    await person.send("/start")
    question = "Kieli? · Språk? · Language?"
    asked = [c for c in h.session.calls_of(SendMessage) if c.text == question]
    assert len(asked) == 1  # tried once, not repeated (then the error boundary speaks)

    h.session.fail_next(
        SendMessage,
        lambda m: TelegramNetworkError(method=m, message="ClientConnectorError: refused"),
    )
    await person.send("/start")  # a returning person is greeted first
    greeted = [c for c in h.session.calls_of(SendMessage) if c.text.startswith("WELCOME-BACK")]
    assert len(greeted) == 2  # refused, then sent on the retry


async def test_a_persons_reply_overtakes_queued_background_sends(tmp_path: Path) -> None:
    limiter = OutgoingLimiter(global_per_second=20, global_burst=1)
    session = OfflineSession()
    bot = create_bot(make_settings(tmp_path), session=session, token=TEST_TOKEN, limiter=limiter)

    async def reminder(number: int) -> None:
        with background_sends():
            await bot.send_message(2000 + number, f"muistutus {number}")

    reminders = [asyncio.create_task(reminder(i)) for i in range(10)]
    while not session.calls_of(SendMessage):  # noqa: ASYNC110 - the first one has gone
        await asyncio.sleep(0.001)
    gone = len(session.calls_of(SendMessage))
    await bot.send_message(1001, "vastaus")  # a turn's reply, with nine reminders queued
    await asyncio.gather(*reminders)
    texts = [c.text for c in session.calls_of(SendMessage)]
    assert texts.index("vastaus") == gone  # next, ahead of every reminder still waiting
    assert sorted(t for t in texts if t != "vastaus") == sorted(
        f"muistutus {i}" for i in range(10)
    )  # and no reminder lost or doubled


def test_background_takes_only_a_free_place_overall() -> None:
    now = [0.0]
    limiter = OutgoingLimiter(global_per_second=10, global_burst=1, clock=lambda: now[0])
    assert limiter._global.take_if_free(now[0]) == 0  # free: taken
    assert limiter._global.take_if_free(now[0]) == 0.1  # none free: nothing taken
    assert limiter.delay_for(1001) == 0.1  # a person's send reserves the next one …
    now[0] = 0.1
    assert limiter._global.take_if_free(now[0]) == 0.1  # … so background waits behind it
    now[0] = 0.2
    assert limiter._global.take_if_free(now[0]) == 0
