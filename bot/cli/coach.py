"""``urapolku coach add|remove|list``: who answers handoff requests (ADMIN_IDS always do)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.cli.common import EXIT_USAGE, open_database
from bot.config import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("coach", help="add, remove or list coaches (ADMIN_IDS always are)")
    actions = parser.add_subparsers(dest="coach_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="make a Telegram user a coach")
    add.add_argument("telegram_id", type=int, help="their numeric Telegram user id")
    add.add_argument("name", nargs="+", help="the name people see, e.g. Anna Virtanen")
    remove = actions.add_parser("remove", help="a Telegram user is no longer a coach")
    remove.add_argument("telegram_id", type=int, help="their numeric Telegram user id")
    actions.add_parser("list", help="list the coaches")
    parser.set_defaults(func=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_coach(settings, args))


async def _coach(settings: Settings, args: argparse.Namespace) -> int:
    # imported here: aiogram at the top makes `urapolku --help` take 5 s instead of 1 s
    from bot.features.handoff.admin import add_coach, list_coaches, remove_coach

    async with open_database(settings) as database:
        if args.coach_command == "add":
            name = " ".join(args.name).strip()
            if args.telegram_id <= 0 or not name:
                print("urapolku: give a positive Telegram user id and a name", file=sys.stderr)
                return EXIT_USAGE
            coach = await add_coach(database, args.telegram_id, name)
            print(f"{coach.name} ({coach.telegram_id}) is a coach")
        elif args.coach_command == "remove":
            if not await remove_coach(database, args.telegram_id):
                print(f"urapolku: {args.telegram_id} is not a coach", file=sys.stderr)
                return 1
            print(f"{args.telegram_id} is no longer a coach")
        else:
            coaches = await list_coaches(database)
            for coach in coaches:
                admin = " (admin)" if coach.telegram_id in settings.admin_ids else ""
                print(f"{coach.telegram_id}\t{coach.name}{admin}")
            listed = {c.telegram_id for c in coaches}
            for admin_id in settings.admin_ids:
                if admin_id not in listed:
                    print(f"{admin_id}\t(admin, from ADMIN_IDS)")
            if not coaches and not settings.admin_ids:
                print("no coaches yet: urapolku coach add <telegram id> <name>")
    return 0
