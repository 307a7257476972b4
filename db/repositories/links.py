"""Links from bot messages in the coach chat to the request they belong to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import HandoffLink
from .common import insert


class LinkRepository:
    """Which request a bot message in the coach chat belongs to."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def link(self, chat_id: int, message_id: int, request_id: int, kind: str) -> None:
        stmt = (
            insert(self.session, HandoffLink)
            .values(
                telegram_chat_id=chat_id,
                telegram_message_id=message_id,
                request_id=request_id,
                kind=kind,
            )
            .on_conflict_do_nothing(
                index_elements=[HandoffLink.telegram_chat_id, HandoffLink.telegram_message_id]
            )
        )
        await self.session.execute(stmt)

    async def find(self, chat_id: int, message_id: int) -> tuple[int, str] | None:
        row = (
            await self.session.execute(
                select(HandoffLink.request_id, HandoffLink.kind).where(
                    HandoffLink.telegram_chat_id == chat_id,
                    HandoffLink.telegram_message_id == message_id,
                )
            )
        ).first()
        return (int(row[0]), str(row[1])) if row else None

    async def of_request(self, request_id: int) -> list[tuple[int, int, str]]:
        """(chat id, message id, kind) of every linked message of a request, oldest first."""
        rows = await self.session.execute(
            select(HandoffLink.telegram_chat_id, HandoffLink.telegram_message_id, HandoffLink.kind)
            .where(HandoffLink.request_id == request_id)
            .order_by(HandoffLink.telegram_chat_id, HandoffLink.telegram_message_id)
        )
        return [(int(chat), int(message), str(kind)) for chat, message, kind in rows]
