"""Relayed messages: the conversation between a person and their coach, message by message."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import RelayMessage, utcnow
from .common import rowcount


class RelayRepository:
    """The conversation between a person and their coach, message by message."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def log(
        self,
        request_id: int,
        direction: str,
        kind: str,
        *,
        text: str | None = None,
        coach_id: int | None = None,
        status: str = "queued",
        person_message_id: int | None = None,
        coach_chat_message_id: int | None = None,
        now: datetime | None = None,
    ) -> int:
        row = RelayMessage(
            request_id=request_id,
            direction=direction,
            kind=kind,
            text=text,
            coach_id=coach_id,
            status=status,
            person_message_id=person_message_id,
            coach_chat_message_id=coach_chat_message_id,
            at=now or utcnow(),
        )
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def set_status(
        self,
        relay_id: int,
        status: str,
        *,
        person_message_id: int | None = None,
        coach_chat_message_id: int | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status}
        if person_message_id is not None:
            values["person_message_id"] = person_message_id
        if coach_chat_message_id is not None:
            values["coach_chat_message_id"] = coach_chat_message_id
        await self.session.execute(
            update(RelayMessage).where(RelayMessage.id == relay_id).values(**values)
        )

    async def fail_queued(self, request_id: int, direction: str, status: str) -> int:
        """Mark every still-queued message of one direction as not delivered (``status``)."""
        result = await self.session.execute(
            update(RelayMessage)
            .where(
                RelayMessage.request_id == request_id,
                RelayMessage.direction == direction,
                RelayMessage.status == "queued",
            )
            .values(status=status)
        )
        return rowcount(result)

    async def count_since(self, request_id: int, direction: str, since: datetime) -> int:
        """How many messages of one direction a request has had since ``since``."""
        found = await self.session.scalar(
            select(func.count())
            .select_from(RelayMessage)
            .where(
                RelayMessage.request_id == request_id,
                RelayMessage.direction == direction,
                RelayMessage.at >= since,
            )
        )
        return int(found or 0)

    async def for_request(self, request_id: int) -> list[dict[str, Any]]:
        rows = await self.session.scalars(
            select(RelayMessage)
            .where(RelayMessage.request_id == request_id)
            .order_by(RelayMessage.id)
        )
        return [
            {
                "direction": r.direction,
                "kind": r.kind,
                "coach_id": r.coach_id,
                "at": r.at,
                "status": r.status,
                "text": r.text,
            }
            for r in rows
        ]
