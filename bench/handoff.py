"""Benchmark: 1,000 people ask for a coach at the same moment, on SQLite.

    .venv/bin/python bench/handoff.py [--people 1000] [--workers 3] [--failures 0.2] [--seed 7]

Everyone first goes through /start (not timed). Then all of them go through the bundled
handoff dialog at once — "Talk to a coach", a topic, a few words, "here in the chat" — through
the real Dispatcher with an offline Bot API, each person's turns in order, all people
concurrently. Then several outbox workers deliver the cards at the same time while the Bot API
refuses a share of the sends (429, 500, connection refused). Prints requests per second, the
delivery time, and the check that matters: requests stored, cards delivered, lost, twice.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import random
import re
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from sqlalchemy import func, select

from bot.app import App
from bot.config import Settings
from bot.content.snapshot import load_content
from bot.engine.actions import ActionContext, ActionResult
from bot.factory import create_bot, create_dispatcher
from bot.features import build_registry, content_sections
from bot.features.handoff.outbox import deliver_outbox
from bot.telegram.offline import ChatClient, OfflineSession
from db import Database
from db.migrate import upgrade
from db.models import HandoffRequest, OutboxMessage

ROOT = Path(__file__).resolve().parent.parent
GROUP = -1001000000001
TOKEN = "42:BENCH-TOKEN-abcdefghijklmnopqrstuvwxyz"
CARD = re.compile(r"^🆕 <b>\D*#(\d+)</b>")


class FlakySession(OfflineSession):
    """The offline Bot API, refusing a share of the sends to the coach group."""

    def __init__(self, rate: float, rng: random.Random) -> None:
        super().__init__()
        self.rate = rate
        self.rng = rng
        self.refused: Counter[str] = Counter()

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        if (
            isinstance(method, SendMessage)
            and int(method.chat_id) == GROUP
            and self.rng.random() < self.rate
        ):
            kind = self.rng.choice(("429", "500", "connect"))
            self.refused[kind] += 1
            self.calls.append(method)
            if kind == "429":
                raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=3)
            if kind == "500":
                raise TelegramServerError(method=method, message="Internal Server Error")
            raise TelegramNetworkError(method=method, message="ClientConnectorError: refused")
        return await super().make_request(bot, method, timeout)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Monday 10:00 in Helsinki

    def __call__(self) -> datetime:
        return self.now


async def _nothing(ctx: ActionContext) -> ActionResult:
    return ActionResult()


async def build(directory: Path, rate: float, rng: random.Random) -> tuple[App, Any, Any]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite+aiosqlite:///{directory / 'bench.sqlite3'}",
        dialogs_dir=ROOT / "dialogs",
        content_dir=ROOT / "content",
        coach_chat_id=GROUP,
        admin_ids=[],
        flood_limit=1_000_000,
    )
    registry = build_registry()
    for name in ("recommend", "browse_events"):  # other features' actions, if not there yet
        if name not in registry:
            registry.register(name, _nothing)
    content = load_content(
        settings.dialogs_dir,
        settings.content_dir,
        default_language="fi",
        actions=registry,
        sections=content_sections(),
    )
    database = Database(settings.database_url)
    await upgrade(database)
    app = App(settings=settings, db=database, content=content, actions=registry, clock=Clock())
    session = FlakySession(rate, rng)
    bot = create_bot(settings, session=session, token=TOKEN)
    return app, session, (create_dispatcher(app), bot)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=3, help="outbox workers at once")
    parser.add_argument("--failures", type=float, default=0.2, help="share of refused sends")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    # refused sends are the point here: their retries are expected, not news
    logging.basicConfig(level=logging.ERROR)

    with tempfile.TemporaryDirectory() as tmp:
        app, session, (dispatcher, bot) = await build(Path(tmp), args.failures, rng)
        shared = itertools.count(1)
        people = [
            ChatClient(
                dispatcher, bot, session, user_id=100_000 + i, first_name=f"P{i}", update_ids=shared
            )
            for i in range(args.people)
        ]

        started = time.perf_counter()
        for person in people:  # onboarding, not timed in the figures below
            await person.send("/start")
            await person.click("Suomi")
            await person.click("Kyllä, tallenna vastaukseni")
        onboarding = time.perf_counter() - started

        async def ask(person: ChatClient) -> None:
            await person.click("Puhu valmentajan kanssa")
            await person.click("Työnhaku")
            await person.send("Tarvitsen apua työnhakuun")
            await person.click("Viestillä tässä chatissa")

        started = time.perf_counter()
        await asyncio.gather(*(ask(p) for p in people))
        asking = time.perf_counter() - started

        started = time.perf_counter()
        passes = 0
        while True:
            passes += 1
            done = await asyncio.gather(*(deliver_outbox(app, bot) for _ in range(args.workers)))
            async with app.db.read() as db:
                waiting = await db.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status.in_(("pending", "sending", "held")))
                )
            if not waiting or passes > 500:
                break
            if not any(done):
                app.clock.now += timedelta(seconds=10)  # type: ignore[attr-defined]
        delivering = time.perf_counter() - started

        async with app.db.read() as db:
            stored = await db.scalar(select(func.count()).select_from(HandoffRequest))
            people_with_requests = await db.scalar(
                select(func.count(func.distinct(HandoffRequest.person_id)))
            )
            statuses = dict(
                (
                    await db.execute(
                        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                    )
                ).all()
            )
        delivered = Counter(
            int(m.group(1))
            for (chat, _), message in session.messages.items()
            if chat == GROUP and (m := CARD.match(message.text or ""))
        )
        twice = sum(1 for n in delivered.values() if n > 1)
        lost = args.people - len(delivered)
        saved = app.t("handoff.received", "fi").split("{")[0]
        told = sum(
            1
            for (chat, _), message in session.messages.items()
            if chat > 0 and (message.text or "").startswith(saved)
        )
        errors = sum(
            1
            for (chat, _), message in session.messages.items()
            if chat > 0 and message.text == app.t("bot.error", "fi")
        )
        await app.db.dispose()

    print(f"people                       {args.people}")
    print(f"onboarding (not timed)       {onboarding:.1f} s")
    print(f"asking for a coach, at once  {asking:.2f} s")
    print(f"  requests/s                 {args.people / asking:.0f}")
    print(f"requests stored              {stored} (people with a request: {people_with_requests})")
    print(f"people told 'saved'          {told}")
    print(f"turns that failed            {errors}")
    print(
        f"outbox: {args.workers} workers, {passes} passes, {delivering:.2f} s; "
        f"refused sends {dict(session.refused)}; rows {statuses}"
    )
    print(f"cards delivered              {len(delivered)}")
    print(f"lost                         {lost}")
    print(f"delivered twice              {twice}")


if __name__ == "__main__":
    asyncio.run(main())
