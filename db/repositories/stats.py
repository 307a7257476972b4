"""Anonymous counters for the reports (no person id: they stay when people erase their data)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Event, utcnow


class StatsRepository:
    """Anonymous counters (no person id), kept for reports when people erase their data."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self, name: str, dims: dict[str, Any] | None = None, *, at: datetime | None = None
    ) -> None:
        self.session.add(Event(name=name, dims=dims or {}, at=at or utcnow()))

    async def count(self, name: str) -> int:
        return int(await self.session.scalar(select(func.count()).where(Event.name == name)) or 0)

    async def names(self) -> Sequence[str]:
        return list(await self.session.scalars(select(Event.name).distinct()))
