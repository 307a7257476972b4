"""The ``urapolku`` command.

    urapolku run       the bot (long polling against TELEGRAM_API_URL)
    urapolku chat      the same bot in this terminal: no token, no network
    urapolku check     check dialogs and content (or the files named); file:line errors
    urapolku graph     a dialog as a flowchart (Mermaid text, or SVG/PNG with Graphviz)
    urapolku migrate   bring the database schema up to date
    urapolku coach     add, remove or list the coaches who answer handoff requests
    urapolku qr        a QR code (PNG) of an event's link, for a printed poster
    urapolku purge     remove the data of people inactive for RETENTION_DAYS (--dry-run)

Operator mistakes (a bad setting, broken content) end with one clear message and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings, load_settings
from bot.content.source import ContentError, Problem, Severity
from bot.features.reports import cli as report_cli
from bot.logsetup import setup_logging
from bot.runtime.eventloop import run_service

if TYPE_CHECKING:
    from bot.engine.schema import Dialog
    from db import Database

log = logging.getLogger("urapolku")

EXIT_USAGE = 2
#: commands that open the database, and so need the data key (docs/SECURITY.md)
DATA_COMMANDS = frozenset({"run", "chat", "migrate", "coach", "report", "audit", "rekey", "purge"})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="urapolku", description="Urapolku — the job seeker's front door bot."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run", help="run the bot (without BOT_TOKEN in a terminal: the terminal chat)"
    )
    run.add_argument(
        "--webhook",
        action="store_true",
        help="receive updates by webhook (WEBHOOK_URL, WEBHOOK_SECRET)",
    )
    run.add_argument(
        "--no-chat-fallback", action="store_true", help="fail instead of starting the terminal chat"
    )
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="with --webhook: N worker processes behind one port (see docs/DEPLOY.md)",
    )

    chat = sub.add_parser("chat", help="talk to the bot in this terminal, no Telegram needed")
    chat.add_argument(
        "--lang", choices=["fi", "sv", "en"], default=None, help="your Telegram language"
    )
    chat.add_argument("--user-id", type=int, default=1, help="pretend to be this Telegram user id")
    chat.add_argument("--name", default="Testi", help="your first name")
    chat.add_argument(
        "--reset", action="store_true", help="forget this user first and start from the beginning"
    )

    check = sub.add_parser(
        "check",
        help="check dialogs and content files (exit code 1 on errors)",
        description="Check DIALOGS_DIR and CONTENT_DIR as a whole. Named files are checked "
        "together with the rest and only their problems are shown; a file outside those "
        "folders is checked as if it replaced the file of the same name (a draft).",
    )
    check.add_argument("files", nargs="*", help="only these files (default: everything)")
    check.add_argument("--format", choices=["text", "json"], default="text")

    graph = sub.add_parser("graph", help="draw a dialog as a flowchart")
    graph.add_argument("dialog", help="the dialog id, e.g. career_plan")
    graph.add_argument("--lang", default=None, help="language of the texts (default: fi)")
    graph.add_argument(
        "--format",
        choices=["mermaid", "dot", "svg", "png"],
        default="mermaid",
        help="mermaid or dot text, or a picture drawn by Graphviz (svg, png: needs -o)",
    )
    graph.add_argument("-o", "--output", help="write to this file instead of the screen")

    sub.add_parser("migrate", help="bring the database schema up to date")

    purge = sub.add_parser(
        "purge",
        help="remove people inactive for RETENTION_DAYS and old relayed texts (runs daily)",
    )
    purge.add_argument(
        "--dry-run", action="store_true", help="only count what would be removed now"
    )

    coach = sub.add_parser("coach", help="add, remove or list coaches (ADMIN_IDS always are)")
    coach_sub = coach.add_subparsers(dest="coach_command", metavar="ACTION", required=True)
    add = coach_sub.add_parser("add", help="make a Telegram user a coach")
    add.add_argument("telegram_id", type=int, help="their numeric Telegram user id")
    add.add_argument("name", nargs="+", help="the name people see, e.g. Anna Virtanen")
    remove = coach_sub.add_parser("remove", help="a Telegram user is no longer a coach")
    remove.add_argument("telegram_id", type=int, help="their numeric Telegram user id")
    coach_sub.add_parser("list", help="list the coaches")

    qr = sub.add_parser("qr", help="write a QR code (PNG) that opens an event's card in the bot")
    qr.add_argument("item_id", help="the id of the item in content/catalogue")
    qr.add_argument("-o", "--output", help="the PNG file to write (default: qr-<id>.png)")
    qr.add_argument(
        "--bot-username", help="the bot's @username (default: ask Telegram with BOT_TOKEN)"
    )
    report_cli.add_parser(sub)

    audit = sub.add_parser("audit", help="what coaches and admins did with requests, and when")
    audit.add_argument(
        "--since", help="from this date or time on (2026-11-01, 2026-11-01T12:00, or 7d / 12h)"
    )
    audit.add_argument("--actor", type=int, help="only this coach's or admin's Telegram id")
    audit.add_argument("--format", choices=["text", "json"], default="text")

    rekey = sub.add_parser(
        "rekey", help="re-encrypt stored personal data with the newest key in DATA_KEY"
    )
    rekey.add_argument(
        "--new-key", action="store_true", help="only print a new random key for DATA_KEY"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return EXIT_USAGE
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"urapolku: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    secrets = settings.secrets()
    setup_logging(
        "WARNING"
        if args.command in {"chat", "check", "graph", "coach", "qr"}
        else settings.log_level,
        settings.log_format,
        secrets,
    )
    # the data key, before anything opens the database (a refusal is one line, exit code 2);
    # `run` without a token goes on to the terminal chat, which configures it in build_app
    if (
        args.command in DATA_COMMANDS
        and not getattr(args, "new_key", False)
        and not (args.command == "run" and settings.bot_token is None)
    ):
        from bot.factory import configure_data_key

        try:
            configure_data_key(settings)
        except ConfigError as exc:
            print(f"urapolku: configuration error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        if args.command == "check":
            return _check(settings, args.format, args.files)
        if args.command == "graph":
            return _graph(settings, args)
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        if args.command == "purge":
            from bot.features.privacy.cli import purge_command

            return asyncio.run(purge_command(settings, dry_run=args.dry_run))
        if args.command == "coach":
            return asyncio.run(_coach(settings, args))
        if args.command == "audit":
            return asyncio.run(_audit(settings, args))
        if args.command == "rekey":
            return asyncio.run(_rekey(settings, new_key=args.new_key))
        if args.command == "report":
            return asyncio.run(report_cli.run(settings, args))
        if args.command == "qr":
            return asyncio.run(_qr(settings, args))
        if args.command == "chat":
            return asyncio.run(_chat(settings, args.user_id, args.lang, args.name, args.reset))
        if args.command == "run":
            if settings.bot_token is None:
                if sys.stdin.isatty() and not args.no_chat_fallback:
                    setup_logging("WARNING", settings.log_format, secrets)
                    print(
                        "No BOT_TOKEN is set: starting the terminal chat instead (Ctrl-D to leave).\n"
                    )
                    return asyncio.run(_chat(settings, 1, None, "Testi", False))
                print("urapolku: configuration error: BOT_TOKEN is not set", file=sys.stderr)
                return EXIT_USAGE
            if args.webhook and (settings.webhook_secret is None or not settings.webhook_url):
                print(
                    "urapolku: configuration error: webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            if args.workers != 1:
                if args.workers < 1 or not args.webhook:
                    print(
                        "urapolku: --workers N needs --webhook and N >= 1 "
                        "(Telegram gives long-polled updates to one process only)",
                        file=sys.stderr,
                    )
                    return EXIT_USAGE
                from bot.runtime.workers import run_workers

                return run_workers(settings, args.workers)
            return run_service(_run(settings, webhook=args.webhook))
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
    return EXIT_USAGE  # pragma: no cover


def _check(settings: Settings, fmt: str, files: list[str] | None = None) -> int:
    """Exit code 0 when there are no errors (warnings and notes alone are fine), else 1."""
    from pathlib import Path

    from bot.content.snapshot import check_content, check_files
    from bot.features import build_registry

    if files:
        problems = check_files(
            [Path(f) for f in files],
            settings.dialogs_dir,
            settings.content_dir,
            default_language=settings.default_language,
            actions=build_registry(),
        )
    else:
        _, problems = check_content(
            settings.dialogs_dir,
            settings.content_dir,
            default_language=settings.default_language,
            actions=build_registry(),
        )
    counts = dict.fromkeys(Severity, 0)
    for problem in problems:
        counts[problem.severity] += 1
    if fmt == "json":
        print(json.dumps([p.as_dict() for p in problems], ensure_ascii=False, indent=2))
    else:
        paint = _painter(sys.stdout)
        for problem in problems:
            print(paint(problem))
        print(
            f"{counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), "
            f"{counts[Severity.INFO]} note(s)"
        )
    return 1 if counts[Severity.ERROR] else 0


_COLOURS = {Severity.ERROR: "\033[1;31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}


def _painter(stream: object) -> Callable[[Problem], str]:
    """Problems as text, the severity in colour only on a terminal and without NO_COLOR."""
    import os

    isatty = getattr(stream, "isatty", None)
    colour = (
        callable(isatty)
        and bool(isatty())
        and not os.environ.get("NO_COLOR")
        and os.environ.get("TERM") != "dumb"
    )
    if not colour:
        return str

    def paint(problem: Problem) -> str:
        text = str(problem)
        word = f": {problem.severity.value}: "
        return text.replace(
            word, f": {_COLOURS[problem.severity]}{problem.severity.value}\033[0m: ", 1
        )

    return paint


def _graph(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.content.graph import DialogGraph, GraphError, render, to_dot, to_mermaid
    from bot.content.source import suggest
    from bot.engine.loader import apply_text_overrides, load_dialogs
    from bot.engine.texts import load_texts_collecting

    dialogs, problems = load_dialogs(settings.dialogs_dir)
    texts, _ = load_texts_collecting(settings.texts_dir, settings.default_language)
    apply_text_overrides(dialogs, texts)
    dialog = dialogs.get(args.dialog)
    if dialog is None:
        own = [p for p in problems if Path(p.file).stem == args.dialog]
        if own:
            print(f"urapolku: the dialog '{args.dialog}' has errors:", file=sys.stderr)
            for problem in own:
                print(f"  {problem}", file=sys.stderr)
        else:
            hint = suggest(args.dialog, dialogs.dialogs)
            known = ", ".join(sorted(dialogs.dialogs))
            print(
                f"urapolku: there is no dialog '{args.dialog}'"
                + (f" ({hint})" if hint else f"; the dialogs are: {known}"),
                file=sys.stderr,
            )
        return EXIT_USAGE
    language = args.lang or settings.default_language
    if language not in texts.texts and not any(language in d for d in _inline_languages(dialog)):
        print(
            f"urapolku: no texts in '{language}'; known: {', '.join(texts.languages)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    graph = DialogGraph(dialog, texts, language)
    if args.format in {"svg", "png"}:
        if not args.output:
            print(f"urapolku: --format {args.format} needs -o FILE", file=sys.stderr)
            return EXIT_USAGE
        try:
            render(to_dot(graph), args.format, Path(args.output))
        except GraphError as exc:
            print(f"urapolku: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(args.output)
        return 0
    text = to_mermaid(graph) if args.format == "mermaid" else to_dot(graph)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(args.output)
    else:
        sys.stdout.write(text)
    return 0


def _inline_languages(dialog: Dialog) -> list[dict[str, str]]:
    from bot.engine.schema import step_texts

    return [ref for step in dialog.steps for _, ref in step_texts(step) if isinstance(ref, dict)]


@contextlib.asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[Database]:
    """The database of ``settings``, its schema brought up to date; closed afterwards."""
    from db import Database
    from db.migrate import upgrade

    database = Database(settings.database_url, pool_size=settings.database_pool_size)
    try:
        await upgrade(database)
        yield database
    finally:
        await database.dispose()


async def _migrate(settings: Settings) -> int:
    from db.migrate import current_revision

    async with _database(settings) as database:
        print(f"database is at revision {await current_revision(database)}")
    return 0


async def _coach(settings: Settings, args: argparse.Namespace) -> int:
    from bot.features.handoff.admin import add_coach, list_coaches, remove_coach

    async with _database(settings) as database:
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


async def _qr(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.catalogue import load_catalogue
    from bot.features.events.qr import QrError, bot_username, clean_username, deep_link, write_qr

    catalogue = load_catalogue(settings.catalogue_dir)
    if args.item_id not in catalogue:
        print(f"urapolku: there is no item '{args.item_id}' in the catalogue", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.bot_username:
            username = clean_username(args.bot_username)
        else:
            username = await bot_username(settings)
        url = deep_link(username, args.item_id)
        path = write_qr(url, Path(args.output or f"qr-{args.item_id}.png"))
    except QrError as exc:
        print(f"urapolku: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"urapolku: could not write the file: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"{path}: {url}")
    return 0


async def _chat(
    settings: Settings, user_id: int, language: str | None, name: str, reset: bool
) -> int:
    from bot.factory import build_app
    from bot.telegram.terminal import chat, reset_person

    # Flood control protects the Telegram bot; an editor pasting answers here is not a flood.
    app = await build_app(settings.model_copy(update={"flood_limit": 1_000_000}))
    try:
        if reset:
            await reset_person(app, user_id)
        await chat(app, user_id=user_id, language=language, first_name=name)
    finally:
        await app.db.dispose()
    return 0


async def _run(settings: Settings, *, webhook: bool = False) -> int:
    from aiogram.exceptions import TelegramUnauthorizedError

    from bot.factory import (
        ALLOWED_UPDATES,
        build_scheduler,
        create_bot,
        create_dispatcher,
        introduce,
        start_app,
    )
    from bot.runtime.eventloop import settle_heap
    from bot.runtime.polling import poll

    app = await start_app(settings)
    bot = create_bot(settings)
    dispatcher = create_dispatcher(app)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await introduce(bot, app)
        scheduler = build_scheduler(app, bot, dispatcher)
        scheduler.start()
        settle_heap()
        try:
            if webhook:
                from bot.runtime.webhook import serve

                await serve(app, bot, dispatcher, stop=stop, allowed_updates=ALLOWED_UPDATES)
            else:
                await bot.delete_webhook(drop_pending_updates=False)
                await poll(dispatcher, bot, stop=stop, allowed_updates=ALLOWED_UPDATES)
        finally:
            await scheduler.stop()
        log.info("stopped cleanly")
        return 0
    except TelegramUnauthorizedError:
        print("urapolku: Telegram does not accept BOT_TOKEN (401 Unauthorized)", file=sys.stderr)
        return EXIT_USAGE
    finally:
        await bot.session.close()
        await app.db.dispose()


def _since(text: str, now: datetime) -> datetime | None:
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
    from db.repositories import AuditRepository

    since = None
    if args.since:
        since = _since(args.since, datetime.now(UTC))
        if since is None:
            print(
                f"urapolku: --since {args.since!r}: give a date (2026-11-01), a time "
                "(2026-11-01T12:00) or an age (7d, 12h, 30m)",
                file=sys.stderr,
            )
            return EXIT_USAGE
    async with _database(settings) as database, database.read() as session:
        entries = await AuditRepository(session).entries(since=since, actor_id=args.actor)
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


async def _rekey(settings: Settings, *, new_key: bool) -> int:
    """Re-encrypt everything with the newest key (and store answers as the dialogs say)."""
    from db import types as crypto
    from db.rekey import rekey

    if new_key:
        print(crypto.generate_key())
        return 0
    from bot.factory import build_app

    app = None
    try:
        app = await build_app(settings)  # the dialogs say which answers are choices
        async with app.db.transaction() as session:
            count = await rekey(session, plain_answer_keys=app.plain_answer_keys)
    except crypto.DataKeyError as exc:
        print(f"urapolku: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if app is not None:
            await app.db.dispose()
    keys = crypto.keyring().size
    print(
        f"{count.reencrypted} of {count.values} encrypted value(s) re-encrypted with the newest "
        f"key; {count.made_plain} answer(s) made readable (choices), "
        f"{count.made_private} encrypted (typed)"
    )
    if settings.redis_url:
        from redis.exceptions import RedisError

        from bot.telegram.fsm.redis import rekey_redis

        try:
            in_redis = await rekey_redis(settings.redis_url)
        except (crypto.DataKeyError, RedisError) as exc:
            print(f"urapolku: conversations in Redis not re-encrypted: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(
            f"{in_redis.changed} of {in_redis.values} conversation(s) in Redis encrypted with "
            "the newest key"
        )
    if keys > 1:
        print(f"DATA_KEY may now be the newest key alone (it lists {keys})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
