"""Dead letters: updates the bot set aside because it could not read or handle them.

Only ids and the error are kept (see :class:`~db.models.DeadLetter`); the admins see how many
there were (``/status``), the operator finds the rest in the table and in the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import DeadLetter, utcnow
from .common import rowcount

#: the stages at which an update can be set aside
DECODE, HANDLE = "decode", "handle"
#: the longest error text kept (the column's size)
MAX_ERROR = 200


@dataclass(frozen=True, slots=True)
class DeadLetterCount:
    count: int
    #: when the latest one was set aside (None: none at all)
    latest: datetime | None


class DeadLetterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        update_id: int | None,
        *,
        chat_id: int | None,
        stage: str,
        error: str,
        attempts: int = 1,
        now: datetime | None = None,
    ) -> None:
        self.session.add(
            DeadLetter(
                update_id=update_id,
                chat_id=chat_id,
                stage=stage,
                error=error[:MAX_ERROR],
                attempts=attempts,
                at=now or utcnow(),
            )
        )
        await self.session.flush()

    async def count(self, since: datetime | None = None) -> DeadLetterCount:
        """How many updates were set aside (since ``since``), and when the latest was."""
        stmt = select(func.count(DeadLetter.id), func.max(DeadLetter.at))
        if since is not None:
            stmt = stmt.where(DeadLetter.at >= since)
        count, latest = (await self.session.execute(stmt)).one()
        return DeadLetterCount(int(count or 0), latest)

    async def of_update(self, update_id: int) -> list[tuple[str, str, int]]:
        """(stage, error, attempts) of each record of ``update_id`` (tests, the operator)."""
        rows = await self.session.execute(
            select(DeadLetter.stage, DeadLetter.error, DeadLetter.attempts)
            .where(DeadLetter.update_id == update_id)
            .order_by(DeadLetter.id)
        )
        return [(stage, error, attempts) for stage, error, attempts in rows]

    async def prune(self, before: datetime) -> int:
        """Remove the records set aside before ``before``; returns how many."""
        result = await self.session.execute(delete(DeadLetter).where(DeadLetter.at < before))
        return rowcount(result)
