"""``urapolku chat``: the bot in this terminal, no Telegram and no network needed."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.cli.common import EXIT_USAGE
from bot.config import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("chat", help="talk to the bot in this terminal, no Telegram needed")
    parser.add_argument(
        "--lang",
        default=None,
        metavar="LANG",
        help="your language: one the content has texts in (fi, sv, en; fi-selko: plain Finnish)",
    )
    parser.add_argument(
        "--user-id", type=int, default=1, help="pretend to be this Telegram user id"
    )
    parser.add_argument("--name", default="Testi", help="your first name")
    parser.add_argument(
        "--reset", action="store_true", help="forget this user first and start from the beginning"
    )
    parser.set_defaults(func=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(talk(settings, args.user_id, args.lang, args.name, args.reset))


async def talk(
    settings: Settings, user_id: int, language: str | None, name: str, reset: bool
) -> int:
    """Talk to the bot as ``user_id`` until end of input (``reset``: as a stranger), with
    ``language`` as Telegram's language: any language the content has texts in."""
    # imported here: aiogram at the top makes `urapolku --help` take 5 s instead of 1 s
    from bot.factory import build_app
    from bot.runtime.terminal import chat, reset_person

    # Flood control protects the Telegram bot; an editor pasting answers here is not a flood.
    app = await build_app(settings.model_copy(update={"flood_limit": 1_000_000}))
    try:
        if language is not None and language not in app.content.languages:
            known = ", ".join(app.content.languages)
            print(f"urapolku: no texts in '{language}'; known: {known}", file=sys.stderr)
            return EXIT_USAGE
        if reset:
            await reset_person(app, user_id)
        await chat(app, user_id=user_id, language=language, first_name=name)
    finally:
        await app.db.dispose()
    return 0
