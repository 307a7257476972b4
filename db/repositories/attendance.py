"""Event attendance: which sign-ups a coach marked as attended (the coaches' attendance list)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import EventAttendance, EventSignup
from .common import insert, rowcount


@dataclass(frozen=True, slots=True)
class AttendeeInfo:
    """One sign-up of an occurrence, as the coaches' attendance list shows it."""

    signup_id: int
    person_id: int
    item_id: str
    starts_at: datetime
    status: str
    attended: bool


def _attendee(s: EventSignup, marked: int | None) -> AttendeeInfo:
    return AttendeeInfo(s.id, s.person_id, s.item_id, s.starts_at, s.status, marked is not None)


class AttendanceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def signups(self, item_id: str, since: datetime, until: datetime) -> list[AttendeeInfo]:
        """Active sign-ups of ``item_id`` at occurrences starting in [since, until), and any
        sign-up already marked attended there, oldest occurrence first."""
        rows = await self.session.execute(
            select(EventSignup, EventAttendance.signup_id)
            .outerjoin(EventAttendance, EventAttendance.signup_id == EventSignup.id)
            .where(
                EventSignup.item_id == item_id,
                EventSignup.starts_at >= since,
                EventSignup.starts_at < until,
                (EventSignup.status == "active") | EventAttendance.signup_id.is_not(None),
            )
            .order_by(EventSignup.starts_at, EventSignup.created_at, EventSignup.id)
        )
        return [_attendee(s, marked) for s, marked in rows]

    async def signup(self, signup_id: int) -> AttendeeInfo | None:
        row = (
            await self.session.execute(
                select(EventSignup, EventAttendance.signup_id)
                .outerjoin(EventAttendance, EventAttendance.signup_id == EventSignup.id)
                .where(EventSignup.id == signup_id)
            )
        ).first()
        if row is None:
            return None
        return _attendee(*row)

    async def mark(self, signup_id: int, *, coach_id: int | None, now: datetime) -> bool:
        """True if the sign-up was not marked before."""
        statement = (
            insert(self.session, EventAttendance)
            .values(signup_id=signup_id, marked_at=now, marked_by=coach_id)
            .on_conflict_do_nothing(index_elements=["signup_id"])
        )
        return rowcount(await self.session.execute(statement)) == 1

    async def unmark(self, signup_id: int) -> bool:
        result = await self.session.execute(
            delete(EventAttendance).where(EventAttendance.signup_id == signup_id)
        )
        return rowcount(result) == 1
