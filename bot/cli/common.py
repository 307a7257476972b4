"""What the command modules share: the exit code of an operator mistake and an open database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from bot.config import Settings
from db import Database

#: a bad setting, broken content or a wrong option: one clear message and this exit code
EXIT_USAGE = 2


@contextlib.asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """The database of ``settings``, its schema brought up to date; closed afterwards."""
    # imported here: Alembic (~25 MB) stays out of the serving bot, which imports this package
    from db.migrate import upgrade

    database = Database(settings.database_url, pool_size=settings.database_pool_size)
    try:
        await upgrade(database)
        yield database
    finally:
        await database.dispose()
