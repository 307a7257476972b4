"""Who may give commands in the coaches' group, known without a database read per message.

Commands there (``/queue``, ``/mine``, ``/event`` …) from anyone else are refused as they
arrive (:class:`~bot.telegram.arrival.ArrivalGate`), before they wait behind the group's other
updates: a member of the group who is not a coach, sending ``/queue`` a hundred times, costs no
database write, gets no answer, and delays no coach. (The handlers still decide from the
database; this only keeps what they would refuse from reaching them.)

The roster is ADMIN_IDS and the active coaches in the database, read by a job of every worker
(at start, then every :data:`TTL_S`), and in the background when it is older than that and a
command from someone not on it comes (meanwhile the last reading is used). ``/coach add`` and
``/coach remove`` in this process read it again at once; a coach added from the command line
or by another worker is known within :data:`TTL_S`. Until the first reading nothing is refused.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

from aiogram import Bot
from aiogram.types import Update

from bot.app import App
from db.repositories import CoachRepository

log = logging.getLogger(__name__)

#: the roster is read again when older than this (and someone not on it gives a command)
TTL_S = 30.0
#: handler data: the dispatcher's roster (None without a coaches' group)
ROSTER = "coach_roster"
#: the job that reads it
JOB = "handoff.roster"


class CoachRoster:
    """The coaches' group's command filter (see the module)."""

    def __init__(
        self, app: App, *, ttl: float = TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.app = app
        self.ttl = ttl
        self.clock = clock
        self._ids: frozenset[int] | None = None
        self._read_at = -math.inf
        self._reading: asyncio.Task[None] | None = None

    def refuses(self, update: Update) -> bool:
        """A command in the coaches' group from someone who is not a coach."""
        message = update.message or update.edited_message
        settings = self.app.settings
        if message is None or message.chat.id != settings.coach_chat_id:
            return False
        if not (message.text or "").startswith("/"):
            return False
        user = message.from_user
        if user is not None and user.id in settings.admin_ids:
            return False
        if self.clock() - self._read_at >= self.ttl and self._reading is None:
            self._reading = asyncio.create_task(self._read_in_background())
        if self._ids is None:
            return False  # not known yet: the handler decides
        return user is None or user.id not in self._ids

    async def refresh(self) -> None:
        """Read the active coaches now."""
        async with self.app.db.read() as session:
            coaches = await CoachRepository(session).list_active()
        self._ids = frozenset(coach.telegram_id for coach in coaches)
        self._read_at = self.clock()

    async def job(self, app: App, bot: Bot) -> int:
        """The scheduler's job (:data:`JOB`, in every worker): read the roster."""
        await self.refresh()
        return 0

    async def _read_in_background(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:  # the last reading stays; tried again after the TTL
            log.warning("could not read the coaches: %s", type(exc).__name__)
            self._read_at = self.clock()
        finally:
            self._reading = None
