"""The ``urapolku`` command.

    urapolku run       the bot (long polling against TELEGRAM_API_URL)
    urapolku chat      the same bot in this terminal: no token, no network
    urapolku check     check dialogs and content; file:line errors
    urapolku migrate   bring the database schema up to date
    urapolku coach     add, remove or list the coaches who answer handoff requests
    urapolku qr        a QR code (PNG) of an event's link, for a printed poster

Operator mistakes (a bad setting, broken content) end with one clear message and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys

from bot.config import ConfigError, Settings, load_settings
from bot.logsetup import setup_logging
from bot.yamlsource import ContentError, Severity

log = logging.getLogger("urapolku")

EXIT_USAGE = 2


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

    chat = sub.add_parser("chat", help="talk to the bot in this terminal, no Telegram needed")
    chat.add_argument(
        "--lang", choices=["fi", "sv", "en"], default=None, help="your Telegram language"
    )
    chat.add_argument("--user-id", type=int, default=1, help="pretend to be this Telegram user id")
    chat.add_argument("--name", default="Testi", help="your first name")
    chat.add_argument(
        "--reset", action="store_true", help="forget this user first and start from the beginning"
    )

    check = sub.add_parser("check", help="check dialogs and content files")
    check.add_argument("--format", choices=["text", "json"], default="text")

    sub.add_parser("migrate", help="bring the database schema up to date")

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
    secrets = [settings.bot_token.get_secret_value()] if settings.bot_token else []
    setup_logging(
        "WARNING" if args.command in {"chat", "check", "coach", "qr"} else settings.log_level,
        settings.log_format,
        secrets,
    )
    try:
        if args.command == "check":
            return _check(settings, args.format)
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        if args.command == "coach":
            return asyncio.run(_coach(settings, args))
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
            return asyncio.run(_run(settings, webhook=args.webhook))
    except ContentError as exc:
        print("urapolku: the content has errors; fix them and try again:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return EXIT_USAGE  # pragma: no cover


def _check(settings: Settings, fmt: str) -> int:
    from bot.actions import build_registry
    from bot.content import check_content

    _, problems = check_content(
        settings.dialogs_dir,
        settings.content_dir,
        default_language=settings.default_language,
        actions=build_registry(),
    )
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if fmt == "json":
        print(json.dumps([p.as_dict() for p in problems], ensure_ascii=False, indent=2))
    else:
        for problem in problems:
            print(problem)
        print(f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
    return 1 if errors else 0


async def _migrate(settings: Settings) -> int:
    from db import Database
    from db.migrate import current_revision, upgrade

    database = Database(settings.database_url)
    try:
        await upgrade(database)
        print(f"database is at revision {await current_revision(database)}")
    finally:
        await database.dispose()
    return 0


async def _coach(settings: Settings, args: argparse.Namespace) -> int:
    from bot.handoff.admin import add_coach, list_coaches, remove_coach
    from db import Database
    from db.migrate import upgrade

    database = Database(settings.database_url)
    try:
        await upgrade(database)
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
    finally:
        await database.dispose()
    return 0


async def _qr(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.catalogue import load_catalogue
    from bot.events.qr import QrError, bot_username, clean_username, deep_link, write_qr

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
    from bot.terminal import chat, reset_person

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
        build_app,
        build_scheduler,
        create_bot,
        create_dispatcher,
        set_commands,
    )
    from bot.polling import poll

    app = await build_app(settings)
    bot = create_bot(settings)
    dispatcher = create_dispatcher(app)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        me = await bot.get_me()
        log.info("connected as bot id %s to %s", me.id, settings.telegram_api_url)
        await set_commands(bot, app)
        scheduler = build_scheduler(app, bot)
        scheduler.start()
        try:
            if webhook:
                from bot.webhook import serve

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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
