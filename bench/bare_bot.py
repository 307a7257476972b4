"""The baseline for benchmarks: the least an aiogram 3 bot does for a text and a button press.

One router; any text gets a reply with a three-button inline keyboard, a button press is
answered and gets a new message with the keyboard. No database, no state, no middlewares:
whatever the real bot costs on top of this is the real bot's own.

    python bench/bare_bot.py --api http://127.0.0.1:8081 --token 123:abc [--tuned]

``--tuned`` gives the bare bot what the real bot has beyond stock aiogram that is not its own
work: uvloop as the event loop and orjson for the Bot API's JSON (bot/runtime/eventloop.py,
bot/factory.py). The benchmark can then say how much of a ratio is that tuning.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

ALLOWED_UPDATES = ["message", "callback_query"]


def keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="A", callback_data="a"),
                InlineKeyboardButton(text="B", callback_data="b"),
                InlineKeyboardButton(text="C", callback_data="c"),
            ]
        ]
    )


def build_router() -> Router:
    """A new router each time: a router can be attached to one dispatcher only."""
    router = Router(name="bare")

    @router.message(F.text)
    async def on_text(message: Message) -> None:
        await message.answer(f"You said: {message.text}", reply_markup=keyboard())

    @router.callback_query()
    async def on_button(query: CallbackQuery, bot: Bot) -> None:
        await query.answer()
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        await bot.send_message(chat_id, f"You chose {query.data}", reply_markup=keyboard())

    return router


async def run_bare_bot(
    base_url: str, token: str, stop: asyncio.Event, *, tuned: bool = False
) -> None:
    """Long-poll ``base_url`` until ``stop`` is set."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(base_url))
    if tuned:
        import orjson

        session = AiohttpSession(
            api=TelegramAPIServer.from_base(base_url),
            json_loads=orjson.loads,
            json_dumps=lambda value: orjson.dumps(value).decode(),
        )
    bot = Bot(token, session=session)
    dispatcher = Dispatcher()
    dispatcher.include_router(build_router())
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot, handle_signals=False, close_bot_session=True, allowed_updates=ALLOWED_UPDATES
        )
    )
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({polling, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not polling.done():
        try:
            await dispatcher.stop_polling()
        except RuntimeError:  # not polling yet
            polling.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await polling
    await bot.session.close()  # a no-op when polling already closed it


def main() -> None:
    parser = argparse.ArgumentParser(description="A bare aiogram bot: the benchmark baseline.")
    parser.add_argument("--api", required=True, help="Bot API base URL, e.g. http://127.0.0.1:8081")
    parser.add_argument("--token", required=True)
    parser.add_argument("--tuned", action="store_true", help="uvloop and orjson, as the real bot")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_bare_bot(args.api, args.token, stop, tuned=args.tuned)

    if args.tuned:
        import uvloop

        uvloop.run(run())
    else:
        asyncio.run(run())


if __name__ == "__main__":
    main()
