"""CPU per update inside the Dispatcher, without HTTP: Urapolku against the bare aiogram bot.

People walk the same turns as in bench/throughput.py (/start, then the first button or a typed
answer), one after another, through the real Dispatcher of each bot; Bot API calls are answered
by the offline session (bot/telegram/offline.py) instead of a server. The figure is the CPU time spent
inside ``Dispatcher.feed_update`` per update: the handlers, middlewares, database and engine,
without the cost of HTTP or of the Bot API stand-in, so it moves much less between runs than
the throughput benchmark and shows what the bot's own code costs.

    python bench/dispatch.py [--people 40] [--turns 15] [--rounds 3] [--phases]

``--phases`` also prints the wall time of the main steps of Urapolku's update (inclusive, per
update; the people take turns, so wall time is CPU time here, the database thread's included).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import gc
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bare_bot  # noqa: E402
import uvloop  # noqa: E402
from aiogram import Bot, Dispatcher  # noqa: E402
from aiogram.types import Update  # noqa: E402
from throughput import DONE, TYPED, next_button  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.factory import build_app, create_bot, create_dispatcher  # noqa: E402
from bot.runtime.eventloop import settle_heap  # noqa: E402
from bot.telegram.offline import ChatClient, OfflineSession  # noqa: E402

TOKEN = "42:BENCHMARK-token-abcdefghijklmnopqrstuvwxyz"


class Meter:
    """CPU seconds spent inside ``feed_update`` of the clients' dispatchers."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.updates = 0

    def client(self, dispatcher: Dispatcher, bot: Bot, session: OfflineSession, **kw: Any) -> Any:
        meter = self

        class Measured(ChatClient):
            async def feed(self, update: Update) -> list[Any]:
                start = len(self.session.calls)
                began = time.process_time()
                await self.dispatcher.feed_update(self.bot, update)
                meter.cpu += time.process_time() - began
                meter.updates += 1
                return self.session.calls[start:]

        return Measured(dispatcher, bot, session, **kw)


async def walk(person: ChatClient, turns: int) -> None:
    """The turns of bench/throughput.py's people."""
    await person.send("/start")
    for _ in range(turns):
        button = next_button(person.buttons, {DONE})
        if button is not None:
            await person.click(button)
        else:
            await person.send(TYPED)


class Phases:
    """Wall time per step of Urapolku's update, by wrapping a few methods (``--phases``)."""

    def __init__(self) -> None:
        self.seconds: collections.Counter[str] = collections.Counter()

    def wrap(self, owner: Any, name: str) -> None:
        original = getattr(owner, name)
        label = f"{owner.__name__}.{name}"
        seconds = self.seconds

        @functools.wraps(original)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                seconds[label] += time.perf_counter() - began

        setattr(owner, name, timed)

    def wrap_context(self, owner: Any, name: str) -> None:
        original = getattr(owner, name)
        label = f"{owner.__name__}.{name}"
        seconds = self.seconds

        @contextlib.asynccontextmanager
        async def timed(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            began = time.perf_counter()
            async with original(*args, **kwargs) as value:
                seconds[f"{label} (enter)"] += time.perf_counter() - began
                yield value
                began = time.perf_counter()
            seconds[f"{label} (exit)"] += time.perf_counter() - began

        setattr(owner, name, timed)

    def install(self) -> None:
        from bot.engine.runner import Engine
        from bot.telegram.conversation import Conversation
        from bot.telegram.fsm.sql import SqlStorage
        from bot.telegram.middlewares.unit_of_work import UnitOfWorkMiddleware
        from db import Database
        from db.repositories import AnswerRepository, StateRepository, UpdateRepository

        for owner, name in [
            (UnitOfWorkMiddleware, "_handle"),
            (Conversation, "run"),
            (Conversation, "deliver"),
            (Engine, "press"),
            (UpdateRepository, "context"),
            (UpdateRepository, "mark"),
            (AnswerRepository, "save"),
            (StateRepository, "put"),
            (SqlStorage, "set_data"),
        ]:
            self.wrap(owner, name)
        self.wrap_context(Database, "read")
        self.wrap_context(Database, "transaction")

    def report(self, updates: int) -> None:
        print("\nUrapolku, wall ms per update, inclusive (steps nest):")
        for label, seconds in self.seconds.most_common():
            print(f"  {label:36} {seconds / updates * 1000:7.3f}")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--turns", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--phases", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("DATA_KEY", "hLRmK5giwMZPK0BXn24OZ-_Zd8iqDiKq6l6oOmGl-XY=")
    update_ids = itertools.count(1)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            bot_token=None,
            database_url=f"sqlite+aiosqlite:///{tmp}/bench.sqlite3",
            dialogs_dir=ROOT / "dialogs",
            content_dir=ROOT / "content",
            flood_limit=1_000_000,
            outgoing_per_second=0,
        )
        app = await build_app(settings)
        ours_session = OfflineSession()
        ours = (create_dispatcher(app), create_bot(settings, session=ours_session, token=TOKEN))
        bare_session = OfflineSession()
        bare = Dispatcher()
        bare.include_router(bare_bot.build_router())
        bots: dict[str, tuple[Dispatcher, Bot, OfflineSession]] = {
            "bare aiogram bot": (bare, Bot(TOKEN, session=bare_session), bare_session),
            "urapolku, SQLite": (*ours, ours_session),
        }
        gc.collect()
        settle_heap()
        phases = Phases() if args.phases else None
        results: dict[str, list[float]] = {name: [] for name in bots}
        user_ids = itertools.count(100_000)

        async def run(name: str, people: int) -> float:
            dispatcher, bot, session = bots[name]
            meter = Meter()
            for _ in range(people):
                person = meter.client(
                    dispatcher, bot, session, user_id=next(user_ids), update_ids=update_ids
                )
                await walk(person, args.turns)
            return meter.cpu / meter.updates * 1000

        for name in bots:  # warm-up: first-use imports and caches are not counted
            await run(name, 3)
        if phases is not None:
            phases.install()
        print(f"{args.people} people x {args.turns + 1} updates, one after another, per round")
        calls_before = len(ours_session.calls)
        for number in range(args.rounds):
            order: list[str] = list(bots) if number % 2 == 0 else list(reversed(bots))
            for name in order:
                results[name].append(await run(name, args.people))
            bare_ms, ours_ms = (results[name][-1] for name in bots)
            print(
                f"round {number + 1}: bare {bare_ms:.2f} ms/update, urapolku {ours_ms:.2f} "
                f"ms/update, {ours_ms / bare_ms:.2f}x"
            )
        bare_ms, ours_ms = (statistics.median(results[name]) for name in bots)
        print(
            f"median: bare {bare_ms:.2f}, urapolku {ours_ms:.2f} ms/update: {ours_ms / bare_ms:.2f}x"
        )
        measured = args.people * (args.turns + 1) * args.rounds
        calls = (len(ours_session.calls) - calls_before) / measured
        print(f"urapolku's Bot API calls per update: {calls:.2f}")
        if phases is not None:
            phases.report(measured)
        await app.db.dispose()


if __name__ == "__main__":
    uvloop.run(main())
