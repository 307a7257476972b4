"""Webhook mode: Telegram posts updates to us over HTTPS (behind a reverse proxy).

Every request must carry the secret we registered (``X-Telegram-Bot-Api-Secret-Token``);
anything else gets 401 and is not processed. An update is answered 200 only after it was
handled, so Telegram re-sends it if we crash meanwhile (the unit of work makes that harmless).
``GET /healthz`` answers 200 when the database answers.

Several workers (``urapolku run --webhook --workers N``, see :mod:`bot.runtime.workers`) serve one
port: the parent binds the socket and each worker accepts on it (``sock``).
"""

from __future__ import annotations

import asyncio
import logging
import socket

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from sqlalchemy import text

from bot.app import App

log = logging.getLogger(__name__)

APP_KEY = web.AppKey("urapolku", App)


async def _health(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    try:
        async with app.db.read() as session:
            await session.execute(text("select 1"))
    except Exception:
        log.exception("health check: database does not answer")
        return web.json_response({"status": "database unavailable"}, status=503)
    return web.json_response({"status": "ok"})


def build_web_app(
    app: App, bot: Bot, dispatcher: Dispatcher, *, secret: str, path: str
) -> web.Application:
    web_app = web.Application(client_max_size=2 * 1024 * 1024)
    web_app[APP_KEY] = app
    SimpleRequestHandler(
        dispatcher=dispatcher, bot=bot, secret_token=secret, handle_in_background=False
    ).register(web_app, path=path)
    web_app.router.add_get("/healthz", _health)
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
