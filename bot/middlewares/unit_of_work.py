"""One unit of work per update: skip updates already handled, and mark each handled update in
the same transaction as its effects.

Together with a polling loop that confirms an update to Telegram only after it was handled,
this gives at-least-once delivery with exactly-once effects: an update re-delivered after a
crash either finds its effects committed (and is skipped) or finds nothing (and runs again).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from sqlalchemy.ext.asyncio import AsyncSession

from db import Database
from db.repositories import UpdateRepository

log = logging.getLogger(__name__)


class AlreadyProcessedError(Exception):
    """Another worker (or an earlier run) committed this update first."""


class UnitOfWork:
    def __init__(self, db: Database, update_id: int | None) -> None:
        self.db = db
        self.update_id = update_id
        self.marked = False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction that also records this update as handled (once)."""
        async with self.db.transaction() as session:
            first = not self.marked and self.update_id is not None
            if first and not await UpdateRepository(session).mark(self.update_id):  # type: ignore[arg-type]
                raise AlreadyProcessedError
            yield session
        self.marked = True


class UnitOfWorkMiddleware(BaseMiddleware):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        update_id = event.update_id if isinstance(event, Update) else None
        if update_id is not None:
            async with self.db.read() as session:
                if await UpdateRepository(session).is_processed(update_id):
                    log.info("update %s was already handled; skipped", update_id)
                    return None
        unit = UnitOfWork(self.db, update_id)
        data["uow"] = unit
        try:
            result = await handler(event, data)
        except AlreadyProcessedError:
            log.info("update %s was handled by someone else meanwhile; skipped", update_id)
            return None
        if not unit.marked and update_id is not None:
            try:
                async with unit.transaction():
                    pass
            except AlreadyProcessedError:
                pass
        return result
