"""``urapolku report``: the funder's report on the command line (text, CSV or JSON; a PNG
chart). The figures come from :mod:`bot.features.reports`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path

from bot.catalogue import HELSINKI
from bot.cli.common import EXIT_USAGE
from bot.config import Settings
from db.models import utcnow


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "report",
        help="the funder's figures for a period (default: the last full month)",
        description="People reached and participants, by municipality, age group, language "
        "and target group; career plans, suggestions, sign-ups, attendance, coach requests "
        "and follow-up outcomes. Counts under 5 are shown as <5, and counts that would let "
        "one be worked out from a total as x (see docs/REPORTS.md). Days are in Finnish "
        "time; --to is included.",
    )
    parser.add_argument("--from", dest="first", type=date.fromisoformat, metavar="YYYY-MM-DD")
    parser.add_argument("--to", dest="last", type=date.fromisoformat, metavar="YYYY-MM-DD")
    parser.add_argument("--municipality", help="an option id of the career plan, e.g. lohja")
    parser.add_argument("--format", choices=["text", "csv", "json"], default="text")
    parser.add_argument("--chart", type=Path, metavar="FILE.png", help="also write a PNG chart")
    parser.add_argument(
        "--lang", choices=["fi", "sv", "en"], default=None, help="default: DEFAULT_LANGUAGE"
    )
    parser.set_defaults(func=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_report(settings, args))


async def _report(settings: Settings, args: argparse.Namespace) -> int:
    # imported here: aiogram at the top makes `urapolku --help` take 5 s instead of 1 s
    from bot.factory import build_app
    from bot.features.reports.chart import chart_png
    from bot.features.reports.report import build_report, last_full_month, render

    today = utcnow().astimezone(HELSINKI).date()
    first, last = period(args.first, args.last, last_full_month(today), today)
    if first > last:
        print("urapolku: --from must not be after --to", file=sys.stderr)
        return EXIT_USAGE
    app = await build_app(settings)
    try:
        report = await build_report(
            app,
            first,
            last,
            language=args.lang or settings.default_language,
            municipality=args.municipality.casefold() if args.municipality else None,
        )
    finally:
        await app.db.dispose()
    output = render(report, args.format)
    sys.stdout.write(output if output.endswith("\n") else output + "\n")
    if args.chart is not None:
        args.chart.write_bytes(chart_png(report))
    return 0


def period(
    first: date | None, last: date | None, last_month: tuple[date, date], today: date
) -> tuple[date, date]:
    """Neither: ``last_month``; only --from: up to today; only --to: from its month's first
    day."""
    if first is None and last is None:
        return last_month
    if first is None:
        assert last is not None
        return last.replace(day=1), last
    return first, last or today
