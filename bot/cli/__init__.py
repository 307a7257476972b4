"""The ``urapolku`` command: :func:`main` and a table of subcommands, one module each.

    urapolku run       the bot (long polling against TELEGRAM_API_URL)
    urapolku chat      the same bot in this terminal: no token, no network
    urapolku check     check dialogs and content (or the files named); file:line errors
    urapolku graph     a dialog as a flowchart (Mermaid text, or SVG/PNG with Graphviz)
    urapolku migrate   bring the database schema up to date
    urapolku purge     remove the data of people inactive for RETENTION_DAYS (--dry-run)
    urapolku coach     add, remove or list the coaches who answer handoff requests
    urapolku qr        a QR code (PNG) of an event's link, for a printed poster
    urapolku report    the funder's figures for a period (text, CSV, JSON; a PNG chart)
    urapolku audit     what coaches and admins did with requests
    urapolku rekey     re-encrypt stored personal data with the newest key

A command module has ``add_parser(sub)`` (its options, and ``set_defaults(func=run)``) and
``run(settings, args) -> int`` (the exit code). To add a command, write its module and list it in
:data:`COMMANDS`. Operator mistakes (a bad setting, broken content) end with one clear message
and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from types import ModuleType

from bot.cli import audit, chat, check, coach, graph, migrate, purge, qr, rekey, report, run
from bot.cli.common import EXIT_USAGE
from bot.config import ConfigError, Settings, load_settings
from bot.content.source import ContentError
from bot.logsetup import setup_logging

#: every command, in the order ``urapolku --help`` lists them
COMMANDS: tuple[ModuleType, ...] = (
    run,
    chat,
    check,
    graph,
    migrate,
    purge,
    coach,
    qr,
    report,
    audit,
    rekey,
)
#: commands that open the database, and so need the data key (docs/SECURITY.md)
DATA_COMMANDS = frozenset({"run", "chat", "migrate", "coach", "report", "audit", "rekey", "purge"})
#: commands whose output is the point: their log shows warnings only
QUIET_COMMANDS = frozenset({"chat", "check", "graph", "coach", "qr"})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="urapolku", description="Urapolku — the job seeker's front door bot."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"urapolku: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(
        "WARNING" if args.command in QUIET_COMMANDS else settings.log_level,
        settings.log_format,
        settings.secrets(),
    )
    # the data key, before anything opens the database (a refusal is one line, exit code 2);
    # `run` without a token goes on to the terminal chat, which configures it in build_app
    if (
        args.command in DATA_COMMANDS
        and not getattr(args, "new_key", False)
        and not (args.command == "run" and settings.bot_token is None)
    ):
        # imported here: bot.factory loads aiogram, and at the top it makes `urapolku --help`
        # take 5 s instead of 1 s (measured)
        from bot.factory import configure_data_key

        try:
            configure_data_key(settings)
        except ConfigError as exc:
            print(f"urapolku: configuration error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    command: Callable[[Settings, argparse.Namespace], int] = args.func
    try:
        return command(settings, args)
    except ConfigError as exc:  # e.g. DATA_KEY missing when build_app configures the key
        print(f"urapolku: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ContentError as exc:
        print("urapolku: the content has errors; fix them and try again:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
