"""Coaches: the staff who answer handoff requests (removing one keeps the row)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Coach, utcnow
from .common import insert, rowcount


@dataclass(frozen=True, slots=True)
class CoachInfo:
    id: int
    telegram_id: int
    name: str
    active: bool


def _coach_info(coach: Coach) -> CoachInfo:
    return CoachInfo(coach.id, coach.telegram_id, coach.name, coach.removed_at is None)


class CoachRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        telegram_id: int,
        name: str,
        *,
        added_by: int | None = None,
        now: datetime | None = None,
    ) -> CoachInfo:
        """Make ``telegram_id`` a coach called ``name`` (again, if they had been removed)."""
        now = now or utcnow()
        stmt = (
            insert(self.session, Coach)
            .values(telegram_id=telegram_id, name=name, added_at=now, added_by=added_by)
            .on_conflict_do_update(
                index_elements=[Coach.telegram_id],
                set_={"name": name, "removed_at": None, "added_by": added_by, "added_at": now},
            )
        )
        await self.session.execute(stmt)
        found = await self.by_telegram_id(telegram_id)
        assert found is not None
        return found

    async def ensure(
        self, telegram_id: int, name: str, *, now: datetime | None = None
    ) -> CoachInfo:
        """An active coach row for ``telegram_id`` (admins are coaches without being added);
        an existing name is kept."""
        found = await self.by_telegram_id(telegram_id)
        if found is not None and found.active:
            return found
        if found is not None:
            await self.session.execute(
                update(Coach).where(Coach.id == found.id).values(removed_at=None)
            )
            return CoachInfo(found.id, found.telegram_id, found.name, True)
        stmt = (
            insert(self.session, Coach)
            .values(telegram_id=telegram_id, name=name, added_at=now or utcnow())
            .on_conflict_do_nothing(index_elements=[Coach.telegram_id])
        )
        await self.session.execute(stmt)
        created = await self.by_telegram_id(telegram_id)
        assert created is not None
        return created

    async def remove(self, telegram_id: int, *, now: datetime | None = None) -> bool:
        result = await self.session.execute(
            update(Coach)
            .where(Coach.telegram_id == telegram_id, Coach.removed_at.is_(None))
            .values(removed_at=now or utcnow())
        )
        return bool(rowcount(result))

    async def by_telegram_id(self, telegram_id: int) -> CoachInfo | None:
        coach = await self.session.scalar(
            select(Coach)
            .where(Coach.telegram_id == telegram_id)
            .execution_options(populate_existing=True)
        )
        return _coach_info(coach) if coach else None

    async def active(self, telegram_id: int) -> CoachInfo | None:
        found = await self.by_telegram_id(telegram_id)
        return found if found is not None and found.active else None

    async def get(self, coach_id: int) -> CoachInfo | None:
        coach = await self.session.get(Coach, coach_id)
        return _coach_info(coach) if coach else None

    async def list_active(self) -> list[CoachInfo]:
        rows = await self.session.scalars(
            select(Coach).where(Coach.removed_at.is_(None)).order_by(Coach.name, Coach.id)
        )
        return [_coach_info(c) for c in rows]
