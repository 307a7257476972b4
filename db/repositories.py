"""Repositories: the only code that writes SQL. Each takes the session of the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Delete,
    Select,
    Table,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from . import fastlane
from .database import inline_statements
from .models import (
    Answer,
    Coach,
    ConversationStateRow,
    Event,
    EventDismissal,
    EventLink,
    EventNotice,
    EventSignup,
    EventSlot,
    HandoffLink,
    HandoffRequest,
    OutboxMessage,
    Person,
    ProcessedUpdate,
    RelayMessage,
    utcnow,
)


def _rowcount(result: Any) -> int:
    """Rows touched by an INSERT/UPDATE/DELETE (a CursorResult attribute)."""
    return int(getattr(result, "rowcount", 0) or 0)


def _insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT on both SQLite and PostgreSQL."""
    return _insert_for(_dialect_name(session), table)


# -- the hot path's statements -----------------------------------------------------------------
#
# Every handled update runs the same few statements (UpdateRepository.context and mark,
# AnswerRepository.save, StateRepository.put). They are built once per dialect, as Core
# statements on the tables with bound parameters, and executed with a parameter dict: the
# statement object is the same every time, so SQLAlchemy's cache key for it is memoized and its
# compiled form comes from the compiled cache, and the ORM's DML machinery is not involved.
# The columns' types (encryption, UTC datetimes) apply to the parameters as they would to
# ``.values()``. Upserts set the updated columns from ``excluded``: each value is sent (and
# encrypted) once.

_UPDATES = cast(Table, ProcessedUpdate.__table__)
_PERSONS = cast(Table, Person.__table__)
_REQUESTS = cast(Table, HandoffRequest.__table__)
_ANSWERS = cast(Table, Answer.__table__)
_STATES = cast(Table, ConversationStateRow.__table__)

_hot_statements: dict[tuple[str, Hashable], Any] = {}


def _dialect_name(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _hot(session: AsyncSession, name: Hashable, build: Callable[[str], Any]) -> Any:
    """The statement ``name`` for the session's dialect, built by ``build(dialect)`` once."""
    key = (_dialect_name(session), name)
    found = _hot_statements.get(key)
    if found is None:
        found = _hot_statements[key] = build(key[0])
    return found


def _on_connection(session: Session, stmt: Any, params: dict[str, Any], one: bool) -> Any:
    """Run ``stmt`` on the session's connection, inside its greenlet; the only row (``one``)
    or the number of rows touched. Pending ORM changes are flushed first, as
    ``session.execute`` would with autoflush on."""
    if session.autoflush:
        session.flush()
    with inline_statements():  # the transaction's BEGIN included, if this is its first
        result = session.connection().execute(stmt, params)
    return result.one() if one else _rowcount(result)


async def _write(session: AsyncSession, stmt: Any, params: dict[str, Any]) -> int:
    """Run an INSERT/UPDATE/DELETE of the hot path; the number of rows it touched."""
    touched = fastlane.run_write(session, stmt, params)
    if touched is not None:
        return touched
    return int(await session.run_sync(_on_connection, stmt, params, False))


async def _read_one(session: AsyncSession, stmt: Any, params: dict[str, Any]) -> Sequence[Any]:
    """Run a SELECT of the hot path that returns exactly one row."""
    row = fastlane.read_one(session, stmt, params)
    if row is not None:
        return cast("Sequence[Any]", row)
    return cast("Row[Any]", await session.run_sync(_on_connection, stmt, params, True))


def _insert_for(dialect: str, table: Any) -> Any:
    """INSERT with ON CONFLICT for ``dialect``; PostgreSQL's module is imported only where it
    is used (about 2 MB a SQLite deployment does not need)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)


def _mark_statement(dialect: str) -> Any:
    return _insert_for(dialect, _UPDATES).on_conflict_do_nothing(
        index_elements=[_UPDATES.c.update_id]
    )


def _answer_upsert(dialect: str) -> Any:
    stmt = _insert_for(dialect, _ANSWERS)
    new = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[_ANSWERS.c.person_id, _ANSWERS.c.key],
        set_={
            "value": new.value,
            "private_value": new.private_value,
            "dialog": new.dialog,
            "answered_at": new.answered_at,
        },
    )


def _answer_delete(_dialect: str) -> Delete:
    return delete(_ANSWERS).where(
        _ANSWERS.c.person_id == bindparam("person_id"), _ANSWERS.c.key == bindparam("key")
    )


def _state_upsert(with_state: bool, with_data: bool) -> Callable[[str], Any]:
    def build(dialect: str) -> Any:
        stmt = _insert_for(dialect, _STATES)
        new = stmt.excluded
        set_: dict[str, Any] = {"updated_at": new.updated_at}
        if with_state:
            set_["state"] = new.state
        if with_data:
            set_["data"] = new.data
        return stmt.on_conflict_do_update(index_elements=[_STATES.c.key], set_=set_)

    return build


def _context_statement(with_person: bool, with_state: bool) -> Callable[[str], Select[Any]]:
    def build(_dialect: str) -> Select[Any]:
        one = select(literal(1).label("one")).subquery("one")
        done = (
            select(_UPDATES.c.update_id)
            .where(_UPDATES.c.update_id == bindparam("update_id"))
            .exists()
        )
        columns: list[Any] = [done.label("done")]
        source: Any = one
        if with_person:
            p = _PERSONS.c
            source = source.outerjoin(_PERSONS, p.telegram_id == bindparam("telegram_id"))
            open_request = select(_REQUESTS.c.id).where(_REQUESTS.c.open_person_id == p.id).exists()
            columns += [
                p.id,
                p.telegram_id,
                p.language,
                p.consent_version,
                p.consent_decided_at,
                p.first_seen,
                p.last_seen,
                p.blocked_at,
                open_request.label("open_request"),
            ]
        if with_state:
            c = _STATES.c
            source = source.outerjoin(_STATES, c.key == bindparam("state_key"))
            columns += [c.key, c.state, c.data]
        return select(*columns).select_from(source)

    return build


_CONTEXT = {
    (person, state): _context_statement(person, state)
    for person in (False, True)
    for state in (False, True)
}
_STATE_UPSERT = {
    (state, data): _state_upsert(state, data) for state in (False, True) for data in (False, True)
}


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
        return bool(_rowcount(result))


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
            await _write(
                self.session,
                _hot(self.session, "answer_delete", _answer_delete),
                {"person_id": person_id, "key": key},
            )
            return
        encoded = json.dumps(value, ensure_ascii=False)
        await _write(
            self.session,
            _hot(self.session, "answer_upsert", _answer_upsert),
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
        return _rowcount(result)


@dataclass(frozen=True, slots=True)
class UpdateContext:
    """What the bot reads before handling an update (see :meth:`UpdateRepository.context`)."""

    processed: bool
    #: None: no such person yet (or not asked for)
    person: PersonInfo | None
    #: (state, data) of the conversation row; None: no row yet (or not asked for)
    state: tuple[str | None, dict[str, Any]] | None


class UpdateRepository:
    """Which updates have been handled, for exactly-once effects under at-least-once delivery."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def context(
        self, update_id: int, telegram_id: int | None = None, state_key: str | None = None
    ) -> UpdateContext:
        """In ONE statement: was the update handled, the person with ``telegram_id`` and the
        conversation-state row ``state_key``. Each statement costs several hops to the
        database thread, so the hot path asks once instead of three times."""
        shape = (telegram_id is not None, state_key is not None)
        stmt = _hot(self.session, ("context", shape), _CONTEXT[shape])
        params = {"update_id": update_id, "telegram_id": telegram_id, "state_key": state_key}
        row = list(await _read_one(self.session, stmt, params))
        processed = bool(row.pop(0))
        person = None
        if telegram_id is not None:
            fields, row = row[:9], row[9:]
            if fields[0] is not None:
                person = PersonInfo(
                    id=fields[0],
                    telegram_id=fields[1],
                    language=fields[2],
                    consent_version=fields[3],
                    consent_decided=fields[4] is not None,
                    first_seen=fields[5],
                    last_seen=fields[6],
                    blocked=fields[7] is not None,
                    open_request=bool(fields[8]),
                )
        state = None
        if state_key is not None and row[0] is not None:
            state = (row[1], json.loads(row[2]))
        return UpdateContext(processed, person, state)

    async def is_processed(self, update_id: int) -> bool:
        found = await self.session.scalar(
            select(ProcessedUpdate.update_id).where(ProcessedUpdate.update_id == update_id)
        )
        return found is not None

    async def mark(self, update_id: int, *, now: datetime | None = None) -> bool:
        """Record ``update_id``; False if it was already recorded (another worker, a replay)."""
        touched = await _write(
            self.session,
            _hot(self.session, "mark", _mark_statement),
            {"update_id": update_id, "processed_at": now or utcnow()},
        )
        return bool(touched)

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
        shape = (state is not ..., data is not ...)
        await _write(
            self.session,
            _hot(self.session, ("state_upsert", shape), _STATE_UPSERT[shape]),
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


# -- handoff to a human coach ------------------------------------------------------------------

#: statuses of a handoff request
NEW, CLAIMED, CLOSED = "new", "claimed", "closed"


@dataclass(frozen=True, slots=True)
class CoachInfo:
    id: int
    telegram_id: int
    name: str
    active: bool


def _coach_info(coach: Coach) -> CoachInfo:
    return CoachInfo(coach.id, coach.telegram_id, coach.name, coach.removed_at is None)


class CoachRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        telegram_id: int,
        name: str,
        *,
        added_by: int | None = None,
        now: datetime | None = None,
    ) -> CoachInfo:
        """Make ``telegram_id`` a coach called ``name`` (again, if they had been removed)."""
        now = now or utcnow()
        stmt = (
            _insert(self.session, Coach)
            .values(telegram_id=telegram_id, name=name, added_at=now, added_by=added_by)
            .on_conflict_do_update(
                index_elements=[Coach.telegram_id],
                set_={"name": name, "removed_at": None, "added_by": added_by, "added_at": now},
            )
        )
        await self.session.execute(stmt)
        found = await self.by_telegram_id(telegram_id)
        assert found is not None
        return found

    async def ensure(
        self, telegram_id: int, name: str, *, now: datetime | None = None
    ) -> CoachInfo:
        """An active coach row for ``telegram_id`` (admins are coaches without being added);
        an existing name is kept."""
        found = await self.by_telegram_id(telegram_id)
        if found is not None and found.active:
            return found
        if found is not None:
            await self.session.execute(
                update(Coach).where(Coach.id == found.id).values(removed_at=None)
            )
            return CoachInfo(found.id, found.telegram_id, found.name, True)
        stmt = (
            _insert(self.session, Coach)
            .values(telegram_id=telegram_id, name=name, added_at=now or utcnow())
            .on_conflict_do_nothing(index_elements=[Coach.telegram_id])
        )
        await self.session.execute(stmt)
        created = await self.by_telegram_id(telegram_id)
        assert created is not None
        return created

    async def remove(self, telegram_id: int, *, now: datetime | None = None) -> bool:
        result = await self.session.execute(
            update(Coach)
            .where(Coach.telegram_id == telegram_id, Coach.removed_at.is_(None))
            .values(removed_at=now or utcnow())
        )
        return bool(_rowcount(result))

    async def by_telegram_id(self, telegram_id: int) -> CoachInfo | None:
        coach = await self.session.scalar(
            select(Coach)
            .where(Coach.telegram_id == telegram_id)
            .execution_options(populate_existing=True)
        )
        return _coach_info(coach) if coach else None

    async def active(self, telegram_id: int) -> CoachInfo | None:
        found = await self.by_telegram_id(telegram_id)
        return found if found is not None and found.active else None

    async def get(self, coach_id: int) -> CoachInfo | None:
        coach = await self.session.get(Coach, coach_id)
        return _coach_info(coach) if coach else None

    async def list_active(self) -> list[CoachInfo]:
        rows = await self.session.scalars(
            select(Coach).where(Coach.removed_at.is_(None)).order_by(Coach.name, Coach.id)
        )
        return [_coach_info(c) for c in rows]


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
            _insert(self.session, HandoffRequest)
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
        if not _rowcount(result):
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
        return bool(_rowcount(result))

    async def release(self, request_id: int, coach_id: int | None = None) -> bool:
        """Back to the queue; with ``coach_id``, only if that coach holds it."""
        where = [HandoffRequest.id == request_id, HandoffRequest.status == CLAIMED]
        if coach_id is not None:
            where.append(HandoffRequest.coach_id == coach_id)
        result = await self.session.execute(
            update(HandoffRequest).where(*where).values(status=NEW, coach_id=None, claimed_at=None)
        )
        return bool(_rowcount(result))

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
        return bool(_rowcount(result))

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
        return bool(_rowcount(result))

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
        return bool(_rowcount(result))

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


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    key: str
    kind: str
    request_id: int | None
    telegram_chat_id: int | None
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    telegram_message_id: int | None
    last_error: str | None


def _outbox_item(row: OutboxMessage) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        key=row.key,
        kind=row.kind,
        request_id=row.request_id,
        telegram_chat_id=row.telegram_chat_id,
        payload=dict(row.payload or {}),
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        telegram_message_id=row.telegram_message_id,
        last_error=row.last_error,
    )


#: outbox statuses
PENDING, SENDING, SENT, HELD, UNKNOWN, SKIPPED = (
    "pending",
    "sending",
    "sent",
    "held",
    "unknown",
    "skipped",
)


class OutboxRepository:
    """Messages to deliver exactly once. See :class:`~db.models.OutboxMessage`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enqueue(
        self,
        key: str,
        kind: str,
        *,
        payload: dict[str, Any] | None = None,
        request_id: int | None = None,
        chat_id: int | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Queue a message once: False if ``key`` was queued before (whatever became of it)."""
        now = now or utcnow()
        stmt = (
            _insert(self.session, OutboxMessage)
            .values(
                key=key,
                kind=kind,
                request_id=request_id,
                telegram_chat_id=chat_id,
                payload=payload or {},
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[OutboxMessage.key])
        )
        return bool(_rowcount(await self.session.execute(stmt)))

    async def get(self, item_id: int) -> OutboxItem | None:
        row = await self.session.get(OutboxMessage, item_id, populate_existing=True)
        return _outbox_item(row) if row else None

    async def by_key(self, key: str) -> OutboxItem | None:
        row = await self.session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.key == key)
            .execution_options(populate_existing=True)
        )
        return _outbox_item(row) if row else None

    async def due(self, now: datetime, *, limit: int = 50) -> list[OutboxItem]:
        rows = await self.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status.in_((PENDING, HELD)), OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
        return [_outbox_item(r) for r in rows]

    async def claim(self, item_id: int, *, now: datetime, lease: timedelta) -> bool:
        """Take a due row for sending until ``now + lease``; False if another worker has it."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == item_id,
                OutboxMessage.status.in_((PENDING, HELD)),
                OutboxMessage.next_attempt_at <= now,
            )
            .values(
                status=SENDING,
                attempts=OutboxMessage.attempts + 1,
                next_attempt_at=now + lease,
            )
        )
        return bool(_rowcount(result))

    async def mark_sent(
        self, item_id: int, message_id: int | None, *, now: datetime | None = None
    ) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item_id)
            .values(status=SENT, sent_at=now or utcnow(), telegram_message_id=message_id)
        )

    async def mark_retry(self, item_id: int, *, at: datetime, error: str) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item_id)
            .values(status=PENDING, next_attempt_at=at, last_error=error[:200])
        )

    async def mark_held(self, item_id: int, *, at: datetime, error: str) -> bool:
        """Telegram refused the message: keep it, try again at ``at``. True the first time (so
        the admins are told once, not on every slow retry)."""
        previous = await self.session.scalar(
            select(OutboxMessage.last_error).where(OutboxMessage.id == item_id)
        )
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item_id)
            .values(status=HELD, next_attempt_at=at, last_error=f"held:{error}"[:200])
        )
        return not (previous or "").startswith("held:")

    async def mark_unknown(self, item_id: int, *, error: str) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item_id)
            .values(status=UNKNOWN, last_error=error[:200])
        )

    async def mark_skipped(self, item_id: int, *, reason: str) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item_id)
            .values(status=SKIPPED, last_error=reason[:200])
        )

    async def expired_leases(self, now: datetime) -> list[OutboxItem]:
        """Rows whose sender vanished mid-send (a crash): their outcome is unknown."""
        rows = await self.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == SENDING, OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id)
            .execution_options(populate_existing=True)
        )
        return [_outbox_item(r) for r in rows]

    async def resend(self, item_id: int, *, now: datetime | None = None) -> bool:
        """An admin decided: send an ``unknown`` or ``held`` row again now."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item_id, OutboxMessage.status.in_((UNKNOWN, HELD)))
            .values(status=PENDING, next_attempt_at=now or utcnow())
        )
        return bool(_rowcount(result))

    async def skip_unknown_cards(self, request_id: int) -> int:
        """A coach has the request in hand: an unconfirmed card no longer needs a decision."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.request_id == request_id,
                OutboxMessage.status == UNKNOWN,
                OutboxMessage.kind.in_(("card", "reannounce")),
            )
            .values(status=SKIPPED)
        )
        return _rowcount(result)

    async def skip_pending_for_chat(self, chat_id: int, *, reason: str) -> int:
        """Give up on everything still queued for ``chat_id`` (the person blocked the bot)."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.telegram_chat_id == chat_id,
                OutboxMessage.status.in_((PENDING, HELD)),
            )
            .values(status=SKIPPED, last_error=reason[:200])
        )
        return _rowcount(result)

    async def status_of_card(self, request_id: int) -> str | None:
        return await self.session.scalar(
            select(OutboxMessage.status).where(OutboxMessage.key == f"card:{request_id}")
        )

    async def last_sent_of_kind(self, kind: str) -> datetime | None:
        return await self.session.scalar(
            select(func.max(OutboxMessage.created_at)).where(OutboxMessage.kind == kind)
        )

    async def forget_payloads(self, older_than: timedelta, *, now: datetime | None = None) -> int:
        """Blank what delivered (or given-up) messages said, once they are ``older_than``: the
        row stays (its key keeps the message from being queued twice), the text goes."""
        cutoff = (now or utcnow()) - older_than
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status.in_((SENT, SKIPPED)),
                OutboxMessage.created_at < cutoff,
                OutboxMessage.kind.in_(("relay_in", "to_person", "group_text", "digest")),
            )
            .values(payload={})
        )
        return _rowcount(result)

    async def counts(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {status: int(n) for status, n in rows}


class RelayRepository:
    """The conversation between a person and their coach, message by message."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def log(
        self,
        request_id: int,
        direction: str,
        kind: str,
        *,
        text: str | None = None,
        coach_id: int | None = None,
        status: str = "queued",
        person_message_id: int | None = None,
        coach_chat_message_id: int | None = None,
        now: datetime | None = None,
    ) -> int:
        row = RelayMessage(
            request_id=request_id,
            direction=direction,
            kind=kind,
            text=text,
            coach_id=coach_id,
            status=status,
            person_message_id=person_message_id,
            coach_chat_message_id=coach_chat_message_id,
            at=now or utcnow(),
        )
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def set_status(
        self,
        relay_id: int,
        status: str,
        *,
        person_message_id: int | None = None,
        coach_chat_message_id: int | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status}
        if person_message_id is not None:
            values["person_message_id"] = person_message_id
        if coach_chat_message_id is not None:
            values["coach_chat_message_id"] = coach_chat_message_id
        await self.session.execute(
            update(RelayMessage).where(RelayMessage.id == relay_id).values(**values)
        )

    async def fail_queued(self, request_id: int, direction: str, status: str) -> int:
        """Mark every still-queued message of one direction as not delivered (``status``)."""
        result = await self.session.execute(
            update(RelayMessage)
            .where(
                RelayMessage.request_id == request_id,
                RelayMessage.direction == direction,
                RelayMessage.status == "queued",
            )
            .values(status=status)
        )
        return _rowcount(result)

    async def for_request(self, request_id: int) -> list[dict[str, Any]]:
        rows = await self.session.scalars(
            select(RelayMessage)
            .where(RelayMessage.request_id == request_id)
            .order_by(RelayMessage.id)
        )
        return [
            {
                "direction": r.direction,
                "kind": r.kind,
                "coach_id": r.coach_id,
                "at": r.at,
                "status": r.status,
                "text": r.text,
            }
            for r in rows
        ]


class LinkRepository:
    """Which request a bot message in the coach chat belongs to."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def link(self, chat_id: int, message_id: int, request_id: int, kind: str) -> None:
        stmt = (
            _insert(self.session, HandoffLink)
            .values(
                telegram_chat_id=chat_id,
                telegram_message_id=message_id,
                request_id=request_id,
                kind=kind,
            )
            .on_conflict_do_nothing(
                index_elements=[HandoffLink.telegram_chat_id, HandoffLink.telegram_message_id]
            )
        )
        await self.session.execute(stmt)

    async def find(self, chat_id: int, message_id: int) -> tuple[int, str] | None:
        row = (
            await self.session.execute(
                select(HandoffLink.request_id, HandoffLink.kind).where(
                    HandoffLink.telegram_chat_id == chat_id,
                    HandoffLink.telegram_message_id == message_id,
                )
            )
        ).first()
        return (int(row[0]), str(row[1])) if row else None

    async def of_request(self, request_id: int) -> list[tuple[int, int, str]]:
        """(chat id, message id, kind) of every linked message of a request, oldest first."""
        rows = await self.session.execute(
            select(HandoffLink.telegram_chat_id, HandoffLink.telegram_message_id, HandoffLink.kind)
            .where(HandoffLink.request_id == request_id)
            .order_by(HandoffLink.telegram_chat_id, HandoffLink.telegram_message_id)
        )
        return [(int(chat), int(message), str(kind)) for chat, message, kind in rows]


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
    (see :mod:`db.database`) makes write transactions take turns. Either way "count, then
    insert" cannot give away more seats than there are.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- seats --

    async def _lock_slot(self, item_id: str, starts_at: datetime, now: datetime) -> None:
        await self.session.execute(
            _insert(self.session, EventSlot)
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
            _insert(self.session, EventNotice)
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
        return _rowcount(result)

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
        return bool(_rowcount(result))

    async def finish_notice(
        self, notice_id: int, status: str, *, now: datetime, error: str | None = None
    ) -> None:
        values: dict[str, Any] = {"status": status, "last_error": error[:64] if error else None}
        if status == NOTICE_SENT:
            values["sent_at"] = now
        await self.session.execute(
            update(EventNotice).where(EventNotice.id == notice_id).values(**values)
        )

    async def retry_notice(self, notice_id: int, *, at: datetime, error: str) -> None:
        await self.session.execute(
            update(EventNotice)
            .where(EventNotice.id == notice_id)
            .values(status=NOTICE_PENDING, due_at=at, last_error=error[:64])
        )

    # -- "not for me" --

    async def dismiss(self, person_id: int, item_id: str, reason: str, *, now: datetime) -> None:
        stmt = (
            _insert(self.session, EventDismissal)
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
            _insert(self.session, EventLink)
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
