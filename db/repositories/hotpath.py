"""The hot path's statements: those every handled update runs (the "handled?" read with the
person and the conversation state, the update mark, an answer, the conversation state).

They are built once per dialect, as Core statements on the tables with bound parameters, and
executed with a parameter dict: the statement object is the same every time, so SQLAlchemy's
cache key for it is memoized and its compiled form comes from the compiled cache, and the
ORM's DML machinery is not involved. The columns' types (encryption, UTC datetimes) apply to
the parameters as they would to ``.values()``. Upserts set the updated columns from
``excluded``: each value is sent (and encrypted) once.

Use: ``await write(session, hot(session, name, build), params)`` and :func:`read_one`. On
SQLite they take the fast lane (:mod:`db.sqlite.fastlane`) when it is open, and otherwise
run on the session's connection.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, cast

from sqlalchemy import Delete, Select, Table, bindparam, delete, literal, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ..models import Answer, ConversationStateRow, HandoffRequest, Person, ProcessedUpdate
from ..sqlite import fastlane
from ..sqlite.adapter import inline_statements
from .common import dialect_name, insert_for, rowcount

_UPDATES = cast(Table, ProcessedUpdate.__table__)
_PERSONS = cast(Table, Person.__table__)
_REQUESTS = cast(Table, HandoffRequest.__table__)
_ANSWERS = cast(Table, Answer.__table__)
_STATES = cast(Table, ConversationStateRow.__table__)

_hot_statements: dict[tuple[str, Hashable], Any] = {}


def hot(session: AsyncSession, name: Hashable, build: Callable[[str], Any]) -> Any:
    """The statement ``name`` for the session's dialect, built by ``build(dialect)`` once."""
    key = (dialect_name(session), name)
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
    return result.one() if one else rowcount(result)


async def write(session: AsyncSession, stmt: Any, params: dict[str, Any]) -> int:
    """Run an INSERT/UPDATE/DELETE of the hot path; the number of rows it touched."""
    touched = fastlane.run_write(session, stmt, params)
    if touched is not None:
        return touched
    return int(await session.run_sync(_on_connection, stmt, params, False))


async def read_one(session: AsyncSession, stmt: Any, params: dict[str, Any]) -> Sequence[Any]:
    """Run a SELECT of the hot path that returns exactly one row."""
    row = fastlane.read_one(session, stmt, params)
    if row is not None:
        return cast("Sequence[Any]", row)
    return cast("Row[Any]", await session.run_sync(_on_connection, stmt, params, True))


def mark_statement(dialect: str) -> Any:
    """Record a handled update (nothing if it was recorded before)."""
    return insert_for(dialect, _UPDATES).on_conflict_do_nothing(
        index_elements=[_UPDATES.c.update_id]
    )


def answer_upsert(dialect: str) -> Any:
    stmt = insert_for(dialect, _ANSWERS)
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


def answer_delete(_dialect: str) -> Delete:
    return delete(_ANSWERS).where(
        _ANSWERS.c.person_id == bindparam("person_id"), _ANSWERS.c.key == bindparam("key")
    )


def _state_upsert(with_state: bool, with_data: bool) -> Callable[[str], Any]:
    def build(dialect: str) -> Any:
        stmt = insert_for(dialect, _STATES)
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


#: the update's context (see UpdateRepository.context), by (with person, with state)
CONTEXT = {
    (person, state): _context_statement(person, state)
    for person in (False, True)
    for state in (False, True)
}
#: a conversation-state upsert, by (sets the state, sets the data)
STATE_UPSERT = {
    (state, data): _state_upsert(state, data) for state in (False, True) for data in (False, True)
}
