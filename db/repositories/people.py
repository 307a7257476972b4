"""People: who has talked to the bot, their language, consent and whether they blocked it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Person, utcnow
from .common import insert, rowcount


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
    #: whether a coach request of theirs is open (new or taken), as read with the update's
    #: context; None: not read (ask the handoff requests)
    open_request: bool | None = None

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
            insert(self.session, Person)
            .values(telegram_id=telegram_id, language=language, first_seen=now, last_seen=now)
            .on_conflict_do_nothing(index_elements=[Person.telegram_id])
        )
        result = await self.session.execute(stmt)
        created = bool(rowcount(result))
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

    async def unmark_blocked(self, telegram_id: int) -> None:
        """The person unblocked (or restarted) the bot: scheduled messages go to them again."""
        await self.session.execute(
            update(Person)
            .where(Person.telegram_id == telegram_id, Person.blocked_at.is_not(None))
            .values(blocked_at=None)
        )

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(Person)) or 0)

    async def delete_by_telegram_id(self, telegram_id: int) -> bool:
        result = await self.session.execute(delete(Person).where(Person.telegram_id == telegram_id))
        return bool(rowcount(result))
