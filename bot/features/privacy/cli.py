"""``urapolku purge [--dry-run]``: the retention purge from the command line (the running bot
does the same once a day)."""

from __future__ import annotations

from bot.config import Settings

from .service import PurgeReport, purge, redis_clearer


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


async def purge_command(settings: Settings, *, dry_run: bool) -> int:
    from bot.factory import build_app

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
