"""Follow-up check-ins: "how are you doing now?" after a closed request or an attended event.

Rows are written in the transaction of the thing they follow (a request closed, attendance
marked) and sent once by a background job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Followup, Person, utcnow
from .common import insert, rowcount

#: statuses of a follow-up (see :class:`~db.models.Followup`)
FOLLOWUP_PENDING = "pending"
FOLLOWUP_SENDING = "sending"
FOLLOWUP_SENT = "sent"
FOLLOWUP_ANSWERED = "answered"
FOLLOWUP_SKIPPED = "skipped"
FOLLOWUP_FAILED = "failed"

#: what a follow-up follows
SOURCE_REQUEST = "request"
SOURCE_ATTENDED = "attended"


@dataclass(frozen=True, slots=True)
class FollowupInfo:
    """A follow-up with what the sender must know about its person (None: the person is gone)."""

    id: int
    person_id: int
    source_kind: str
    source_id: int
    days: int
    due_at: datetime
    status: str
    attempts: int
    created_at: datetime
    last_error: str | None
    telegram_id: int | None
    language: str | None
    consent_version: int | None
    blocked: bool
    last_seen: datetime | None


class FollowupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def schedule(
        self,
        person_id: int,
        source_kind: str,
        source_id: int,
        due: Mapping[int, datetime],
        *,
        now: datetime | None = None,
    ) -> int:
        """One row per round (``days`` → when); a round already scheduled is left alone.
        Returns how many rows were new."""
        created = 0
        for days, due_at in sorted(due.items()):
            statement = (
                insert(self.session, Followup)
                .values(
                    person_id=person_id,
                    source_kind=source_kind,
                    source_id=source_id,
                    days=days,
                    due_at=due_at,
                    status=FOLLOWUP_PENDING,
                    attempts=0,
                    created_at=now or utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["source_kind", "source_id", "days"])
            )
            created += rowcount(await self.session.execute(statement))
        return created

    async def cancel_source(self, source_kind: str, source_id: int, *, reason: str) -> int:
        """Skip the rounds of a source not yet sent (e.g. attendance was unmarked)."""
        result = await self.session.execute(
            update(Followup)
            .where(
                Followup.source_kind == source_kind,
                Followup.source_id == source_id,
                Followup.status == FOLLOWUP_PENDING,
            )
            .values(status=FOLLOWUP_SKIPPED, last_error=reason[:64])
        )
        return rowcount(result)

    async def restore_source(self, source_kind: str, source_id: int, *, reason: str) -> int:
        """Undo :meth:`cancel_source` with the same ``reason`` (e.g. attendance marked again)."""
        result = await self.session.execute(
            update(Followup)
            .where(
                Followup.source_kind == source_kind,
                Followup.source_id == source_id,
                Followup.status == FOLLOWUP_SKIPPED,
                Followup.last_error == reason[:64],
            )
            .values(status=FOLLOWUP_PENDING, last_error=None)
        )
        return rowcount(result)

    async def due(self, now: datetime, *, limit: int) -> list[int]:
        rows = await self.session.scalars(
            select(Followup.id)
            .where(Followup.status == FOLLOWUP_PENDING, Followup.due_at <= now)
            .order_by(Followup.due_at, Followup.id)
            .limit(limit)
        )
        return list(rows)

    async def claim(self, followup_id: int, *, now: datetime) -> bool:
        """``pending`` → ``sending``; of several workers exactly one gets the row."""
        result = await self.session.execute(
            update(Followup)
            .where(
                Followup.id == followup_id,
                Followup.status == FOLLOWUP_PENDING,
                Followup.due_at <= now,
            )
            .values(status=FOLLOWUP_SENDING, attempts=Followup.attempts + 1)
        )
        return rowcount(result) == 1

    async def get(self, followup_id: int) -> FollowupInfo | None:
        row = (
            await self.session.execute(
                select(Followup, Person)
                .outerjoin(Person, Person.id == Followup.person_id)
                .where(Followup.id == followup_id)
            )
        ).first()
        if row is None:
            return None
        f, p = row
        return FollowupInfo(
            id=f.id,
            person_id=f.person_id,
            source_kind=f.source_kind,
            source_id=f.source_id,
            days=f.days,
            due_at=f.due_at,
            status=f.status,
            attempts=f.attempts,
            created_at=f.created_at,
            last_error=f.last_error,
            telegram_id=p.telegram_id if p is not None else None,
            language=p.language if p is not None else None,
            consent_version=p.consent_version if p is not None else None,
            blocked=p is not None and p.blocked_at is not None,
            last_seen=p.last_seen if p is not None else None,
        )

    async def finish(
        self, followup_id: int, status: str, *, now: datetime, error: str | None = None
    ) -> None:
        values: dict[str, object] = {"status": status, "last_error": error[:64] if error else None}
        if status == FOLLOWUP_SENT:
            values["sent_at"] = now
        await self.session.execute(
            update(Followup).where(Followup.id == followup_id).values(**values)
        )

    async def postpone(self, followup_id: int, *, at: datetime, reason: str) -> None:
        """Back to ``pending``, due again at ``at`` (the person was busy, or Telegram said wait)."""
        await self.session.execute(
            update(Followup)
            .where(Followup.id == followup_id)
            .values(status=FOLLOWUP_PENDING, due_at=at, last_error=reason[:64])
        )

    async def failed_unexpectedly(
        self, followup_id: int, *, now: datetime, error: str, max_attempts: int, retry_in: timedelta
    ) -> int | None:
        """A try that failed before anything was sent: ``pending`` again after ``retry_in`` times
        the tries so far, or ``failed`` after ``max_attempts`` tries. Returns the tries counted
        (a try whose claim was rolled back counts too); None if the row has moved on."""
        row = (
            await self.session.execute(
                select(Followup.status, Followup.attempts).where(Followup.id == followup_id)
            )
        ).one_or_none()
        if row is None or row.status not in (FOLLOWUP_PENDING, FOLLOWUP_SENDING):
            return None
        tries = int(row.attempts) + (1 if row.status == FOLLOWUP_PENDING else 0)
        values: dict[str, object] = {"attempts": tries, "last_error": error[:64]}
        if tries >= max_attempts:
            values["status"] = FOLLOWUP_FAILED
        else:
            values.update(status=FOLLOWUP_PENDING, due_at=now + retry_in * tries)
        await self.session.execute(
            update(Followup).where(Followup.id == followup_id).values(**values)
        )
        return tries

    async def sent_since(self, person_id: int, since: datetime) -> int:
        """Follow-ups the person got at or after ``since`` (to space them out)."""
        found = await self.session.scalar(
            select(func.count()).where(
                Followup.person_id == person_id,
                Followup.sent_at.is_not(None),
                Followup.sent_at >= since,
            )
        )
        return int(found or 0)

    async def answer_latest(self, person_id: int, *, now: datetime) -> FollowupInfo | None:
        """Mark the person's most recently sent follow-up answered; returns it (None if none)."""
        followup_id = await self.session.scalar(
            select(Followup.id)
            .where(Followup.person_id == person_id, Followup.status == FOLLOWUP_SENT)
            .order_by(Followup.sent_at.desc(), Followup.id.desc())
            .limit(1)
        )
        if followup_id is None:
            return None
        await self.session.execute(
            update(Followup)
            .where(Followup.id == followup_id)
            .values(status=FOLLOWUP_ANSWERED, answered_at=now)
        )
        return await self.get(followup_id)

    async def for_person(self, person_id: int) -> list[FollowupInfo]:
        ids = await self.session.scalars(
            select(Followup.id).where(Followup.person_id == person_id).order_by(Followup.id)
        )
        found = [await self.get(i) for i in list(ids)]
        return [f for f in found if f is not None]

    async def delete_for_person(self, person_id: int) -> int:
        """For erasure (the foreign key cascades too; this makes it explicit)."""
        result = await self.session.execute(delete(Followup).where(Followup.person_id == person_id))
        return rowcount(result)
