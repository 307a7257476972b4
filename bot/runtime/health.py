"""What an operator asks a running bot over HTTP: ``GET /healthz`` and ``GET /metrics``.

In webhook mode both are served on the webhook's port (:mod:`bot.runtime.webhook`); in
polling mode, which serves no HTTP of its own, by a small server on HEALTH_HOST:HEALTH_PORT
(:func:`health_server`), off unless HEALTH_PORT is set. Off by default because a bot run by
hand (a pilot on a laptop, the tests, two bots on one machine) should not open a port nobody
asked for, and two of them would fight over it; the container image sets HEALTH_PORT (its
HEALTHCHECK asks it), and so does compose.yaml.

``/healthz`` answers 200 ``{"status": "ok"}`` when the database answers and, in polling mode,
the polling loop has fetched updates recently (:class:`Liveness`); otherwise 503 with the
reason. A worker whose event loop is blocked does not answer at all, which a health check
counts as a failure too. ``/metrics`` is Prometheus's text format (:mod:`bot.metrics`).
Neither says anything about people or messages; keep both off the public internet all the
same (docs/DEPLOY.md).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import text

from bot import metrics
from bot.app import App
from db.repositories import GaugeRepository

log = logging.getLogger(__name__)

APP_KEY = web.AppKey("urapolku", App)

#: a polling loop that has not fetched for this long is not healthy (its long poll lasts 25 s,
#: its longest pause after network errors 30 s)
POLL_STALE_S = 120.0


class Liveness:
    """When a loop last showed it is alive (the polling loop beats after each fetch)."""

    def __init__(self, stale_after: float = POLL_STALE_S) -> None:
        self.stale_after = stale_after
        self.last = time.monotonic()

    def beat(self) -> None:
        self.last = time.monotonic()

    @property
    def stale(self) -> bool:
        return time.monotonic() - self.last > self.stale_after


LIVENESS_KEY = web.AppKey("urapolku.liveness", Liveness)


async def _health(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    liveness = request.app.get(LIVENESS_KEY)
    if liveness is not None and liveness.stale:
        return web.json_response({"status": "polling stalled"}, status=503)
    try:
        async with app.db.read() as session:
            await session.execute(text("select 1"))
    except Exception as exc:
        log.error("health check: the database does not answer (%s)", type(exc).__name__)
        return web.json_response({"status": "database unavailable"}, status=503)
    return web.json_response({"status": "ok"})


async def _metrics(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    gauges = []
    try:
        async with app.db.read() as session:
            backlog = await GaugeRepository(session).backlog()
    except Exception as exc:  # the counters are still worth answering with
        log.error("metrics: the database does not answer (%s)", type(exc).__name__)
    else:
        gauges = [
            metrics.gauge(
                "urapolku_outbox_backlog",
                "Messages to the coaches' group not sent yet, by status",
                backlog.outbox,
            ),
            metrics.gauge(
                "urapolku_open_requests",
                "Requests for a coach not closed yet, by status",
                backlog.open_requests,
            ),
        ]
    body = metrics.render(gauges)
    return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})


def add_routes(web_app: web.Application, app: App, liveness: Liveness | None = None) -> None:
    """``/healthz`` and ``/metrics`` on ``web_app``."""
    web_app[APP_KEY] = app
    if liveness is not None:
        web_app[LIVENESS_KEY] = liveness
    web_app.router.add_get("/healthz", _health)
    web_app.router.add_get("/metrics", _metrics)


@contextlib.asynccontextmanager
async def health_server(
    app: App, host: str, port: int | None, liveness: Liveness | None = None
) -> AsyncIterator[web.AppRunner | None]:
    """Serve ``/healthz`` and ``/metrics`` on ``host:port`` while inside (nothing if ``port``
    is None)."""
    if port is None:
        yield None
        return
    web_app = web.Application()
    add_routes(web_app, app, liveness)
    runner = web.AppRunner(web_app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("health and metrics on %s", site.name)
    try:
        yield runner
    finally:
        await runner.cleanup()
