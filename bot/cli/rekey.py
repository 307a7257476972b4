"""``urapolku rekey``: re-encrypt stored personal data (the database, and the conversations in
Redis when REDIS_URL is set) with the newest key in DATA_KEY; ``--new-key`` prints a new key."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.cli.common import EXIT_USAGE
from bot.config import Settings
from db import types as crypto
from db.rekey import rekey


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "rekey", help="re-encrypt stored personal data with the newest key in DATA_KEY"
    )
    parser.add_argument(
        "--new-key", action="store_true", help="only print a new random key for DATA_KEY"
    )
    parser.set_defaults(func=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.new_key:
        print(crypto.generate_key())
        return 0
    return asyncio.run(_rekey(settings))


async def _rekey(settings: Settings) -> int:
    """Re-encrypt everything with the newest key (and store answers as the dialogs say)."""
    # imported here: aiogram at the top makes `urapolku --help` take 5 s instead of 1 s
    from bot.factory import build_app
    from bot.telegram.fsm.redis import rekey_redis

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
        from redis.exceptions import RedisError  # only with REDIS_URL: the optional scale extra

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
