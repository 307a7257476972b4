"""Periodic background jobs (outbox delivery, reminders, re-announcements, purges).

Each job is an ``async def job(app, bot) -> int`` that does one bounded pass over due work in
the database and returns how much it did. Everything a job acts on is stored in the database
first, so a restart loses nothing: the next pass picks it up. A job that fails is logged and
tried again on its next tick; it never stops the bot.

**Several workers.** Every worker runs the same scheduler, and every registered job runs
under a lease (:mod:`db.repositories.leases`): before a pass, the worker takes the job's lease in the
database; of several workers ticking at the same time one gets it, and the others skip that
tick. A tick runs the job only if its last pass (by any worker) started at least
``0.8 × every`` ago, so the job runs about once per period however many workers there are. A
*wake* (:meth:`Scheduler.wake`, e.g. right after queueing a message) runs a pass at once if
no other worker is running one, and otherwise retries shortly. The lease is renewed while the
pass runs and released when it ends; a worker that dies mid-pass leaves a lease that runs out
after :attr:`Scheduler.lease_ttl` seconds. Nothing a job registers has to do anything for
this: ``scheduler.every(...)`` is enough.

The lease makes a job run once per tick; it is not what makes each message go out once.
That is the job's own row-level claim (a conditional UPDATE of the row it sends), which holds
even if two passes overlap (a lease that ran out under a stalled worker).

**Background sends.** What a job sends waits behind people's replies for Telegram's overall
limit (:func:`~bot.telegram.limits.local.background_sends`): a person who is waiting for an
answer is served before a reminder or a digest.

**Draining.** A pass that did something (returned > 0) is followed at once by another, under
the same lease, until a pass finds nothing to do: a backlog of 10,000 reminders goes out as
fast as the outgoing limiter allows, not :data:`MAX_PER_PASS` rows per tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiogram import Bot

from bot.app import App
from bot.logsetup import log_fields
from bot.metrics import observed_job
from bot.telegram.limits.local import background_sends
from db.models import utcnow
from db.repositories import LeaseRepository

log = logging.getLogger(__name__)

Job = Callable[[App, Bot], Awaitable[int]]

#: a tick runs a job whose last pass started at least this share of its period ago
TICK_SLACK = 0.8
#: a wake that found another worker mid-pass tries again after this many seconds
BUSY_RETRY = 1.0
#: passes in a row while a job keeps finding work (then it waits for its next tick)
MAX_DRAIN = 1000


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str
    every: float
    job: Job
    #: runs in every worker without a lease (work on the worker's own memory, e.g. reloading
    #: content), instead of once across workers
    local: bool = False
    #: also run right after new content goes live (:meth:`Scheduler.content_changed`)
    on_content_change: bool = False


def worker_id() -> str:
    """This worker's name in the lease table: host, process and a random tag."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(3)}"


class Scheduler:
    def __init__(
        self,
        app: App,
        bot: Bot,
        *,
        holder: str | None = None,
        lease_ttl: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.app = app
        self.bot = bot
        self.jobs: list[Periodic] = []
        #: this worker's name in ``job_leases``
        self.holder = holder or worker_id()
        self.lease_ttl = lease_ttl
        #: the wall clock for leases (not ``app.clock``, which tests may stop)
        self.clock = clock
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._wake: dict[str, asyncio.Event] = {}

    def every(
        self,
        seconds: float,
        name: str,
        job: Job,
        *,
        local: bool = False,
        on_content_change: bool = False,
    ) -> None:
        """Run ``job`` every ``seconds``: once across workers, or in each worker if ``local``;
        with ``on_content_change``, also as soon as new content goes live."""
        if name in self._wake:
            raise ValueError(f"a job named {name!r} is registered already")
        self.jobs.append(Periodic(name, seconds, observed_job(name, job), local, on_content_change))
        self._wake[name] = asyncio.Event()

    def content_changed(self) -> None:
        """New dialogs, texts or catalogue are live: wake the jobs that depend on them."""
        for job in self.jobs:
            if job.on_content_change:
                self.wake(job.name)

    def wake(self, name: str) -> None:
        """Run ``name`` now instead of at its next tick (e.g. right after queueing a message)."""
        event = self._wake.get(name)
        if event is not None:
            event.set()

    def _job(self, name: str) -> Periodic:
        return next(j for j in self.jobs if j.name == name)

    async def run_once(self, name: str) -> int:
        """One pass of ``name`` in this process, without the lease (tests, admin commands)."""
        job = self._job(name)
        with background_sends(), log_fields(job=name):
            return await job.job(self.app, self.bot)

    async def run_leased(self, name: str, *, woken: bool = True) -> int | None:
        """One turn of ``name`` as the loop runs it: take the lease, run passes while they find
        work, release. None if another worker holds the lease (or ran the job too recently,
        unless ``woken``)."""
        with background_sends(), log_fields(job=name):
            return await self._run_leased(name, woken=woken)

    async def _run_leased(self, name: str, *, woken: bool) -> int | None:
        periodic = self._job(name)
        if periodic.local:
            try:
                return await periodic.job(self.app, self.bot)
            except Exception:
                log.exception("job %s failed; it runs again at its next tick", name)
                return 0
        ttl = timedelta(seconds=self.lease_ttl)
        min_interval = timedelta(seconds=0 if woken else periodic.every * TICK_SLACK)
        try:
            async with self.app.db.transaction() as session:
                taken = await LeaseRepository(session).acquire(
                    name, self.holder, now=self.clock(), ttl=ttl, min_interval=min_interval
                )
        except Exception:
            log.exception("job %s: could not take its lease; tried again at its next tick", name)
            return None
        if not taken:
            return None
        heartbeat = asyncio.create_task(self._heartbeat(name), name=f"lease:{name}")
        total = 0
        try:
            for _ in range(MAX_DRAIN):
                try:
                    done = await periodic.job(self.app, self.bot)
                except Exception:
                    log.exception("job %s failed; it runs again at its next tick", name)
                    break
                total += done
                if done <= 0 or self._stop.is_set():
                    break
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self._release(name)
        if total:
            log.debug("job %s did %d item(s)", name, total)
        return total

    async def _heartbeat(self, name: str) -> None:
        ttl = timedelta(seconds=self.lease_ttl)
        while True:
            await asyncio.sleep(self.lease_ttl / 3)
            try:
                async with self.app.db.transaction() as session:
                    mine = await LeaseRepository(session).renew(
                        name, self.holder, now=self.clock(), ttl=ttl
                    )
                if not mine:
                    log.warning("job %s: the lease ran out and another worker took it", name)
                    return
            except Exception:
                log.exception("job %s: could not renew its lease", name)

    async def _release(self, name: str) -> None:
        try:
            async with self.app.db.transaction() as session:
                await LeaseRepository(session).release(name, self.holder, now=self.clock())
        except Exception:
            log.exception("job %s: could not release its lease; it runs out by itself", name)

    def start(self) -> None:
        self._stop.clear()
        for periodic in self.jobs:
            self._tasks.append(
                asyncio.create_task(self._loop(periodic), name=f"job:{periodic.name}")
            )

    async def stop(self) -> None:
        self._stop.set()
        for event in self._wake.values():
            event.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _loop(self, periodic: Periodic) -> None:
        wake = self._wake[periodic.name]
        woken = False
        while not self._stop.is_set():
            wake.clear()  # a wake during the pass runs another one after it
            ran = await self.run_leased(periodic.name, woken=woken)
            timeout = periodic.every
            if ran is None and woken:
                timeout = min(BUSY_RETRY, periodic.every)  # another worker is mid-pass
            else:
                woken = False
            try:
                await asyncio.wait_for(wake.wait(), timeout=timeout)
                woken = True
            except TimeoutError:
                pass
