"""Benchmark: 10,000 event reminders due at once, through a stand-in that enforces Telegram's
limits (30 messages a second overall, 1 a second per chat, 429 with ``retry_after`` beyond).

    .venv/bin/python bench/broadcast.py [--count 10000] [--rate 28] [--burst 1] [--postgres]
                                        [--workers 1]

10,000 people have signed up for the same session; their day-before reminders are due. The
real scheduler (job leases, draining passes) runs the real notices job with the real Bot:
aiohttp session, retrying middleware and the outgoing limiter at OUTGOING_PER_SECOND. With
``--workers N``, N schedulers (each with its own database pool and Bot, sharing the overall
rate as ``urapolku run --workers N`` does: 1/N each, or one window in Redis with ``--redis``)
compete for the job. Prints the delivery rate as a
share of Telegram's limit (target ≥ 0.9), the 429s the stand-in answered, and the check that
matters: every reminder delivered, none twice (counted per chat in the stand-in).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import func, select  # noqa: E402
from throughput import fresh_postgres  # noqa: E402

from bot.app import App  # noqa: E402
from bot.catalogue import HELSINKI  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.content.snapshot import load_content  # noqa: E402
from bot.factory import configure_data_key, create_bot  # noqa: E402
from bot.features import build_registry, content_sections  # noqa: E402
from bot.features.events import jobs as events_jobs  # noqa: E402
from bot.features.events.browser import DAY_BEFORE  # noqa: E402
from bot.runtime.scheduler import Scheduler  # noqa: E402
from bot.runtime.workers import worker_rate  # noqa: E402
from bot.telegram.limits.shared import shared_limiter  # noqa: E402
from bot.telegram.standin import BotAPIStub  # noqa: E402
from db import Database  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import EventNotice, EventSignup, Person  # noqa: E402

TOKEN = "123456:BROADCAST-token-abcdefghijklmnop"
TELEGRAM_LIMIT = 30.0
ITEM = "yrittajakaverit-karkkila"
STARTS = datetime(2027, 1, 19, 9, 0, tzinfo=HELSINKI)
DUE = datetime(2027, 1, 18, 10, 0, tzinfo=HELSINKI)
FIRST_ID = 300_000
REDIS = "redis://127.0.0.1:6379/12"


class FixedClock:
    def __call__(self) -> datetime:
        return DUE


async def seed(database: Database, count: int) -> None:
    """10,000 sign-ups with a due reminder. Benchmark setup only: the bot's own code writes
    through db/repositories/; this fills the tables in bulk."""
    async with database.transaction() as session:
        people = [
            Person(telegram_id=FIRST_ID + i, language="fi", consent_version=1) for i in range(count)
        ]
        session.add_all(people)
        await session.flush()
        signups = [
            EventSignup(person_id=p.id, item_id=ITEM, starts_at=STARTS, status="active")
            for p in people
        ]
        session.add_all(signups)
        await session.flush()
        session.add_all(
            EventNotice(signup_id=s.id, kind=DAY_BEFORE, due_at=DUE, status="pending", attempts=0)
            for s in signups
        )


async def statuses(database: Database) -> dict[str, int]:
    async with database.read() as session:
        rows = await session.execute(
            select(EventNotice.status, func.count()).group_by(EventNotice.status)
        )
        return {str(status): int(n) for status, n in rows}


@contextlib.contextmanager
def stand_in_thread() -> Iterator[BotAPIStub]:
    """The stand-in on its own event loop in a thread: like Telegram, it counts requests when
    they arrive, not when the bot's (busy) event loop gets round to them."""
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        holder["loop"] = loop
        stub = BotAPIStub(token=TOKEN, enforce_limits=True)
        holder["stub"] = stub
        holder["stop"] = asyncio.Event()

        async def main() -> None:
            await stub.start()
            ready.set()
            await holder["stop"].wait()
            await stub.stop()

        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=serve, name="stand-in", daemon=True)
    thread.start()
    ready.wait(30)
    try:
        yield holder["stub"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(30)


async def run(args: argparse.Namespace, database_url: str) -> None:
    with stand_in_thread() as stub:
        base = Settings(  # type: ignore[call-arg]
            _env_file=None,
            bot_token=TOKEN,
            telegram_api_url=stub.base_url,
            database_url=database_url,
            dialogs_dir=ROOT / "dialogs",
            content_dir=ROOT / "content",
            environment="development",
            outgoing_per_second=args.rate,
            outgoing_burst=args.burst,
        )
        configure_data_key(base)
        if args.lanes:
            events_jobs.LANES = args.lanes  # type: ignore[misc]
        share = args.rate if args.redis else worker_rate(base, args.workers)
        settings = base.model_copy(update={"outgoing_per_second": share})
        actions = build_registry()
        content = load_content(
            settings.dialogs_dir,
            settings.content_dir,
            default_language="fi",
            actions=actions,
            sections=content_sections(),
        )
        setup = Database(database_url)
        await upgrade(setup)
        await seed(setup, args.count)
        for i in range(args.count):
            stub.user(FIRST_ID + i, known=True)

        schedulers: list[Scheduler] = []
        limiters: list[Any] = []
        for n in range(args.workers):
            app = App(
                settings=settings,
                db=Database(database_url),
                content=content,
                actions=actions,
                clock=FixedClock(),
            )
            limiter = None
            if args.redis:
                limiter = shared_limiter(
                    REDIS, per_second=args.rate, burst=args.burst, workers=args.workers
                )
            bot = create_bot(settings, limiter=limiter)
            if limiter is not None:
                limiters.append(limiter)
            scheduler = Scheduler(app, bot, holder=f"worker-{n}")
            app.scheduler = scheduler
            events_jobs.register(scheduler)
            schedulers.append(scheduler)

        last_delivery = [0.0]

        def delivered(message: object, event: str) -> None:
            if event == "sent":
                last_delivery[0] = time.perf_counter()

        stub.on_bot_message = delivered
        started = time.perf_counter()
        for scheduler in schedulers:
            scheduler.start()
        last_progress = time.perf_counter()
        done = 0
        while True:
            await asyncio.sleep(1.0)
            counts = await statuses(setup)
            left = counts.get("pending", 0) + counts.get("sending", 0)
            if args.count - left != done:
                done, last_progress = args.count - left, time.perf_counter()
            if not left or time.perf_counter() - last_progress > 120:
                break
            if args.progress:
                print(f"  {done} of {args.count} after {time.perf_counter() - started:.0f}s")
        seconds = (last_delivery[0] or time.perf_counter()) - started
        for scheduler in schedulers:
            await scheduler.stop()
            await scheduler.bot.session.close()
            await scheduler.app.db.dispose()
        for limiter in limiters:
            await limiter.shared.redis.aclose()

        if args.debug:
            sends = [c for c in stub.calls if c.method == "sendMessage"]
            for c in sends:
                if c.status == 429:
                    window = [x for x in sends if c.time - 1.0 < x.time <= c.time and x.ok]
                    print(
                        f"429 chat {c.chat_id} at {c.time:.3f}: {len(window)} ok in the second before"
                    )
        per_chat = Counter(m.chat_id for m in stub.delivered)
        expected = {FIRST_ID + i for i in range(args.count)}
        lost = len(expected - set(per_chat))
        twice = sum(1 for n in per_chat.values() if n > 1)
        async with setup.read() as session:
            runs = await session.scalar(
                select(func.count()).select_from(EventNotice).where(EventNotice.attempts > 1)
            )
        final = await statuses(setup)
        await setup.dispose()

    rate = len(stub.delivered) / seconds
    print(
        f"{args.count} reminders, {args.workers} worker(s), "
        f"OUTGOING_PER_SECOND={args.rate:g} OUTGOING_BURST={args.burst:g}, "
        f"{'shared through Redis, ' if args.redis else ''}"
        f"{events_jobs.LANES} lanes, "
        f"{'PostgreSQL' if args.postgres else 'SQLite'}\n"
    )
    print(f"delivered        {len(stub.delivered)} in {seconds:.1f}s")
    print(f"rate             {rate:.2f}/s = {rate / TELEGRAM_LIMIT:.3f} of Telegram's 30/s")
    print(f"429 answered     {stub.rejected} (rows sent again after one: {runs})")
    print(f"lost             {lost}")
    print(f"twice            {twice}")
    print(f"notice rows      {final}")
    ok = lost == 0 and twice == 0 and rate / TELEGRAM_LIMIT >= 0.9
    print("\nOK" if ok else "\nNOT OK")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=28.0, help="OUTGOING_PER_SECOND")
    parser.add_argument("--burst", type=float, default=1.0, help="OUTGOING_BURST")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="PostgreSQL on 127.0.0.1 (database bench_broadcast, emptied) instead of SQLite",
    )
    parser.add_argument(
        "--redis",
        action="store_true",
        help="the workers share the overall rate through Redis on 127.0.0.1 (bot.telegram.limits.shared)",
    )
    parser.add_argument(
        "--lanes", type=int, default=None, help="reminders in flight at once (events LANES)"
    )
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--debug", action="store_true", help="explain each 429")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.postgres:
        url = await fresh_postgres("bench_broadcast")
        await run(args, url)
        return
    with tempfile.TemporaryDirectory() as tmp:
        await run(args, f"sqlite+aiosqlite:///{tmp}/broadcast.sqlite3")


if __name__ == "__main__":
    asyncio.run(main())
