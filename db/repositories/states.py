"""Conversation states: the rows behind the conversation (FSM) storage, by an opaque key."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Delete, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import ConversationStateRow, utcnow
from .common import rowcount
from .hotpath import STATE_UPSERT, hot, write


class StateRepository:
    """Rows of the conversation-state store, addressed by an opaque string key."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str) -> tuple[str | None, dict[str, Any]] | None:
        row = await self.session.execute(
            select(ConversationStateRow.state, ConversationStateRow.data).where(
                ConversationStateRow.key == key
            )
        )
        found = row.first()
        if found is None:
            return None
        return found[0], json.loads(found[1])

    async def put(
        self, key: str, subject: int | None, *, state: Any = ..., data: Any = ...
    ) -> None:
        """Upsert the state and/or the data of ``key`` (``...`` leaves that part unchanged)."""
        shape = (state is not ..., data is not ...)
        await write(
            self.session,
            hot(self.session, ("state_upsert", shape), STATE_UPSERT[shape]),
            {
                "key": key,
                "subject": subject,
                "state": None if state is ... else state,
                "data": "{}"
                if data is ...
                else json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                "updated_at": utcnow(),
            },
        )

    async def delete_subject(self, subject: int) -> int:
        stmt: Delete = delete(ConversationStateRow).where(ConversationStateRow.subject == subject)
        result = await self.session.execute(stmt)
        return rowcount(result)
