"""One unit of work per update: skip updates already handled, and mark each handled update in
the same transaction as its effects.

Together with a polling loop that confirms an update to Telegram only after its effects are
committed, this gives at-least-once delivery with exactly-once effects: an update re-delivered
after a crash either finds its effects committed (and is skipped) or finds nothing (and runs
again). The loop learns of the commit through :func:`on_marked`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.types import Chat, TelegramObject, Update, User
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram.fsm.sql import SqlStorage, read_ahead, storage_key
from bot.telegram.middlewares.state import FSM_KEY
from db import Database
from db.repositories import UpdateRepository

log = logging.getLogger(__name__)


class AlreadyProcessedError(Exception):
    """Another worker (or an earlier run) committed this update first."""


_ON_MARKED: ContextVar[Callable[[], None] | None] = ContextVar("urapolku_on_marked", default=None)


@contextmanager
def on_marked(callback: Callable[[], None]) -> Iterator[None]:
    """Within: ``callback`` is called once the update's "handled" mark is committed, with its
    effects (what is left of the update is delivering its replies)."""
    token = _ON_MARKED.set(callback)
    try:
        yield
    finally:
        _ON_MARKED.reset(token)


class UnitOfWork:
    def __init__(self, db: Database, update_id: int | None) -> None:
        self.db = db
        self.update_id = update_id
        self.marked = False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction that also records this update as handled (once)."""
        first = not self.marked and self.update_id is not None
        async with self.db.transaction() as session:
            if first and not await UpdateRepository(session).mark(self.update_id):  # type: ignore[arg-type]
                raise AlreadyProcessedError
            yield session
        self.marked = True
        callback = _ON_MARKED.get()
        if first and callback is not None:
            callback()


#: handler data: the person read with the "handled?" check (None: not known yet); only set for
#: private chats with a person, see :class:`~bot.telegram.middlewares.person.PersonMiddleware`
PRELOADED_PERSON = "preloaded_person"


class UnitOfWorkMiddleware(BaseMiddleware):
    """Skips handled updates; the same one statement also reads the sender and, with the
    conversation state in the database, their state row (bot/telegram/fsm/sql.py), so the update's
    pre-handler reads cost one round trip. Registered inside the per-chat lock
    (bot/telegram/middlewares/state.py) so the state it reads cannot go stale before the handler."""

    def __init__(self, db: Database, storage: BaseStorage | None = None) -> None:
        self.db = db
        self.storage = storage

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        update_id = event.update_id if isinstance(event, Update) else None
        state_key = None
        if update_id is not None:
            user: User | None = data.get("event_from_user")
            chat: Chat | None = data.get("event_chat")
            telegram_id = None
            if user is not None and not user.is_bot and chat is not None and chat.type == "private":
                telegram_id = user.id  # the same test as PersonMiddleware's
            fsm_key: StorageKey | None = data.get(FSM_KEY)
            if isinstance(self.storage, SqlStorage) and fsm_key is not None:
                state_key = storage_key(fsm_key)
            async with self.db.read() as session:
                found = await UpdateRepository(session).context(update_id, telegram_id, state_key)
            if found.processed:
                log.info("update %s was already handled; skipped", update_id)
                return None
            if telegram_id is not None:
                data[PRELOADED_PERSON] = found.person
        with read_ahead(state_key, found.state if state_key is not None else None):
            return await self._handle(handler, event, data, update_id)

    async def _handle(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
        update_id: int | None,
    ) -> Any:
        unit = UnitOfWork(self.db, update_id)
        data["uow"] = unit
        try:
            result = await handler(event, data)
        except AlreadyProcessedError:
            log.info("update %s was handled by someone else meanwhile; skipped", update_id)
            return None
        if not unit.marked and update_id is not None:
            try:
                async with unit.transaction():
                    pass
            except AlreadyProcessedError:
                pass
        return result
