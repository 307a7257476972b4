"""Events and trainings: sign-ups, waiting lists, reminders, "not for me" and poster links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import EventDismissal, EventLink, EventNotice, EventSignup, EventSlot, Person
from .common import insert, rowcount

# -- events and trainings ----------------------------------------------------------------------

#: statuses of a sign-up
SIGNUP_ACTIVE, SIGNUP_WAITING, SIGNUP_CANCELLED = "active", "waiting", "cancelled"
#: statuses of an event notice (see :class:`~db.models.EventNotice`)
NOTICE_PENDING, NOTICE_SENDING, NOTICE_SENT, NOTICE_SKIPPED, NOTICE_FAILED = (
    "pending",
    "sending",
    "sent",
    "skipped",
    "failed",
)
#: what asking for a seat came to
SEATED, ALREADY, FULL, QUEUED = "seated", "already", "full", "queued"


@dataclass(frozen=True, slots=True)
class SignupInfo:
    id: int
    person_id: int
    item_id: str
    starts_at: datetime
    status: str
    queued_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status == SIGNUP_ACTIVE

    @property
    def waiting(self) -> bool:
        return self.status == SIGNUP_WAITING


def _signup_info(row: EventSignup) -> SignupInfo:
    return SignupInfo(
        id=row.id,
        person_id=row.person_id,
        item_id=row.item_id,
        starts_at=row.starts_at,
        status=row.status,
        queued_at=row.queued_at,
    )


@dataclass(frozen=True, slots=True)
class SeatResult:
    """``seated``, ``already`` (had a seat), ``full`` (nothing taken) or ``queued``."""

    outcome: str
    signup: SignupInfo | None = None
    #: place in the waiting list (1 = next in line) when waiting
    position: int | None = None
    #: seats taken now
    taken: int = 0
    #: people moved from the waiting list to free seats on the way (capacity was raised)
    promoted: tuple[SignupInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class CancelResult:
    #: the sign-up as it was before it was cancelled; None if there was nothing to cancel
    cancelled: SignupInfo | None
    #: the people who got the freed seat (first in line)
    promoted: tuple[SignupInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class NoticeInfo:
    id: int
    kind: str
    due_at: datetime
    status: str
    attempts: int
    signup: SignupInfo
    telegram_id: int
    language: str
    blocked: bool


class EventRepository:
    """Sign-ups, waiting lists, reminders, "not for me" and poster links.

    Seats: every change to the sign-ups of one occurrence first locks its ``event_slots`` row
    (created on first use), then counts. On PostgreSQL the lock is ``SELECT … FOR UPDATE``:
    a second transaction waits at the lock and, under READ COMMITTED, its count afterwards sees
    what the first committed. On SQLite the lock clause is a no-op and ``BEGIN IMMEDIATE``
    (see :mod:`db.sqlite.connection`) makes write transactions take turns. Either way "count, then
    insert" cannot give away more seats than there are.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- seats --

    async def _lock_slot(self, item_id: str, starts_at: datetime, now: datetime) -> None:
        await self.session.execute(
            insert(self.session, EventSlot)
            .values(item_id=item_id, starts_at=starts_at, created_at=now)
            .on_conflict_do_nothing(index_elements=[EventSlot.item_id, EventSlot.starts_at])
        )
        await self.session.execute(
            select(EventSlot.item_id)
            .where(EventSlot.item_id == item_id, EventSlot.starts_at == starts_at)
            .with_for_update()
        )

    async def _row(self, person_id: int, item_id: str, starts_at: datetime) -> EventSignup | None:
        return await self.session.scalar(
            select(EventSignup)
            .where(
                EventSignup.person_id == person_id,
                EventSignup.item_id == item_id,
                EventSignup.starts_at == starts_at,
            )
            .execution_options(populate_existing=True)
        )

    async def taken(self, item_id: str, starts_at: datetime) -> int:
        """Seats taken at one occurrence."""
        return int(
            await self.session.scalar(
                select(func.count()).where(
                    EventSignup.item_id == item_id,
                    EventSignup.starts_at == starts_at,
                    EventSignup.status == SIGNUP_ACTIVE,
                )
            )
            or 0
        )

    async def taken_since(self, since: datetime) -> dict[tuple[str, datetime], int]:
        """Seats taken at every occurrence that starts at or after ``since``."""
        rows = await self.session.execute(
            select(EventSignup.item_id, EventSignup.starts_at, func.count())
            .where(EventSignup.starts_at >= since, EventSignup.status == SIGNUP_ACTIVE)
            .group_by(EventSignup.item_id, EventSignup.starts_at)
        )
        return {(item_id, start): int(n) for item_id, start, n in rows}

    async def _promote(
        self, item_id: str, starts_at: datetime, capacity: int | None, now: datetime
    ) -> tuple[SignupInfo, ...]:
        """Give free seats to the first people in line (the slot is locked)."""
        query = (
            select(EventSignup)
            .where(
                EventSignup.item_id == item_id,
                EventSignup.starts_at == starts_at,
                EventSignup.status == SIGNUP_WAITING,
            )
            .order_by(EventSignup.queued_at, EventSignup.id)
            .execution_options(populate_existing=True)
        )
        if capacity is not None:
            free = capacity - await self.taken(item_id, starts_at)
            if free <= 0:
                return ()
            query = query.limit(free)
        promoted = []
        for row in await self.session.scalars(query):
            row.status = SIGNUP_ACTIVE
            row.updated_at = now
            promoted.append(row)
        await self.session.flush()
        return tuple(_signup_info(row) for row in promoted)

    async def take_seat(
        self,
        person_id: int,
        item_id: str,
        starts_at: datetime,
        capacity: int | None,
        *,
        wait: bool = False,
        now: datetime,
    ) -> SeatResult:
        """A seat for the person if one is free; if not, with ``wait``, a place in line."""
        await self._lock_slot(item_id, starts_at, now)
        promoted = await self._promote(item_id, starts_at, capacity, now)
        row = await self._row(person_id, item_id, starts_at)
        taken = await self.taken(item_id, starts_at)
        if row is not None and row.status == SIGNUP_ACTIVE:
            return SeatResult(ALREADY, _signup_info(row), taken=taken, promoted=promoted)
        if capacity is None or taken < capacity:
            row = await self._put(row, person_id, item_id, starts_at, SIGNUP_ACTIVE, now)
            return SeatResult(SEATED, _signup_info(row), taken=taken + 1, promoted=promoted)
        if row is not None and row.status == SIGNUP_WAITING:
            info = _signup_info(row)
            return SeatResult(
                QUEUED, info, position=await self.position(info), taken=taken, promoted=promoted
            )
        if not wait:
            return SeatResult(FULL, taken=taken, promoted=promoted)
        row = await self._put(row, person_id, item_id, starts_at, SIGNUP_WAITING, now)
        info = _signup_info(row)
        return SeatResult(
            QUEUED, info, position=await self.position(info), taken=taken, promoted=promoted
        )

    async def _put(
        self,
        row: EventSignup | None,
        person_id: int,
        item_id: str,
        starts_at: datetime,
        status: str,
        now: datetime,
    ) -> EventSignup:
        queued_at = now if status == SIGNUP_WAITING else None
        if row is None:
            row = EventSignup(
                person_id=person_id,
                item_id=item_id,
                starts_at=starts_at,
                status=status,
                created_at=now,
                queued_at=queued_at,
                updated_at=now,
            )
            self.session.add(row)
        else:
            row.status = status
            row.queued_at = queued_at
            row.updated_at = now
        await self.session.flush()
        return row

    async def cancel(
        self,
        person_id: int,
        item_id: str,
        starts_at: datetime,
        capacity: int | None,
        *,
        now: datetime,
    ) -> CancelResult:
        """Give up a seat or a place in line; a freed seat goes to the first in line."""
        await self._lock_slot(item_id, starts_at, now)
        row = await self._row(person_id, item_id, starts_at)
        if row is None or row.status == SIGNUP_CANCELLED:
            return CancelResult(None)
        before = _signup_info(row)
        row.status = SIGNUP_CANCELLED
        row.queued_at = None
        row.updated_at = now
        await self.session.flush()
        promoted = await self._promote(item_id, starts_at, capacity, now) if before.active else ()
        return CancelResult(before, promoted)

    async def position(self, signup: SignupInfo) -> int:
        """1 for the first in line."""
        queued_at = signup.queued_at or signup.starts_at
        ahead = await self.session.scalar(
            select(func.count()).where(
                EventSignup.item_id == signup.item_id,
                EventSignup.starts_at == signup.starts_at,
                EventSignup.status == SIGNUP_WAITING,
                (EventSignup.queued_at < queued_at)
                | ((EventSignup.queued_at == queued_at) & (EventSignup.id < signup.id)),
            )
        )
        return int(ahead or 0) + 1

    # -- reading sign-ups --

    async def signup(self, signup_id: int) -> SignupInfo | None:
        row = await self.session.get(EventSignup, signup_id, populate_existing=True)
        return _signup_info(row) if row else None

    async def signup_for(
        self, person_id: int, item_id: str, starts_at: datetime
    ) -> SignupInfo | None:
        row = await self._row(person_id, item_id, starts_at)
        return _signup_info(row) if row else None

    async def upcoming(
        self, person_id: int, since: datetime, *, item_id: str | None = None
    ) -> list[SignupInfo]:
        """The person's seats and places in line at occurrences from ``since`` on, soonest
        first."""
        query = select(EventSignup).where(
            EventSignup.person_id == person_id,
            EventSignup.starts_at >= since,
            EventSignup.status.in_((SIGNUP_ACTIVE, SIGNUP_WAITING)),
        )
        if item_id is not None:
            query = query.where(EventSignup.item_id == item_id)
        rows = await self.session.scalars(
            query.order_by(EventSignup.starts_at, EventSignup.id).execution_options(
                populate_existing=True
            )
        )
        return [_signup_info(row) for row in rows]

    async def upcoming_without_notice(self, since: datetime, kind: str) -> list[SignupInfo]:
        """Seats and places in line at occurrences from ``since`` on, of people who have not
        blocked the bot, that have no notice of ``kind`` queued, sent or failed (a skipped one
        may be queued again: the reason it was skipped may have passed)."""
        noticed = select(EventNotice.id).where(
            EventNotice.signup_id == EventSignup.id,
            EventNotice.kind == kind,
            EventNotice.status != NOTICE_SKIPPED,
        )
        rows = await self.session.scalars(
            select(EventSignup)
            .join(Person, Person.id == EventSignup.person_id)
            .where(
                EventSignup.starts_at >= since,
                EventSignup.status.in_((SIGNUP_ACTIVE, SIGNUP_WAITING)),
                Person.blocked_at.is_(None),
                ~noticed.exists(),
            )
            .order_by(EventSignup.id)
            .execution_options(populate_existing=True)
        )
        return [_signup_info(row) for row in rows]

    # -- notices --

    async def schedule_notice(
        self, signup_id: int, kind: str, due_at: datetime, *, again: bool = False
    ) -> None:
        """Queue one notice per sign-up and kind. Scheduling it again moves a pending one; a
        notice already sent (or being sent) stays as it is unless ``again`` (a second
        promotion is news again)."""
        keep = (NOTICE_SENDING,) if again else (NOTICE_SENDING, NOTICE_SENT)
        values = {"due_at": due_at, "status": NOTICE_PENDING, "attempts": 0, "last_error": None}
        stmt = (
            insert(self.session, EventNotice)
            .values(signup_id=signup_id, kind=kind, **values)
            .on_conflict_do_update(
                index_elements=[EventNotice.signup_id, EventNotice.kind],
                set_=values,
                where=EventNotice.status.notin_(keep),
            )
        )
        await self.session.execute(stmt)

    async def drop_notices(self, signup_id: int) -> int:
        """Nothing more to send about this sign-up (it was cancelled)."""
        result = await self.session.execute(
            update(EventNotice)
            .where(EventNotice.signup_id == signup_id, EventNotice.status == NOTICE_PENDING)
            .values(status=NOTICE_SKIPPED, last_error="cancelled")
        )
        return rowcount(result)

    def _notices(self) -> Any:
        return (
            select(EventNotice, EventSignup, Person.telegram_id, Person.language, Person.blocked_at)
            .join(EventSignup, EventSignup.id == EventNotice.signup_id)
            .join(Person, Person.id == EventSignup.person_id)
            .execution_options(populate_existing=True)
        )

    @staticmethod
    def _notice_info(row: Any) -> NoticeInfo:
        notice, signup, telegram_id, language, blocked_at = row
        return NoticeInfo(
            id=notice.id,
            kind=notice.kind,
            due_at=notice.due_at,
            status=notice.status,
            attempts=notice.attempts,
            signup=_signup_info(signup),
            telegram_id=int(telegram_id),
            language=str(language),
            blocked=blocked_at is not None,
        )

    async def due_notices(self, now: datetime, *, limit: int = 100) -> list[NoticeInfo]:
        rows = await self.session.execute(
            self._notices()
            .where(EventNotice.status == NOTICE_PENDING, EventNotice.due_at <= now)
            .order_by(EventNotice.due_at, EventNotice.id)
            .limit(limit)
        )
        return [self._notice_info(row) for row in rows]

    async def notice(self, notice_id: int) -> NoticeInfo | None:
        row = (
            await self.session.execute(self._notices().where(EventNotice.id == notice_id))
        ).first()
        return self._notice_info(row) if row else None

    async def notices_of(self, signup_id: int) -> dict[str, str]:
        """kind -> status of a sign-up's notices."""
        rows = await self.session.execute(
            select(EventNotice.kind, EventNotice.status).where(EventNotice.signup_id == signup_id)
        )
        return {str(kind): str(status) for kind, status in rows}

    async def claim_notice(self, notice_id: int, *, now: datetime) -> bool:
        """Take a due notice for sending; False if another worker (or run) has it."""
        result = await self.session.execute(
            update(EventNotice)
            .where(
                EventNotice.id == notice_id,
                EventNotice.status == NOTICE_PENDING,
                EventNotice.due_at <= now,
            )
            .values(status=NOTICE_SENDING, attempts=EventNotice.attempts + 1)
        )
        return bool(rowcount(result))

    async def finish_notice(
        self, notice_id: int, status: str, *, now: datetime, error: str | None = None
    ) -> None:
        values: dict[str, Any] = {"status": status, "last_error": error[:64] if error else None}
        if status == NOTICE_SENT:
            values["sent_at"] = now
        await self.session.execute(
            update(EventNotice).where(EventNotice.id == notice_id).values(**values)
        )

    async def retry_notice(
        self, notice_id: int, *, at: datetime, error: str, attempts: int | None = None
    ) -> None:
        """Pending again at ``at``; with ``attempts``, that many tries are counted (a failure
        before the claim was committed did not count its try)."""
        values: dict[str, Any] = {"status": NOTICE_PENDING, "due_at": at, "last_error": error[:64]}
        if attempts is not None:
            values["attempts"] = attempts
        await self.session.execute(
            update(EventNotice).where(EventNotice.id == notice_id).values(**values)
        )

    # -- "not for me" --

    async def dismiss(self, person_id: int, item_id: str, reason: str, *, now: datetime) -> None:
        stmt = (
            insert(self.session, EventDismissal)
            .values(person_id=person_id, item_id=item_id, reason=reason, at=now)
            .on_conflict_do_update(
                index_elements=[EventDismissal.person_id, EventDismissal.item_id],
                set_={"reason": reason, "at": now},
            )
        )
        await self.session.execute(stmt)

    async def dismissed(self, person_id: int) -> dict[str, str]:
        rows = await self.session.execute(
            select(EventDismissal.item_id, EventDismissal.reason).where(
                EventDismissal.person_id == person_id
            )
        )
        return {str(item_id): str(reason) for item_id, reason in rows}

    # -- poster links opened before onboarding --

    async def remember_link(self, person_id: int, item_id: str, *, now: datetime) -> None:
        stmt = (
            insert(self.session, EventLink)
            .values(person_id=person_id, item_id=item_id, created_at=now)
            .on_conflict_do_update(
                index_elements=[EventLink.person_id], set_={"item_id": item_id, "created_at": now}
            )
        )
        await self.session.execute(stmt)

    async def take_link(self, person_id: int) -> str | None:
        """The item of a link the person opened before onboarding, forgotten as it is read."""
        item_id = await self.session.scalar(
            select(EventLink.item_id).where(EventLink.person_id == person_id)
        )
        if item_id is not None:
            await self.session.execute(delete(EventLink).where(EventLink.person_id == person_id))
        return item_id
