"""Job leases: with several workers, each scheduled job runs once per tick.

Each "worker" here has its own Database (its own engine and connections) on the same SQLite
file or PostgreSQL database, so nothing in-process can be what keeps them apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App
from bot.runtime.scheduler import Scheduler
from db import Database
from db.models import JobLease
from db.repositories import LeaseRepository
from tests.support import Clock, make_settings

T0 = datetime(2027, 1, 18, 10, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)


@pytest.fixture
async def second(database: Database) -> AsyncIterator[Database]:
    """Another worker's connection pool to the same database."""
    other = Database(database.url)
    yield other
    await other.dispose()


def worker(tmp_path: Path, db: Database, name: str, clock: Clock) -> Scheduler:
    app = App(settings=make_settings(tmp_path), db=db, content=None, actions=None)  # type: ignore[arg-type]
    return Scheduler(app, bot=None, holder=name, clock=clock)  # type: ignore[arg-type]


async def acquire(db: Database, holder: str, now: datetime, **kwargs: Any) -> bool:
    async with db.transaction() as session:
        return await LeaseRepository(session).acquire("job", holder, now=now, ttl=TTL, **kwargs)


async def test_one_holder_at_a_time_and_a_dead_holders_lease_runs_out(
    database: Database, second: Database
) -> None:
    assert await acquire(database, "a", T0)
    assert not await acquire(second, "b", T0 + timedelta(seconds=29))
    async with second.transaction() as session:
        assert not await LeaseRepository(session).renew("job", "b", now=T0, ttl=TTL)
        assert not await LeaseRepository(session).release("job", "b", now=T0)
    # "a" died without releasing: at expiry "b" takes over
    assert await acquire(second, "b", T0 + TTL)
    async with database.transaction() as session:
        assert not await LeaseRepository(session).renew("job", "a", now=T0 + TTL, ttl=TTL)
        lease = await LeaseRepository(session).get("job")
    assert lease is not None
    assert (lease.holder, lease.runs) == ("b", 2)


async def test_a_tick_skips_a_job_that_ran_recently_a_wake_does_not(database: Database) -> None:
    assert await acquire(database, "a", T0)
    async with database.transaction() as session:
        assert await LeaseRepository(session).release("job", "a", now=T0 + timedelta(seconds=1))
    tick = timedelta(seconds=24)
    assert not await acquire(database, "b", T0 + timedelta(seconds=10), min_interval=tick)
    assert await acquire(database, "b", T0 + timedelta(seconds=10))  # woken: runs now
    async with database.transaction() as session:
        await LeaseRepository(session).release("job", "b", now=T0 + timedelta(seconds=11))
    assert not await acquire(database, "a", T0 + timedelta(seconds=33), min_interval=tick)
    assert await acquire(database, "a", T0 + timedelta(seconds=34), min_interval=tick)


async def test_of_many_concurrent_acquires_exactly_one_wins(
    database: Database, second: Database
) -> None:
    results = await asyncio.gather(
        *(acquire(db, f"w{i}", T0) for i in range(6) for db in (database, second))
    )
    assert sorted(results) == [False] * 11 + [True]


async def test_two_workers_run_a_job_once_per_tick(
    tmp_path: Path, database: Database, second: Database
) -> None:
    clock = Clock(T0)
    runs: list[str] = []

    def job_of(name: str) -> Callable[..., Any]:
        async def job(app: App, bot: object) -> int:
            runs.append(name)
            await asyncio.sleep(0.01)  # both are inside their turn at the same time
            return 0

        return job

    a, b = worker(tmp_path, database, "a", clock), worker(tmp_path, second, "b", clock)
    a.every(60, "reminders", job_of("a"))
    b.every(60, "reminders", job_of("b"))
    first = await asyncio.gather(
        a.run_leased("reminders", woken=False), b.run_leased("reminders", woken=False)
    )
    assert sorted(first, key=str) == [0, None]
    assert len(runs) == 1
    # the next tick of either worker, a little later: still too early
    clock.now += timedelta(seconds=30)
    assert await a.run_leased("reminders", woken=False) is None
    assert await b.run_leased("reminders", woken=False) is None
    # one period later: one of them runs it again
    clock.now += timedelta(seconds=30)
    again = await asyncio.gather(
        b.run_leased("reminders", woken=False), a.run_leased("reminders", woken=False)
    )
    assert sorted(again, key=str) == [0, None]
    assert len(runs) == 2


async def test_a_turn_drains_the_backlog_and_a_failing_job_frees_its_lease(
    tmp_path: Path, database: Database
) -> None:
    clock = Clock(T0)
    passes: list[int] = []

    async def backlog(app: App, bot: object) -> int:
        done = [200, 200, 37, 0][len(passes)]
        passes.append(done)
        return done

    async def broken(app: App, bot: object) -> int:
        raise RuntimeError("boom")

    a = worker(tmp_path, database, "a", clock)
    a.every(30, "notices", backlog)
    a.every(30, "broken", broken)
    assert await a.run_leased("notices") == 437
    assert passes == [200, 200, 37, 0]
    assert await a.run_leased("broken") == 0  # logged, not raised
    b = worker(tmp_path, database, "b", clock)
    b.every(30, "broken", broken)
    assert await b.run_leased("broken") == 0  # the lease was released


async def test_a_wake_runs_the_job_at_once(tmp_path: Path, database: Database) -> None:
    ran = asyncio.Event()
    count = 0

    async def job(app: App, bot: object) -> int:
        nonlocal count
        count += 1
        if count == 2:
            ran.set()
        return 0

    a = worker(tmp_path, database, "a", Clock(T0))
    a.every(3600, "outbox", job)
    a.start()
    try:
        for _ in range(200):  # the first pass at start
            if count:
                break
            await asyncio.sleep(0.01)
        a.wake("outbox")
        await asyncio.wait_for(ran.wait(), timeout=10)
    finally:
        await a.stop()
    assert count == 2


async def test_a_local_job_runs_in_every_worker_and_takes_no_lease(
    tmp_path: Path, database: Database, second: Database
) -> None:
    clock = Clock(T0)
    runs: list[str] = []

    def job_of(name: str) -> Callable[..., Any]:
        async def job(app: App, bot: object) -> int:
            runs.append(name)
            return 0

        return job

    a, b = worker(tmp_path, database, "a", clock), worker(tmp_path, second, "b", clock)
    a.every(1, "content.reload", job_of("a"), local=True)
    b.every(1, "content.reload", job_of("b"), local=True)
    await asyncio.gather(
        a.run_leased("content.reload", woken=False), b.run_leased("content.reload", woken=False)
    )
    assert sorted(runs) == ["a", "b"]
    # and no lease row was written for it
    async with database.read() as session:
        leases = (await session.execute(select(JobLease.name))).scalars().all()
    assert leases == []
