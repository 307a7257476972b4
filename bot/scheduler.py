"""Periodic background jobs (outbox delivery, reminders, re-announcements, purges).

Each job is an ``async def job(app, bot) -> int`` that does one bounded pass over due work in
the database and returns how much it did. Everything a job acts on is stored in the database
first, so a restart loses nothing: the next pass picks it up. A job that fails is logged and
tried again on its next tick; it never stops the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiogram import Bot

from bot.app import App

log = logging.getLogger(__name__)

Job = Callable[[App, Bot], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str
    every: float
    job: Job


class Scheduler:
    def __init__(self, app: App, bot: Bot) -> None:
        self.app = app
        self.bot = bot
        self.jobs: list[Periodic] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._wake: dict[str, asyncio.Event] = {}

    def every(self, seconds: float, name: str, job: Job) -> None:
        self.jobs.append(Periodic(name, seconds, job))
        self._wake[name] = asyncio.Event()

    def wake(self, name: str) -> None:
        """Run ``name`` now instead of at its next tick (e.g. right after queueing a message)."""
        event = self._wake.get(name)
        if event is not None:
            event.set()

    async def run_once(self, name: str) -> int:
        job = next(j for j in self.jobs if j.name == name)
        return await job.job(self.app, self.bot)

    def start(self) -> None:
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
        while not self._stop.is_set():
            try:
                done = await periodic.job(self.app, self.bot)
                if done:
                    log.debug("job %s did %d item(s)", periodic.name, done)
            except Exception:
                log.exception("job %s failed; it runs again at its next tick", periodic.name)
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=periodic.every)
