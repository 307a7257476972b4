"""Handled updates: exactly-once effects under at-least-once delivery, and the context the
bot reads (in one statement) before handling an update."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import ProcessedUpdate, utcnow
from .common import rowcount
from .hotpath import CONTEXT, hot, mark_statement, read_one, write
from .people import PersonInfo


@dataclass(frozen=True, slots=True)
class UpdateContext:
    """What the bot reads before handling an update (see :meth:`UpdateRepository.context`)."""

    processed: bool
    #: None: no such person yet (or not asked for)
    person: PersonInfo | None
    #: (state, data) of the conversation row; None: no row yet (or not asked for)
    state: tuple[str | None, dict[str, Any]] | None


class UpdateRepository:
    """Which updates have been handled, for exactly-once effects under at-least-once delivery."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def context(
        self, update_id: int, telegram_id: int | None = None, state_key: str | None = None
    ) -> UpdateContext:
        """In ONE statement: was the update handled, the person with ``telegram_id`` and the
        conversation-state row ``state_key``. Each statement costs several hops to the
        database thread, so the hot path asks once instead of three times."""
        shape = (telegram_id is not None, state_key is not None)
        stmt = hot(self.session, ("context", shape), CONTEXT[shape])
        params = {"update_id": update_id, "telegram_id": telegram_id, "state_key": state_key}
        row = list(await read_one(self.session, stmt, params))
        processed = bool(row.pop(0))
        person = None
        if telegram_id is not None:
            fields, row = row[:9], row[9:]
            if fields[0] is not None:
                person = PersonInfo(
                    id=fields[0],
                    telegram_id=fields[1],
                    language=fields[2],
                    consent_version=fields[3],
                    consent_decided=fields[4] is not None,
                    first_seen=fields[5],
                    last_seen=fields[6],
                    blocked=fields[7] is not None,
                    open_request=bool(fields[8]),
                )
        state = None
        if state_key is not None and row[0] is not None:
            state = (row[1], json.loads(row[2]))
        return UpdateContext(processed, person, state)

    async def is_processed(self, update_id: int) -> bool:
        found = await self.session.scalar(
            select(ProcessedUpdate.update_id).where(ProcessedUpdate.update_id == update_id)
        )
        return found is not None

    async def mark(self, update_id: int, *, now: datetime | None = None) -> bool:
        """Record ``update_id``; False if it was already recorded (another worker, a replay)."""
        touched = await write(
            self.session,
            hot(self.session, "mark", mark_statement),
            {"update_id": update_id, "processed_at": now or utcnow()},
        )
        return bool(touched)

    async def prune(
        self, older_than: timedelta, *, now: datetime | None = None, limit: int | None = None
    ) -> int:
        """Forget marks older than ``older_than`` (at most ``limit`` of them, oldest first);
        returns how many."""
        cutoff = (now or utcnow()) - older_than
        condition = ProcessedUpdate.processed_at < cutoff
        if limit is not None:
            oldest = (
                select(ProcessedUpdate.update_id)
                .where(condition)
                .order_by(ProcessedUpdate.processed_at)
                .limit(limit)
            )
            condition = ProcessedUpdate.update_id.in_(oldest.scalar_subquery())
        result = await self.session.execute(delete(ProcessedUpdate).where(condition))
        return rowcount(result)
