"""Handoff requests: a person asks for a coach; a coach claims, answers and closes the request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Coach, HandoffRequest, OutboxMessage, Person, RelayMessage, utcnow
from .common import insert, rowcount

#: statuses of a handoff request
NEW, CLAIMED, CLOSED = "new", "claimed", "closed"


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """A detached snapshot of a handoff request (with its coach's name, if claimed)."""

    id: int
    person_id: int | None
    person_telegram_id: int | None
    #: the person's language now (they may have changed it since the request)
    person_language: str
    status: str
    #: the language the request was made in
    language: str
    first_name: str | None
    topic: str
    details: str | None
    contact_method: str
    phone: str | None
    meeting_preference: str | None
    share_answers: bool
    municipality: str | None
    age_group: str | None
    shared_answers: dict[str, Any] | None
    created_at: datetime
    announced_at: datetime
    reannouncements: int
    coach_id: int | None
    coach_name: str | None
    coach_telegram_id: int | None
    claimed_at: datetime | None
    last_activity_at: datetime
    reminded_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    feedback: int | None
    telegram_chat_id: int | None
    card_message_id: int | None
    topic_thread_id: int | None

    @property
    def is_open(self) -> bool:
        return self.status != CLOSED


@dataclass(frozen=True, slots=True)
class NewRequest:
    """What a person told us when asking for a coach."""

    person_id: int
    language: str
    first_name: str | None
    topic: str
    contact_method: str
    details: str | None = None
    phone: str | None = None
    meeting_preference: str | None = None
    share_answers: bool = False
    municipality: str | None = None
    age_group: str | None = None
    shared_answers: dict[str, Any] | None = None


class HandoffRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _select(self) -> Any:
        return (
            select(
                HandoffRequest, Person.telegram_id, Person.language, Coach.name, Coach.telegram_id
            )
            .outerjoin(Person, Person.id == HandoffRequest.person_id)
            .outerjoin(Coach, Coach.id == HandoffRequest.coach_id)
            .execution_options(populate_existing=True)
        )

    @staticmethod
    def _info(row: Any) -> RequestInfo:
        r: HandoffRequest = row[0]
        return RequestInfo(
            id=r.id,
            person_id=r.person_id,
            person_telegram_id=row[1],
            person_language=row[2] or r.language,
            status=r.status,
            language=r.language,
            first_name=r.first_name,
            topic=r.topic,
            details=r.details,
            contact_method=r.contact_method,
            phone=r.phone,
            meeting_preference=r.meeting_preference,
            share_answers=r.share_answers,
            municipality=r.municipality,
            age_group=r.age_group,
            shared_answers=dict(r.shared_answers) if r.shared_answers else None,
            created_at=r.created_at,
            announced_at=r.announced_at,
            reannouncements=r.reannouncements,
            coach_id=r.coach_id,
            coach_name=row[3],
            coach_telegram_id=row[4],
            claimed_at=r.claimed_at,
            last_activity_at=r.last_activity_at,
            reminded_at=r.reminded_at,
            closed_at=r.closed_at,
            outcome=r.outcome,
            feedback=r.feedback,
            telegram_chat_id=r.telegram_chat_id,
            card_message_id=r.card_message_id,
            topic_thread_id=r.topic_thread_id,
        )

    async def _one(self, *where: Any) -> RequestInfo | None:
        row = (await self.session.execute(self._select().where(*where))).first()
        return self._info(row) if row else None

    async def _many(
        self, *where: Any, order: Any = None, limit: int | None = None
    ) -> list[RequestInfo]:
        stmt = self._select().where(*where)
        stmt = stmt.order_by(*(order if order is not None else (HandoffRequest.id,)))
        if limit is not None:
            stmt = stmt.limit(limit)
        return [self._info(row) for row in await self.session.execute(stmt)]

    async def create(self, new: NewRequest, *, now: datetime | None = None) -> int | None:
        """Store a new request; None if the person already has an open one."""
        now = now or utcnow()
        stmt = (
            insert(self.session, HandoffRequest)
            .values(
                person_id=new.person_id,
                open_person_id=new.person_id,
                status=NEW,
                language=new.language,
                first_name=new.first_name,
                topic=new.topic,
                details=new.details,
                contact_method=new.contact_method,
                phone=new.phone,
                meeting_preference=new.meeting_preference,
                share_answers=new.share_answers,
                municipality=new.municipality,
                age_group=new.age_group,
                shared_answers=new.shared_answers,
                created_at=now,
                announced_at=now,
                last_activity_at=now,
            )
            .on_conflict_do_nothing(index_elements=[HandoffRequest.open_person_id])
        )
        result = await self.session.execute(stmt)
        if not rowcount(result):
            return None
        found = await self.session.scalar(
            select(HandoffRequest.id).where(HandoffRequest.open_person_id == new.person_id)
        )
        return int(found) if found is not None else None

    async def get(self, request_id: int) -> RequestInfo | None:
        return await self._one(HandoffRequest.id == request_id)

    async def in_coach_chat_of_person(self, person_id: int) -> list[int]:
        """Ids of the person's requests that have messages in a coach chat (a card or a topic)."""
        rows = await self.session.scalars(
            select(HandoffRequest.id)
            .where(
                HandoffRequest.person_id == person_id,
                HandoffRequest.telegram_chat_id.is_not(None),
            )
            .order_by(HandoffRequest.id)
        )
        return list(rows)

    async def open_for_person(self, person_id: int) -> RequestInfo | None:
        return await self._one(HandoffRequest.open_person_id == person_id)

    async def by_topic(self, chat_id: int, thread_id: int) -> RequestInfo | None:
        return await self._one(
            HandoffRequest.telegram_chat_id == chat_id, HandoffRequest.topic_thread_id == thread_id
        )

    async def claim(self, request_id: int, coach_id: int, *, now: datetime | None = None) -> bool:
        """First claim wins: a single conditional UPDATE, so of two coaches pressing at once
        exactly one changes the row (on SQLite and PostgreSQL alike)."""
        now = now or utcnow()
        result = await self.session.execute(
            update(HandoffRequest)
            .where(HandoffRequest.id == request_id, HandoffRequest.status == NEW)
            .values(status=CLAIMED, coach_id=coach_id, claimed_at=now, last_activity_at=now)
        )
        return bool(rowcount(result))

    async def release(self, request_id: int, coach_id: int | None = None) -> bool:
        """Back to the queue; with ``coach_id``, only if that coach holds it."""
        where = [HandoffRequest.id == request_id, HandoffRequest.status == CLAIMED]
        if coach_id is not None:
            where.append(HandoffRequest.coach_id == coach_id)
        result = await self.session.execute(
            update(HandoffRequest).where(*where).values(status=NEW, coach_id=None, claimed_at=None)
        )
        return bool(rowcount(result))

    async def close(
        self,
        request_id: int,
        outcome: str,
        *,
        coach_id: int | None = None,
        now: datetime | None = None,
    ) -> bool:
        where = [HandoffRequest.id == request_id, HandoffRequest.status != CLOSED]
        values: dict[str, Any] = {
            "status": CLOSED,
            "outcome": outcome,
            "closed_at": now or utcnow(),
            "open_person_id": None,
        }
        if coach_id is not None:
            values["coach_id"] = coach_id
        result = await self.session.execute(update(HandoffRequest).where(*where).values(**values))
        return bool(rowcount(result))

    async def set_feedback(self, request_id: int, person_id: int, score: int) -> bool:
        result = await self.session.execute(
            update(HandoffRequest)
            .where(
                HandoffRequest.id == request_id,
                HandoffRequest.person_id == person_id,
                HandoffRequest.status == CLOSED,
                HandoffRequest.feedback.is_(None),  # stored once: a second press changes nothing
            )
            .values(feedback=score)
        )
        return bool(rowcount(result))

    async def touch(self, request_id: int, *, now: datetime | None = None) -> None:
        await self.session.execute(
            update(HandoffRequest)
            .where(HandoffRequest.id == request_id)
            .values(last_activity_at=now or utcnow())
        )

    async def set_card(self, request_id: int, chat_id: int, message_id: int) -> None:
        """Remember the first card that reached the coach chat (later ones do not replace it)."""
        await self.session.execute(
            update(HandoffRequest)
            .where(HandoffRequest.id == request_id, HandoffRequest.card_message_id.is_(None))
            .values(telegram_chat_id=chat_id, card_message_id=message_id)
        )

    async def set_topic(self, request_id: int, chat_id: int, thread_id: int | None) -> None:
        await self.session.execute(
            update(HandoffRequest)
            .where(HandoffRequest.id == request_id)
            .values(telegram_chat_id=chat_id, topic_thread_id=thread_id)
        )

    async def mark_announced(
        self, request_id: int, *, previous: int, now: datetime | None = None
    ) -> bool:
        """Count one re-announcement; False if someone else counted it first."""
        result = await self.session.execute(
            update(HandoffRequest)
            .where(
                HandoffRequest.id == request_id,
                HandoffRequest.status == NEW,
                HandoffRequest.reannouncements == previous,
            )
            .values(announced_at=now or utcnow(), reannouncements=previous + 1)
        )
        return bool(rowcount(result))

    async def mark_reminded(self, request_id: int, *, now: datetime | None = None) -> None:
        await self.session.execute(
            update(HandoffRequest)
            .where(HandoffRequest.id == request_id)
            .values(reminded_at=now or utcnow())
        )

    async def open_requests(self) -> list[RequestInfo]:
        """Every open request: unclaimed first, oldest first."""
        unclaimed_first = case((HandoffRequest.status == NEW, 0), else_=1)
        return await self._many(
            HandoffRequest.status != CLOSED,
            order=(unclaimed_first, HandoffRequest.created_at, HandoffRequest.id),
        )

    async def claimed_by(self, coach_id: int) -> list[RequestInfo]:
        return await self._many(
            HandoffRequest.status == CLAIMED,
            HandoffRequest.coach_id == coach_id,
            order=(HandoffRequest.claimed_at, HandoffRequest.id),
        )

    async def created_since(self, since: datetime) -> int:
        return int(
            await self.session.scalar(
                select(func.count()).where(HandoffRequest.created_at >= since)
            )
            or 0
        )

    async def anonymise_person(self, person_id: int, *, now: datetime | None = None) -> int:
        """Blank what identifies the person in their requests and relayed messages (for "delete
        my data"); open requests are closed. Counts for the reports stay."""
        ids = list(
            await self.session.scalars(
                select(HandoffRequest.id).where(HandoffRequest.person_id == person_id)
            )
        )
        if not ids:
            return 0
        now = now or utcnow()
        await self.session.execute(
            update(HandoffRequest)
            .where(HandoffRequest.id.in_(ids), HandoffRequest.status != CLOSED)
            .values(status=CLOSED, outcome="no_longer_needed", closed_at=now)
        )
        await self.session.execute(
            update(HandoffRequest)
            .where(HandoffRequest.id.in_(ids))
            .values(
                person_id=None,
                open_person_id=None,
                first_name=None,
                details=None,
                phone=None,
                shared_answers=None,
                anonymised_at=now,
            )
        )
        await self.session.execute(
            update(RelayMessage).where(RelayMessage.request_id.in_(ids)).values(text=None)
        )
        await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.request_id.in_(ids),
                OutboxMessage.status.in_(("pending", "held", "unknown")),
            )
            .values(status="skipped")
        )
        await self.session.execute(
            update(OutboxMessage).where(OutboxMessage.request_id.in_(ids)).values(payload={})
        )
        return len(ids)
