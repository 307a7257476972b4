"""An aiogram FSM storage kept in the database, so conversations survive restarts and crashes.

Inside a unit of work (``async with db.transaction()``) it reads and writes through that
transaction, so a person's new position, their answers and the "update handled" mark are
committed together or not at all. Outside one it opens a short transaction of its own.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey

from db import Database
from db.repositories import StateRepository


def storage_key(key: StorageKey) -> str:
    parts = [str(key.bot_id), str(key.chat_id), str(key.user_id), str(key.thread_id or 0)]
    if key.business_connection_id:
        parts.append(key.business_connection_id)
    parts.append(key.destiny)
    return ":".join(parts)


#: (key, state, data) of the row this update has read, reused instead of reading it again
_read_ahead: contextvars.ContextVar[tuple[str, str | None, dict[str, Any]] | None] = (
    contextvars.ContextVar("urapolku_state_read_ahead", default=None)
)


@contextlib.contextmanager
def read_ahead(key: str | None, found: tuple[str | None, dict[str, Any]] | None) -> Iterator[None]:
    """For one update: the state row ``key`` as already read (``found`` None: no row), or with
    ``key`` None nothing known yet. Whatever an earlier update of this task kept is dropped."""
    value = None if key is None else (key, *(found or (None, {})))
    token = _read_ahead.set(value)
    try:
        yield
    finally:
        _read_ahead.reset(token)


class SqlStorage(BaseStorage):
    """Each update's state row is read once: the unit-of-work middleware reads it with the
    person in one statement (:func:`read_ahead`) or, failing that, ``get_state`` reads it, data
    included, and keeps it for this update, so the handler's ``get_data`` costs nothing. This is
    safe because the per-chat event-isolation lock is held from before that read until the
    handler ends (bot/telegram/middlewares/state.py), and ``set_state``/``set_data`` update the kept copy.
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = storage_key(key)
        value = state.state if isinstance(state, State) else state
        async with self.database.transaction() as session:
            await StateRepository(session).put(name, key.user_id, state=value)
        kept = _read_ahead.get()
        if kept is not None and kept[0] == name:
            _read_ahead.set((name, value, kept[2]))

    async def get_state(self, key: StorageKey) -> str | None:
        name = storage_key(key)
        kept = _read_ahead.get()
        if kept is not None and kept[0] == name:
            return kept[1]
        async with self.database.read() as session:
            found = await StateRepository(session).get(name)
        state, data = found or (None, {})
        _read_ahead.set((name, state, dict(data)))
        return state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        name = storage_key(key)
        async with self.database.transaction() as session:
            await StateRepository(session).put(name, key.user_id, data=dict(data))
        kept = _read_ahead.get()
        if kept is not None and kept[0] == name:
            _read_ahead.set((name, kept[1], dict(data)))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        name = storage_key(key)
        kept = _read_ahead.get()
        if kept is not None and kept[0] == name:
            return dict(kept[2])
        async with self.database.read() as session:
            found = await StateRepository(session).get(name)
        return dict(found[1]) if found else {}

    async def close(self) -> None:  # the Database is closed by its owner
        return None
