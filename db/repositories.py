"""Repositories: the only code that writes SQL. Each takes the session of the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Delete, Insert, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Answer, ConversationStateRow, Event, Person, ProcessedUpdate, utcnow


def _rowcount(result: Any) -> int:
    """Rows touched by an INSERT/UPDATE/DELETE (a CursorResult attribute)."""
    return int(getattr(result, "rowcount", 0) or 0)


def _insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT on both SQLite and PostgreSQL."""
    name = session.bind.dialect.name if session.bind is not None else "sqlite"
    if name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


@dataclass(frozen=True, slots=True)
class PersonInfo:
    """A detached snapshot of a person, safe to pass around after the session closed."""

    id: int
    telegram_id: int
    language: str
    consent_version: int | None
    consent_decided: bool
    first_seen: datetime
    last_seen: datetime
    blocked: bool

    @property
    def has_consent(self) -> bool:
        return self.consent_version is not None


def _info(person: Person) -> PersonInfo:
    return PersonInfo(
        id=person.id,
        telegram_id=person.telegram_id,
        language=person.language,
        consent_version=person.consent_version,
        consent_decided=person.consent_decided_at is not None,
        first_seen=person.first_seen,
        last_seen=person.last_seen,
        blocked=person.blocked_at is not None,
    )


class PersonRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_telegram_id(self, telegram_id: int) -> PersonInfo | None:
        person = await self.session.scalar(select(Person).where(Person.telegram_id == telegram_id))
        return _info(person) if person else None

    async def get(self, person_id: int) -> PersonInfo | None:
        person = await self.session.get(Person, person_id)
        return _info(person) if person else None

    async def ensure(
        self, telegram_id: int, language: str, *, now: datetime | None = None
    ) -> tuple[PersonInfo, bool]:
        """The person with this Telegram id, created if new. Returns (person, created)."""
        now = now or utcnow()
        stmt = (
            _insert(self.session, Person)
            .values(telegram_id=telegram_id, language=language, first_seen=now, last_seen=now)
            .on_conflict_do_nothing(index_elements=[Person.telegram_id])
        )
        result = await self.session.execute(stmt)
        created = bool(_rowcount(result))
        person = await self.session.scalar(
            select(Person)
            .where(Person.telegram_id == telegram_id)
            .execution_options(populate_existing=True)
        )
        assert person is not None
        return _info(person), created

    async def touch(
        self, person_id: int, *, now: datetime | None = None, unblock: bool = True
    ) -> None:
        values: dict[str, Any] = {"last_seen": now or utcnow()}
        if unblock:
            values["blocked_at"] = None
        await self.session.execute(update(Person).where(Person.id == person_id).values(**values))

    async def set_language(self, person_id: int, language: str) -> None:
        await self.session.execute(
            update(Person).where(Person.id == person_id).values(language=language)
        )

    async def set_consent(
        self, person_id: int, version: int | None, *, now: datetime | None = None
    ) -> None:
        await self.session.execute(
            update(Person)
            .where(Person.id == person_id)
            .values(consent_version=version, consent_decided_at=now or utcnow())
        )

    async def mark_blocked(self, telegram_id: int, *, now: datetime | None = None) -> None:
        await self.session.execute(
            update(Person)
            .where(Person.telegram_id == telegram_id)
            .values(blocked_at=now or utcnow())
        )

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(Person)) or 0)

    async def delete_by_telegram_id(self, telegram_id: int) -> bool:
        result = await self.session.execute(delete(Person).where(Person.telegram_id == telegram_id))
        return bool(_rowcount(result))


class AnswerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def save(
        self, person_id: int, dialog: str, key: str, value: Any, *, now: datetime | None = None
    ) -> None:
        """Store the latest answer to ``key``; ``None`` removes it (a skipped question)."""
        if value is None:
            await self.session.execute(
                delete(Answer).where(Answer.person_id == person_id, Answer.key == key)
            )
            return
        encoded = json.dumps(value, ensure_ascii=False)
        now = now or utcnow()
        stmt = _insert(self.session, Answer).values(
            person_id=person_id, dialog=dialog, key=key, value=encoded, answered_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[Answer.person_id, Answer.key],
            set_={"value": encoded, "dialog": dialog, "answered_at": now},
        )
        await self.session.execute(stmt)

    async def for_person(self, person_id: int) -> dict[str, Any]:
        rows = await self.session.execute(
            select(Answer.key, Answer.value)
            .where(Answer.person_id == person_id)
            .order_by(Answer.id)
        )
        return {key: json.loads(value) for key, value in rows}

    async def delete_for_person(self, person_id: int) -> int:
        result = await self.session.execute(delete(Answer).where(Answer.person_id == person_id))
        return _rowcount(result)


class UpdateRepository:
    """Which updates have been handled, for exactly-once effects under at-least-once delivery."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def is_processed(self, update_id: int) -> bool:
        found = await self.session.scalar(
            select(ProcessedUpdate.update_id).where(ProcessedUpdate.update_id == update_id)
        )
        return found is not None

    async def mark(self, update_id: int, *, now: datetime | None = None) -> bool:
        """Record ``update_id``; False if it was already recorded (another worker, a replay)."""
        stmt = (
            _insert(self.session, ProcessedUpdate)
            .values(update_id=update_id, processed_at=now or utcnow())
            .on_conflict_do_nothing(index_elements=[ProcessedUpdate.update_id])
        )
        result = await self.session.execute(stmt)
        return bool(_rowcount(result))

    async def prune(self, older_than: timedelta, *, now: datetime | None = None) -> int:
        cutoff = (now or utcnow()) - older_than
        result = await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff)
        )
        return _rowcount(result)


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
        values: dict[str, Any] = {"updated_at": utcnow()}
        if state is not ...:
            values["state"] = state
        if data is not ...:
            values["data"] = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        insert_values = {"key": key, "subject": subject, "state": None, "data": "{}", **values}
        stmt: Insert = _insert(self.session, ConversationStateRow).values(**insert_values)
        stmt = stmt.on_conflict_do_update(index_elements=[ConversationStateRow.key], set_=values)  # type: ignore[attr-defined]
        await self.session.execute(stmt)

    async def delete_subject(self, subject: int) -> int:
        stmt: Delete = delete(ConversationStateRow).where(ConversationStateRow.subject == subject)
        result = await self.session.execute(stmt)
        return _rowcount(result)


class StatsRepository:
    """Anonymous counters (no person id), kept for reports when people erase their data."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self, name: str, dims: dict[str, Any] | None = None, *, at: datetime | None = None
    ) -> None:
        self.session.add(Event(name=name, dims=dims or {}, at=at or utcnow()))

    async def count(self, name: str) -> int:
        return int(await self.session.scalar(select(func.count()).where(Event.name == name)) or 0)

    async def names(self) -> Sequence[str]:
        return list(await self.session.scalars(select(Event.name).distinct()))
