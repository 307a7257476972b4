"""``urapolku migrate``: bring the database schema up to date and say its revision."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.common import open_database
from bot.config import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("migrate", help="bring the database schema up to date")
    parser.set_defaults(func=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_migrate(settings))


async def _migrate(settings: Settings) -> int:
    # imported here: Alembic stays out of the serving bot, which imports this package
    from db.migrate import current_revision

    async with open_database(settings) as database:
        print(f"database is at revision {await current_revision(database)}")
    return 0
