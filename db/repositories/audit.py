"""The audit log: what the staff did with handoff requests and coaches, and when.

An entry has an actor (the Telegram id of a coach or admin: staff, not a person; NULL for the
command line), an action, the request id or the coach concerned, and a time. It never holds a
message text, a name or a person's Telegram id, so it points at nobody once the person has
erased their data (their request is anonymised; the id alone says nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import AuditEntry, utcnow

#: a coach looked at a person's request (the card redrawn for them, a list of requests)
VIEW = "view"
CLAIM = "claim"
RELEASE = "release"
#: a coach's message or saved reply was relayed to the person (the text is not logged)
RELAY = "relay"
CLOSE = "close"
COACH_ADDED = "coach_added"
COACH_REMOVED = "coach_removed"
ACTIONS = frozenset({VIEW, CLAIM, RELEASE, RELAY, CLOSE, COACH_ADDED, COACH_REMOVED})


@dataclass(frozen=True, slots=True)
class AuditInfo:
    id: int
    at: datetime
    actor_id: int | None
    action: str
    request_id: int | None
    target_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor_id": self.actor_id,
            "action": self.action,
            "request_id": self.request_id,
            "target_id": self.target_id,
        }


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        action: str,
        *,
        actor_id: int | None,
        request_id: int | None = None,
        target_id: int | None = None,
        at: datetime | None = None,
    ) -> None:
        """Add one entry (in the caller's transaction: it is kept only if the action is)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        self.session.add(
            AuditEntry(
                at=at or utcnow(),
                actor_id=actor_id,
                action=action,
                request_id=request_id,
                target_id=target_id,
            )
        )

    async def entries(
        self,
        *,
        since: datetime | None = None,
        actor_id: int | None = None,
        request_id: int | None = None,
        limit: int | None = None,
    ) -> list[AuditInfo]:
        """Entries oldest first, optionally from ``since`` on, of one actor or one request."""
        stmt = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
        if since is not None:
            stmt = stmt.where(AuditEntry.at >= since)
        if actor_id is not None:
            stmt = stmt.where(AuditEntry.actor_id == actor_id)
        if request_id is not None:
            stmt = stmt.where(AuditEntry.request_id == request_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [
            AuditInfo(
                id=row.id,
                at=row.at,
                actor_id=row.actor_id,
                action=row.action,
                request_id=row.request_id,
                target_id=row.target_id,
            )
            for row in await self.session.scalars(stmt)
        ]
