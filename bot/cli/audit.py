"""``urapolku audit``: what coaches and admins did with requests, and when."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta

from bot.cli.common import EXIT_USAGE, open_database
from bot.config import Settings
from db.repositories import AuditRepository


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("audit", help="what coaches and admins did with requests, and when")
    parser.add_argument(
        "--since", help="from this date or time on (2026-11-01, 2026-11-01T12:00, or 7d / 12h)"
    )
    parser.add_argument("--actor", type=int, help="only this coach's or admin's Telegram id")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.set_defaults(func=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_audit(settings, args))


def since(text: str, now: datetime) -> datetime | None:
    """``7d``, ``12h``, ``30m``, or an ISO date or time (UTC unless it says otherwise)."""
    text = text.strip()
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if len(text) > 1 and text[-1] in units and text[:-1].isdigit():
        return now - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _audit(settings: Settings, args: argparse.Namespace) -> int:
    start = None
    if args.since:
        start = since(args.since, datetime.now(UTC))
        if start is None:
            print(
                f"urapolku: --since {args.since!r}: give a date (2026-11-01), a time "
                "(2026-11-01T12:00) or an age (7d, 12h, 30m)",
                file=sys.stderr,
            )
            return EXIT_USAGE
    async with open_database(settings) as database, database.read() as session:
        entries = await AuditRepository(session).entries(since=start, actor_id=args.actor)
    if args.format == "json":
        print(json.dumps([e.as_dict() for e in entries], ensure_ascii=False, indent=2))
        return 0
    for e in entries:
        actor = str(e.actor_id) if e.actor_id is not None else "command line"
        what = f"request #{e.request_id}" if e.request_id is not None else ""
        if e.target_id is not None:
            what = f"coach {e.target_id}"
        print(f"{e.at.isoformat(timespec='seconds')}  {actor:>14}  {e.action:<13}  {what}".rstrip())
    if not entries:
        print("no audit entries")
    return 0
