"""``urapolku purge [--dry-run]``: the retention purge from the command line (the running bot
does the same once a day, :mod:`bot.features.privacy.service`)."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from bot.config import Settings

if TYPE_CHECKING:
    from bot.features.privacy.service import PurgeReport


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "purge",
        help="remove people inactive for RETENTION_DAYS and old relayed texts (runs daily)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="only count what would be removed now"
    )
    parser.set_defaults(func=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_purge(settings, dry_run=args.dry_run))


async def _purge(settings: Settings, *, dry_run: bool) -> int:
    # imported here: aiogram at the top makes `urapolku --help` take 5 s instead of 1 s
    from bot.factory import build_app
    from bot.features.privacy.service import purge, redis_clearer

    app = await build_app(settings)
    clear, close = (None, None) if dry_run else redis_clearer(settings.redis_url, _bot_id(settings))
    try:
        report = await purge(app, dry_run=dry_run, clear=clear)
    finally:
        if close is not None:
            await close()
        await app.db.dispose()
    print(describe(report, settings))
    return 0


def _bot_id(settings: Settings) -> int | None:
    """The bot's id is the number before the colon of its token (no network needed)."""
    if settings.bot_token is None:
        return None
    head = settings.bot_token.get_secret_value().split(":", 1)[0]
    return int(head) if head.isdigit() else None


def describe(report: PurgeReport, settings: Settings) -> str:
    counts = report.counts
    verb = "would remove" if report.dry_run else "removed"
    lines = [
        f"people not seen for {settings.retention_days} days: {report.people} {verb}",
        f"  answers: {counts.answers}",
        f"  event sign-ups: {counts.signups} (reminders: {counts.reminders})",
        f"  'not for me' choices: {counts.dismissals}",
        f"  coach requests made anonymous: {counts.requests} (messages: {counts.messages})",
        f"  outbox messages: {counts.outbox}",
        f"  conversation states: {counts.states}",
        f"relayed texts of requests closed over {settings.relay_retention_days} days ago: "
        f"{report.relay_texts} {verb}",
    ]
    return "\n".join(lines)
