"""Webhook mode: Telegram posts updates to us over HTTPS (behind a reverse proxy).

Every request must carry the secret we registered (``X-Telegram-Bot-Api-Secret-Token``);
anything else gets 401 and is not processed. An update is answered 200 only after it was
handled, so Telegram re-sends it if we crash meanwhile (the unit of work makes that harmless).
``GET /healthz`` and ``GET /metrics`` are served on the same port (:mod:`bot.runtime.health`).
A button press is answered as it arrives, before it waits for its chat's earlier updates
(:mod:`bot.telegram.presses`). An update that cannot be read is set aside as a dead letter and
answered 200 (:mod:`bot.telegram.poison`). A flood or an unwanted command is refused as it
arrives (:mod:`bot.telegram.arrival`) and answered 200 at once, so that it holds none of
Telegram's connections.

Several workers (``urapolku run --webhook --workers N``, see :mod:`bot.runtime.workers`) serve one
port: the parent binds the socket and each worker accepts on it (``sock``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.app import App
from bot.runtime import health
from bot.runtime.polling import chat_key
from bot.telegram.arrival import ADMITTED, ArrivalGate, Verdict
from bot.telegram.poison import DeadLetters, UnreadableUpdate, read_body, read_update
from bot.telegram.presses import PressAnswers

log = logging.getLogger(__name__)


class UpdateHandler(SimpleRequestHandler):
    """aiogram's webhook handler (secret checked, update handled before the 200) that tells
    the press answers when an update arrives, and whether its chat has one in progress."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, *, secret: str) -> None:
        super().__init__(
            dispatcher=dispatcher,
            bot=bot,
            secret_token=secret,
            handle_in_background=False,
            **ADMITTED,  # every update fed from here was judged as it arrived (handle)
        )
        self.presses = PressAnswers.of(bot)
        self.dead_letters = DeadLetters.of(dispatcher, bot)
        #: floods and refusals, judged as updates arrive: a refused update is answered 200 at
        #: once, so it holds none of Telegram's connections to us (None: everything is handled)
        self.gate = ArrivalGate.of(dispatcher)
        #: updates in progress per chat (:func:`~bot.runtime.polling.chat_key`)
        self._in_progress: Counter[int] = Counter()

    async def handle(self, request: web.Request) -> web.Response:
        bot = await self.resolve_bot(request)
        if not self.verify_secret(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), bot):
            return web.Response(body="Unauthorized", status=401)
        raw = read_body(await request.read())
        if raw is None:  # not even an id: nothing to set aside, nothing to ask for again
            log.error("webhook: an update without a readable id; answered 200 and dropped")
            return web.json_response({})
        update = read_update(raw, bot)
        if isinstance(update, UnreadableUpdate):
            await self.dead_letters.set_aside(update, raw)
            return web.json_response({})  # confirmed: Telegram does not send it again
        key = chat_key(update)
        waiting = max(0, self._in_progress[key] - 1)  # one of them is being handled
        if (
            self.gate is not None
            and self.gate.admit(bot, update, backlog=waiting) is not Verdict.PASS
        ):
            return web.json_response({})
        self.presses.arrived(bot, update, waits=self._in_progress[key] > 0)
        self._in_progress[key] += 1
        try:
            result: TelegramMethod[Any] | None = await self.dispatcher.feed_webhook_update(
                bot, update, **self.data
            )
        finally:
            self._in_progress[key] -= 1
            if not self._in_progress[key]:
                del self._in_progress[key]
            self.presses.finished(update)
        if isinstance(result, TelegramMethod):
            await self.dispatcher.silent_call_request(bot, result)
        return web.json_response({})


def build_web_app(
    app: App, bot: Bot, dispatcher: Dispatcher, *, secret: str, path: str
) -> web.Application:
    web_app = web.Application(client_max_size=2 * 1024 * 1024)
    UpdateHandler(dispatcher, bot, secret=secret).register(web_app, path=path)
    health.add_routes(web_app, app)
    return web_app


async def serve(
    app: App,
    bot: Bot,
    dispatcher: Dispatcher,
    *,
    stop: asyncio.Event,
    allowed_updates: list[str],
    register: bool = True,
    sock: socket.socket | None = None,
) -> None:
    """Listen until ``stop`` is set; register the webhook with Telegram first if asked.

    With ``sock`` (a listening socket bound by the parent of several workers), accept on it
    instead of binding WEBHOOK_HOST:WEBHOOK_PORT.
    """
    settings = app.settings
    if settings.webhook_secret is None:
        raise ValueError("WEBHOOK_SECRET is not set")
    secret = settings.webhook_secret.get_secret_value()
    web_app = build_web_app(app, bot, dispatcher, secret=secret, path=settings.webhook_path)
    runner = web.AppRunner(web_app, handle_signals=False)
    await runner.setup()
    site: web.BaseSite
    if sock is not None:
        site = web.SockSite(runner, sock)
    else:
        site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
    await site.start()
    log.info("listening on %s%s", site.name, settings.webhook_path)
    try:
        if register:
            if not settings.webhook_url:
                raise ValueError("WEBHOOK_URL is not set")
            await bot.set_webhook(
                settings.webhook_url, secret_token=secret, allowed_updates=allowed_updates
            )
        await stop.wait()
    finally:
        await runner.cleanup()  # finishes requests in progress
