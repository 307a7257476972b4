"""``urapolku run``: the bot, by long polling or by webhook (``--webhook``, ``--workers N``).

Without BOT_TOKEN in a terminal it starts the terminal chat instead (:mod:`bot.cli.chat`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import signal
import sys

from bot.cli.chat import talk
from bot.cli.common import EXIT_USAGE
from bot.config import Settings
from bot.logsetup import setup_logging
from bot.runtime.eventloop import run_service, settle_heap

log = logging.getLogger("urapolku")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "run", help="run the bot (without BOT_TOKEN in a terminal: the terminal chat)"
    )
    parser.add_argument(
        "--webhook",
        action="store_true",
        help="receive updates by webhook (WEBHOOK_URL, WEBHOOK_SECRET)",
    )
    parser.add_argument(
        "--no-chat-fallback", action="store_true", help="fail instead of starting the terminal chat"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="with --webhook: N worker processes behind one port, run by gunicorn "
        "(see docs/DEPLOY.md)",
    )
    parser.set_defaults(func=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    if settings.bot_token is None:
        if sys.stdin.isatty() and not args.no_chat_fallback:
            setup_logging("WARNING", settings.log_format, settings.secrets())
            print("No BOT_TOKEN is set: starting the terminal chat instead (Ctrl-D to leave).\n")
            return asyncio.run(talk(settings, 1, None, "Testi", False))
        print(
            "urapolku: configuration error: BOT_TOKEN is not set (without a terminal there is "
            "no chat to fall back to; `urapolku chat` talks to the bot in a terminal)",
            file=sys.stderr,
        )
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
        if importlib.util.find_spec("gunicorn") is None:
            print(
                "urapolku: --workers N needs gunicorn: pip install 'urapolku[scale]'",
                file=sys.stderr,
            )
            return EXIT_USAGE
        # imported here: the workers build the whole bot (aiogram), which --help need not
        from bot.runtime.workers import run_workers

        return run_workers(settings, args.workers)
    return run_service(_serve(settings, webhook=args.webhook))


async def _serve(settings: Settings, *, webhook: bool) -> int:
    # imported here: aiogram at the top makes `urapolku --help` take 5 s instead of 1 s
    from aiogram.exceptions import TelegramUnauthorizedError

    from bot.factory import (
        ALLOWED_UPDATES,
        build_scheduler,
        create_bot,
        create_dispatcher,
        introduce,
        start_app,
    )
    from bot.runtime.health import Liveness, health_server
    from bot.runtime.polling import poll
    from bot.runtime.webhook import serve

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
                await serve(app, bot, dispatcher, stop=stop, allowed_updates=ALLOWED_UPDATES)
            else:
                await bot.delete_webhook(drop_pending_updates=False)
                liveness = Liveness()
                async with health_server(app, settings.health_host, settings.health_port, liveness):
                    await poll(
                        dispatcher,
                        bot,
                        stop=stop,
                        allowed_updates=ALLOWED_UPDATES,
                        liveness=liveness,
                    )
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
