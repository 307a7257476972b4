"""Figures for the funder's reports: the only SQL of the reports.

Every figure is an aggregate computed by the database (``COUNT`` / ``GROUP BY``); nothing
loads every row into Python. A period is ``[start, end)`` in UTC. ``municipality`` (an
option id of the career plan, e.g. ``lohja``) narrows every figure that knows a place: people
by their ``municipality`` answer, requests by their own column, counters by their dims.

Sources, and what survives erasure:

* people reached (``persons``): new = first came in the period; active = used the bot in the
  period or later and came before its end (``last_seen`` is the only trace of use we keep);
  an erased person is gone from these;
* participants: people with consent who took a service in the period — made a coach request,
  took a seat at an event, or were marked attended (live rows; erased people drop out);
* requests (``handoff_requests``): kept anonymised on erasure, so these stay complete;
* counters (``stat_events``: ``career_plan_completed``, ``recommendation_shown``,
  ``event_signup``, ``followup_answered``): anonymous, kept on erasure;
* attendance (``event_attendance`` of sign-ups whose date is in the period).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    literal_column,
    select,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Answer, Event, EventAttendance, EventSignup, HandoffRequest, Person

#: target groups of the funder, each an answer of the career plan (key, stored value)
TARGET_GROUPS: Mapping[str, tuple[str, str]] = {
    "over_50": ("age_group", "50_plus"),
    "under_30": ("age_group", "under_30"),
    "long_term_unemployed": ("unemployment_duration", "over_12m"),
    "recent_graduate": ("situation", "recent_graduate"),
}


#: a period longer than this reads the counters in one pass (see ``_event_where``)
WIDE = timedelta(days=62)


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime
    municipality: str | None = None


def _json(value: str) -> str:
    """An answer's stored form (JSON text of the option id)."""
    return json.dumps(value, ensure_ascii=False)


Counts = dict[str | None, int]


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.bind.dialect.name if session.bind is not None else "sqlite"

    # -- helpers -----------------------------------------------------------------------

    def _in_place(self, person_id: Any, period: Period) -> ColumnElement[bool]:
        """The person's municipality answer is the period's municipality (if one is given)."""
        if period.municipality is None:
            return literal(True)
        return (
            select(Answer.id)
            .where(
                Answer.person_id == person_id,
                Answer.key == "municipality",
                Answer.value == _json(period.municipality),
            )
            .correlate_except(Answer)
            .exists()
        )

    def _event_where(self, name: str, period: Period) -> list[ColumnElement[bool]]:
        # A long period on SQLite: one pass over the table ("+name" keeps the planner off the
        # (name, at) index), since reading most rows through the index, with a table lookup
        # each for the dims, is several times slower. A short period uses the index.
        name_column: Any = Event.name
        if self.dialect == "sqlite" and period.end - period.start > WIDE:
            name_column = literal_column('+"stat_events"."name"', type_=Event.name.type)
        where = [name_column == name, Event.at >= period.start, Event.at < period.end]
        if period.municipality is not None:
            where.append(Event.dims["municipality"].as_string() == period.municipality)
        return where

    async def _grouped(self, statement: Select[Any, Any]) -> Counts:
        return {key: int(n) for key, n in (await self.session.execute(statement)).all()}

    async def _scalar(self, statement: Select[Any]) -> int:
        return int(await self.session.scalar(statement) or 0)

    # -- people reached ----------------------------------------------------------------

    def _reached(self, period: Period) -> list[ColumnElement[bool]]:
        # "+last_seen" on SQLite: not through the last_seen index. Most people of a period
        # match, and an index range scan with a table lookup per row is several times
        # slower than one pass over the table (see bench/report.py).
        last_seen: Any = Person.last_seen
        if self.dialect == "sqlite":
            last_seen = literal_column('+"persons"."last_seen"', type_=Person.last_seen.type)
        return [
            Person.first_seen < period.end,
            last_seen >= period.start,
            self._in_place(Person.id, period),
        ]

    async def people_new(self, period: Period) -> int:
        return await self._scalar(
            select(func.count()).where(
                Person.first_seen >= period.start,
                Person.first_seen < period.end,
                self._in_place(Person.id, period),
            )
        )

    async def people_active(self, period: Period) -> int:
        return await self._scalar(select(func.count()).where(*self._reached(period)))

    async def reached_by_answer(self, period: Period, key: str) -> Counts:
        """Active people by their answer to ``key`` (None: no answer, or no consent). One
        outer join on the (person, key) unique index: a lookup per person, no subquery."""
        statement = (
            select(Answer.value, func.count())
            .select_from(Person)
            .outerjoin(Answer, and_(Answer.person_id == Person.id, Answer.key == key))
            .where(*self._reached(period))
            .group_by(Answer.value)
        )
        raw = await self._grouped(statement)
        return {(json.loads(k) if k is not None else None): n for k, n in raw.items()}

    async def reached_by_language(self, period: Period) -> Counts:
        return await self._grouped(
            select(Person.language, func.count())
            .where(*self._reached(period))
            .group_by(Person.language)
        )

    # -- participants ------------------------------------------------------------------

    def _participants(self, period: Period) -> Any:
        """Ids of people with consent who took a service in the period (a subquery)."""
        requested = select(HandoffRequest.person_id.label("person_id")).where(
            HandoffRequest.person_id.is_not(None),
            HandoffRequest.created_at >= period.start,
            HandoffRequest.created_at < period.end,
        )
        signed_up = select(EventSignup.person_id.label("person_id")).where(
            EventSignup.status == "active",
            EventSignup.created_at >= period.start,
            EventSignup.created_at < period.end,
        )
        attended = (
            select(EventSignup.person_id.label("person_id"))
            .join(EventAttendance, EventAttendance.signup_id == EventSignup.id)
            .where(EventSignup.starts_at >= period.start, EventSignup.starts_at < period.end)
        )
        ids = union(requested, signed_up, attended).subquery()
        return (
            select(Person.id.label("person_id"))
            .join(ids, ids.c.person_id == Person.id)
            .where(Person.consent_version.is_not(None), self._in_place(Person.id, period))
            .subquery()
        )

    async def participants(self, period: Period) -> tuple[int, dict[str, int]]:
        """How many participants, and how many in each target group (one person may be in
        several): one query, each group an EXISTS on the answers' (person, key) index."""
        found = self._participants(period)
        columns: list[Any] = [func.count()]
        for key, value in TARGET_GROUPS.values():
            member = (
                select(Answer.id)
                .where(
                    Answer.person_id == found.c.person_id,
                    Answer.key == key,
                    Answer.value == _json(value),
                )
                .correlate_except(Answer)
                .exists()
            )
            columns.append(func.coalesce(func.sum(case((member, 1), else_=0)), 0))
        row = (await self.session.execute(select(*columns).select_from(found))).one()
        return int(row[0]), {group: int(n) for group, n in zip(TARGET_GROUPS, row[1:], strict=True)}

    # -- counters ----------------------------------------------------------------------

    async def count_events(self, name: str, period: Period) -> int:
        return await self._scalar(select(func.count()).where(*self._event_where(name, period)))

    async def events_by(self, name: str, dim: str, period: Period) -> Counts:
        value = Event.dims[dim].as_string()
        return await self._grouped(
            select(value, func.count()).where(*self._event_where(name, period)).group_by(value)
        )

    async def events_by_pair(
        self, name: str, first: str, second: str, period: Period
    ) -> dict[tuple[str | None, str | None], int]:
        """Counters by two dims at once (e.g. item and kind): one pass instead of two."""
        a, b = Event.dims[first].as_string(), Event.dims[second].as_string()
        rows = await self.session.execute(
            select(a, b, func.count()).where(*self._event_where(name, period)).group_by(a, b)
        )
        return {(x, y): int(n) for x, y, n in rows.all()}

    async def followup_helped(self, period: Period) -> tuple[int, int]:
        """(answers with a score, of which 4 or 5)."""
        score = Event.dims["helped"].as_integer()
        row = (
            await self.session.execute(
                select(
                    func.count(score),
                    func.coalesce(func.sum(case((score >= 4, 1), else_=0)), 0),
                ).where(*self._event_where("followup_answered", period))
            )
        ).one()
        return int(row[0]), int(row[1])

    # -- attendance --------------------------------------------------------------------

    async def attended_by_item(self, period: Period) -> Counts:
        return await self._grouped(
            select(EventSignup.item_id, func.count())
            .join(EventAttendance, EventAttendance.signup_id == EventSignup.id)
            .where(
                EventSignup.starts_at >= period.start,
                EventSignup.starts_at < period.end,
                self._in_place(EventSignup.person_id, period),
            )
            .group_by(EventSignup.item_id)
        )

    # -- coach requests ----------------------------------------------------------------

    def _requests(self, period: Period) -> list[ColumnElement[bool]]:
        where = [HandoffRequest.created_at >= period.start, HandoffRequest.created_at < period.end]
        if period.municipality is not None:
            where.append(HandoffRequest.municipality == period.municipality)
        return where

    async def requests(self, period: Period) -> tuple[int, int]:
        """(requests made in the period, of which claimed by a coach)."""
        row = (
            await self.session.execute(
                select(func.count(), func.count(HandoffRequest.claimed_at)).where(
                    *self._requests(period)
                )
            )
        ).one()
        return int(row[0]), int(row[1])

    def _wait_seconds(self) -> ColumnElement[Any]:
        claimed, created = HandoffRequest.claimed_at, HandoffRequest.created_at
        if self.dialect == "postgresql":
            return extract("epoch", claimed - created)
        return cast((func.julianday(claimed) - func.julianday(created)) * 86400.0, Float)

    async def median_claim_seconds(self, period: Period) -> float | None:
        """The median wait from request to claim, of the period's claimed requests: the
        middle one (or the mean of the two middle ones) by an ordered OFFSET query, which
        works the same on SQLite and PostgreSQL."""
        where = [*self._requests(period), HandoffRequest.claimed_at.is_not(None)]
        n = await self._scalar(select(func.count()).where(*where))
        if n == 0:
            return None
        wait = self._wait_seconds()
        middle = (
            await self.session.scalars(
                select(wait).where(*where).order_by(wait).offset((n - 1) // 2).limit(2 - n % 2)
            )
        ).all()
        return sum(float(v) for v in middle) / len(middle)

    async def closed_by_outcome(self, period: Period) -> Counts:
        where = [HandoffRequest.closed_at >= period.start, HandoffRequest.closed_at < period.end]
        if period.municipality is not None:
            where.append(HandoffRequest.municipality == period.municipality)
        return await self._grouped(
            select(HandoffRequest.outcome, func.count())
            .where(and_(*where))
            .group_by(HandoffRequest.outcome)
        )
