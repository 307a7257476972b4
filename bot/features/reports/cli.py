"""``urapolku report``: the report on the command line (text, CSV or JSON; a PNG chart).

Imported by :mod:`bot.cli` at start-up, so the heavy imports wait until the command runs."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from bot.config import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser(
        "report",
        help="the funder's figures for a period (default: the last full month)",
        description="People reached and participants, by municipality, age group, language "
        "and target group; career plans, suggestions, sign-ups, attendance, coach requests "
        "and follow-up outcomes. Counts under 5 are shown as <5. Days are in Finnish time; "
        "--to is included.",
    )
    report.add_argument("--from", dest="first", type=date.fromisoformat, metavar="YYYY-MM-DD")
    report.add_argument("--to", dest="last", type=date.fromisoformat, metavar="YYYY-MM-DD")
    report.add_argument("--municipality", help="an option id of the career plan, e.g. lohja")
    report.add_argument("--format", choices=["text", "csv", "json"], default="text")
    report.add_argument("--chart", type=Path, metavar="FILE.png", help="also write a PNG chart")
    report.add_argument(
        "--lang", choices=["fi", "sv", "en"], default=None, help="default: DEFAULT_LANGUAGE"
    )


def period(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """Neither: the last full month; only --from: up to today; only --to: from its month's
    first day."""
    from .report import last_full_month

    if first is None and last is None:
        return last_full_month(today)
    if first is None:
        assert last is not None
        return last.replace(day=1), last
    return first, last or today


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.catalogue import HELSINKI
    from bot.factory import build_app
    from db.models import utcnow

    from .chart import chart_png
    from .report import build_report, render

    first, last = period(args.first, args.last, utcnow().astimezone(HELSINKI).date())
    if first > last:
        print("urapolku: --from must not be after --to", file=sys.stderr)
        return 2
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
