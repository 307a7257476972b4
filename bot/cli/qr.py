"""``urapolku qr ITEM``: a PNG QR code that opens a catalogue item's card in the bot."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.catalogue import load_catalogue
from bot.cli.common import EXIT_USAGE
from bot.config import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "qr", help="write a QR code (PNG) that opens an event's card in the bot"
    )
    parser.add_argument("item_id", help="the id of the item in content/catalogue")
    parser.add_argument("-o", "--output", help="the PNG file to write (default: qr-<id>.png)")
    parser.add_argument(
        "--bot-username", help="the bot's @username (default: ask Telegram with BOT_TOKEN)"
    )
    parser.set_defaults(func=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_qr(settings, args))


async def _qr(settings: Settings, args: argparse.Namespace) -> int:
    # imported here: aiogram at the top makes `urapolku --help` take 5 s instead of 1 s
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
