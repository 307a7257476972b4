"""Answers: the latest answer of a person to each question (choices plain, typed text encrypted)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Answer, utcnow
from .common import rowcount
from .hotpath import answer_delete, answer_upsert, hot, write


class AnswerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def save(
        self,
        person_id: int,
        dialog: str,
        key: str,
        value: Any,
        *,
        now: datetime | None = None,
        plain: bool = False,
    ) -> None:
        """Store the latest answer to ``key``; ``None`` removes it (a skipped question).

        ``plain``: a choice answer (option ids), kept readable for the reports' SQL counts;
        anything else (what the person typed) is encrypted (``private_value``).
        """
        if value is None:
            await write(
                self.session,
                hot(self.session, "answer_delete", answer_delete),
                {"person_id": person_id, "key": key},
            )
            return
        encoded = json.dumps(value, ensure_ascii=False)
        await write(
            self.session,
            hot(self.session, "answer_upsert", answer_upsert),
            {
                "person_id": person_id,
                "dialog": dialog,
                "key": key,
                "value": encoded if plain else None,
                "private_value": None if plain else encoded,
                "answered_at": now or utcnow(),
            },
        )

    async def for_person(self, person_id: int) -> dict[str, Any]:
        rows = await self.session.execute(
            select(Answer.key, Answer.value, Answer.private_value)
            .where(Answer.person_id == person_id)
            .order_by(Answer.id)
        )
        return {
            key: json.loads(value if value is not None else (secret or "null"))
            for key, value, secret in rows
        }

    async def delete_for_person(self, person_id: int) -> int:
        result = await self.session.execute(delete(Answer).where(Answer.person_id == person_id))
        return rowcount(result)
