"""An aiogram FSM storage kept in the database, so conversations survive restarts and crashes.

Inside a unit of work (``async with db.transaction()``) it reads and writes through that
transaction, so a person's new position, their answers and the "update handled" mark are
committed together or not at all. Outside one it opens a short transaction of its own.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
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


#: the row read by ``get_state`` in this task, reused by ``get_data`` (see SqlStorage)
_read_ahead: contextvars.ContextVar[tuple[str, dict[str, Any]] | None] = contextvars.ContextVar(
    "urapolku_state_read_ahead", default=None
)


class SqlStorage(BaseStorage):
    """aiogram reads the state of every update before the handler runs (for state filters);
    that read fetches the data too and keeps it for this task, so the handler's ``get_data``
    costs nothing. This is safe because aiogram holds the per-chat event-isolation lock from
    that read until the handler ends, and ``set_data`` replaces the kept copy.
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        async with self.database.transaction() as session:
            await StateRepository(session).put(storage_key(key), key.user_id, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        name = storage_key(key)
        async with self.database.read() as session:
            found = await StateRepository(session).get(name)
        _read_ahead.set((name, dict(found[1]) if found else {}))
        return found[0] if found else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        name = storage_key(key)
        async with self.database.transaction() as session:
            await StateRepository(session).put(name, key.user_id, data=dict(data))
        _read_ahead.set((name, dict(data)))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        name = storage_key(key)
        kept = _read_ahead.get()
        if kept is not None and kept[0] == name:
            return dict(kept[1])
        async with self.database.read() as session:
            found = await StateRepository(session).get(storage_key(key))
        return dict(found[1]) if found else {}

    async def close(self) -> None:  # the Database is closed by its owner
        return None
