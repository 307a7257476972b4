"""Serve the stand-in by hand: ``python -m bot.telegram.standin --port 8081``; lines typed on
stdin are sent as a person, ``> label`` clicks a button."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import threading

from bot.telegram.standin.server import BotAPIStub
from bot.telegram.standin.wire import StoredMessage


async def _serve(args: argparse.Namespace) -> None:
    stub = BotAPIStub(
        token=args.token,
        host=args.host,
        port=args.port,
        bot_username=args.username,
        enforce_limits=args.enforce_limits,
        per_chat_burst=args.per_chat_burst,
    )

    def show(message: StoredMessage, event: str) -> None:
        print(f"  [{event}] {message}", flush=True)

    stub.on_bot_message = show
    async with stub:
        print(stub.base_url, flush=True)
        person = stub.user(args.user, first_name=args.first_name)
        print(
            f"typing a line sends it as user {args.user}; '> label' presses a button; Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        lines: asyncio.Queue[str] = asyncio.Queue()

        def read_stdin() -> None:  # a daemon thread: never holds up the stop
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line.rstrip("\n"))

        async def type_lines() -> None:
            while True:
                line = await lines.get()
                try:
                    if line.startswith("> "):
                        await person.click(line[2:])
                    elif line:
                        await person.send(line)
                except AssertionError as exc:
                    print(exc, file=sys.stderr, flush=True)

        threading.Thread(target=read_stdin, daemon=True).start()
        typing = asyncio.create_task(type_lines())
        await stop.wait()
        typing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await typing


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local stand-in for the Telegram Bot API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=None, help="the only token accepted (default: any)")
    parser.add_argument("--username", default="urapolku_test_bot")
    parser.add_argument("--user", type=int, default=1001, help="the person typing on stdin")
    parser.add_argument("--first-name", default="Testi")
    parser.add_argument("--enforce-limits", action="store_true")
    parser.add_argument(
        "--per-chat-burst",
        type=int,
        default=1,
        help="with --enforce-limits: messages a private chat takes at once before 1/s",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every call")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
