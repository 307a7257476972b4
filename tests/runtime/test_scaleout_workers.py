"""Two workers on one database: each with its own App, Database (engine and
connection pool) and Dispatcher, as two processes would have, talking to one "Telegram" (one
offline session). On a SQLite file and on PostgreSQL: what keeps them from doing things twice
must be in the database, because nothing else is shared.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.methods import AnswerCallbackQuery, SendDocument, SendMessage
from aiogram.types import Chat, Message, MessageEntity, Update, User
from sqlalchemy import func, select

from bot.app import App
from bot.factory import create_bot, create_dispatcher
from bot.features import build_registry
from bot.features.events.browser import NOTICES_JOB
from bot.features.events.jobs import send_notices
from bot.features.handoff.cards import CLAIM, CardAction
from bot.features.handoff.outbox import deliver_outbox
from bot.runtime.scheduler import Scheduler
from bot.telegram.offline import OfflineSession
from db import Database
from db.models import OutboxMessage, ProcessedUpdate
from db.repositories import CLAIMED
from tests.features.events import test_events as ev
from tests.features.handoff import support as hs
from tests.support import TEST_TOKEN, Harness, fresh_postgres, make_app, make_settings


@pytest.fixture(params=["sqlite", "postgresql"])
async def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """One database for both workers: a SQLite file, or PostgreSQL when it is reachable."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite3'}"
        return
    database = await fresh_postgres()
    url = database.url
    await database.dispose()
    yield url


@dataclass
class Workers:
    a: Harness
    b: Harness
    session: OfflineSession
    bot: Bot

    @property
    def both(self) -> tuple[Harness, Harness]:
        return self.a, self.b


async def two_workers(app: App) -> AsyncIterator[Workers]:
    """``app`` is worker A; worker B gets the same settings and content and its own pool."""
    other = App(
        settings=app.settings,
        db=Database(app.settings.database_url),
        content=app.content,
        actions=app.actions,
        clock=app.clock,
    )
    session = OfflineSession()
    bot = create_bot(app.settings, session=session, token=TEST_TOKEN)
    a = Harness(app=app, dispatcher=create_dispatcher(app), bot=bot, session=session)
    b = Harness(app=other, dispatcher=create_dispatcher(other), bot=bot, session=session)
    b.update_ids = a.update_ids
    yield Workers(a, b, session, bot)
    await other.db.dispose()
    await app.db.dispose()


@pytest.fixture
async def handoff_workers(tmp_path: Path, shared_url: str) -> AsyncIterator[Workers]:
    app = await hs.make_handoff_app(tmp_path, database_url=shared_url)
    async for workers in two_workers(app):
        yield workers


@pytest.fixture
async def event_workers(tmp_path: Path, shared_url: str) -> AsyncIterator[Workers]:
    app = await make_app(
        make_settings(tmp_path, bundled=True, database_url=shared_url), build_registry()
    )
    app.clock = ev.Clock(ev.NOW)
    async for workers in two_workers(app):
        yield workers


def to_chat(calls: list[object], chat_id: int) -> list[SendMessage]:
    return [c for c in calls if isinstance(c, SendMessage) and c.chat_id == chat_id]


async def test_a_coach_request_is_announced_claimed_and_confirmed_once(w: Workers) -> None:
    person = await hs.onboard(w.a)
    await hs.ask_for_coach(person, details=None)

    # both workers' outbox jobs at once: one card in the coach group
    delivered = await asyncio.gather(*(deliver_outbox(h.app, w.bot) for h in w.both))
    assert sorted(delivered) == [0, 1]
    assert len(to_chat(w.session.calls, hs.GROUP)) == 1
    req = await hs.latest_request(w.a)
    card = hs.card_message(w.a, req)

    # Anna presses "take it" on worker A, Ben at the same moment on worker B
    anna, ben = hs.coach(w.a, hs.ANNA, "Anna"), hs.coach(w.b, hs.BEN, "Ben")
    data = CardAction(op=CLAIM, rid=req.id).pack()
    start = len(w.session.calls)
    await asyncio.gather(anna.press(data, card), ben.press(data, card))
    toasts = sorted(
        str(c.text) for c in w.session.calls[start:] if isinstance(c, AnswerCallbackQuery)
    )
    req = await hs.latest_request(w.a)
    assert req.status == CLAIMED
    assert req.coach_name is not None
    assert toasts == sorted(
        [
            "Pyyntö on nyt sinun. Matti sai tiedon.",
            f"{req.coach_name} ehti ottaa tämän pyynnön ensin.",
        ]
    )

    # "a coach has your request": queued once, sent once by the two outboxes
    async with w.a.app.db.read() as session:
        notes = await session.scalar(
            select(func.count()).where(
                OutboxMessage.kind == "to_person", OutboxMessage.telegram_chat_id == hs.PERSON
            )
        )
    assert notes == 1
    start = len(w.session.calls)
    await asyncio.gather(*(deliver_outbox(h.app, w.bot) for h in w.both))
    [told] = to_chat(w.session.calls[start:], hs.PERSON)
    assert told.text.startswith(f"Hyviä uutisia: {req.coach_name}")


async def test_a_reminder_goes_out_once_from_two_workers(w_events: Workers) -> None:
    w = w_events
    for user_id in (1001, 1002, 1003):
        await ev.signed_up(w.a, user_id)
    ev.clock(w.a).now = datetime(2027, 1, 18, 10, 0, tzinfo=ev.HELSINKI)
    start = len(w.session.calls)

    # the notices job of both workers at once, without the lease: the row claims decide
    sent = await asyncio.gather(*(send_notices(h.app, w.bot) for h in w.both))
    assert sum(sent) == 3
    reminders = [c for c in w.session.calls[start:] if isinstance(c, SendMessage)]
    assert sorted(c.chat_id for c in reminders) == [1001, 1002, 1003]
    assert {c.text for c in reminders} == {ev.REMINDER_DAY}


async def test_the_scheduled_notices_job_runs_in_one_worker(w_events: Workers) -> None:
    w = w_events
    await ev.signed_up(w.a, 1001)
    ev.clock(w.a).now = datetime(2027, 1, 18, 10, 0, tzinfo=ev.HELSINKI)
    schedulers = []
    for name, h in (("a", w.a), ("b", w.b)):
        scheduler = Scheduler(h.app, w.bot, holder=name)
        scheduler.every(30, NOTICES_JOB, send_notices)
        schedulers.append(scheduler)
    start = len(w.session.calls)
    turns = await asyncio.gather(*(s.run_leased(NOTICES_JOB, woken=False) for s in schedulers))
    assert sorted(turns, key=str) == [1, None]  # one ran it; the other skipped the tick
    [reminder] = [c for c in w.session.calls[start:] if isinstance(c, SendMessage)]
    assert (reminder.chat_id, reminder.text) == (1001, ev.REMINDER_DAY)


async def test_the_last_seat_taken_on_two_workers_at_once(w_events: Workers) -> None:
    w = w_events
    await ev.fill(w.a, 11)
    anna = await ev.onboard(w.a, 1001)
    ben = await ev.onboard(w.b, 1002)
    await anna.send(f"/start ev_{ev.YK}")
    await ben.send(f"/start ev_{ev.YK}")
    await anna.click("✍️ Ilmoittaudu")  # which run: the first
    await ben.click("✍️ Ilmoittaudu")
    start = len(w.session.calls)
    await asyncio.gather(anna.click(ev.YK_RUN), ben.click(ev.YK_RUN))
    documents = [c for c in w.session.calls[start:] if isinstance(c, SendDocument)]
    assert len(documents) == 1  # one seat, one calendar file
    statuses = await ev.signups(w.a)
    assert sum(1 for _, s in statuses if s == "active") == 12


async def test_an_update_delivered_to_both_workers_is_handled_once(w_events: Workers) -> None:
    w = w_events
    user = User(id=4242, is_bot=False, first_name="Web", language_code="fi")
    update = Update(
        update_id=777_777,
        message=Message(
            message_id=1,
            date=datetime(2027, 1, 5, 8, 0),
            chat=Chat(id=4242, type="private", first_name="Web"),
            from_user=user,
            text="/start",
            entities=[MessageEntity(type="bot_command", offset=0, length=6)],
        ),
    )
    await asyncio.gather(*(h.dispatcher.feed_update(w.bot, update) for h in w.both))
    replies = to_chat(w.session.calls, 4242)
    assert len(replies) == 1
    assert replies[0].text == "Valitse kieli · Välj språk · Choose language"
    async with w.a.app.db.read() as session:
        marked = await session.scalar(
            select(func.count()).where(ProcessedUpdate.update_id == 777_777)
        )
    assert marked == 1


@pytest.fixture
def w(handoff_workers: Workers) -> Workers:
    return handoff_workers


@pytest.fixture
def w_events(event_workers: Workers) -> Workers:
    return event_workers
