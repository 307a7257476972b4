"""Several worker processes behind one webhook port: ``urapolku run --webhook --workers N``.

gunicorn runs them, with aiohttp's worker class (``aiohttp.GunicornUVLoopWebWorker``, or
``GunicornWebWorker`` without uvloop). The parent process first does what must happen once —
the schema migration, the command menu, registering the webhook with Telegram
(:func:`prepare`) — then gunicorn's arbiter binds WEBHOOK_HOST:WEBHOOK_PORT and forks N
workers that accept on that socket (the kernel gives each connection to one of them).

What gunicorn adds to the supervisor this replaced (which restarted a worker that exited):
**a hung worker is replaced too.** Each worker's event loop touches a heartbeat file about
once a second; a worker that has not done so for WORKER_TIMEOUT seconds (a blocked event loop,
a stuck C call, a stopped process) is sent SIGABRT, then SIGKILL, and a new worker takes its
place. SIGTERM (or SIGINT) to the parent stops the workers gracefully: requests in progress
are finished and answered within STOP_TIMEOUT. A worker that fails while starting (e.g. the
database refuses it) stops the whole server with an error, for systemd or Docker to restart.

Each worker is a whole bot: its own event loop, database pool, Bot session and scheduler.
What must be shared lives in the database (updates handled, sign-ups, claims, the outbox, job
leases) and, with REDIS_URL, the conversation state in Redis. Telegram's overall limit is per
bot, not per process: with REDIS_URL the workers share one send window in Redis
(:mod:`bot.telegram.limits.shared`), so together they stay within OUTGOING_PER_SECOND; without
Redis each worker sends at most OUTGOING_PER_SECOND / N messages a second. Their metrics are
added up through PROMETHEUS_MULTIPROC_DIR (:mod:`bot.metrics`); the parent makes a fresh
folder for it unless one is given.

Long polling cannot be shared (Telegram gives updates to one ``getUpdates`` caller), so
several workers need webhook mode. Another way to run several workers is N separate
``urapolku run --webhook`` processes on N ports behind a load balancer such as nginx (see
docs/DEPLOY.md); then set OUTGOING_PER_SECOND of each to the share it may use.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from bot import metrics
from bot.config import Settings, load_settings
from bot.factory import (
    ALLOWED_UPDATES,
    build_app,
    build_scheduler,
    create_bot,
    create_dispatcher,
    introduce,
    start_app,
)
from bot.logsetup import set_worker
from bot.runtime.eventloop import settle_heap
from bot.runtime.reload import reloader_for
from bot.runtime.webhook import build_web_app
from bot.telegram.limits.shared import shared_limiter

log = logging.getLogger("urapolku.workers")

#: seconds a stopping worker has to finish the requests in progress
STOP_TIMEOUT = 30
#: a starting worker may take this long (loading the content) before the heartbeat checks it
BOOT_LIMIT = 300.0
#: this worker's number (set in each worker right after the fork)
_this_worker = 0


class BootHeartbeat:
    """Beats for a worker while it starts.

    gunicorn's heartbeat comes from the worker's event loop, which starts beating only once the
    application is built; building it (the content, above all) takes seconds, more than
    WORKER_TIMEOUT on a busy machine, and gunicorn would kill every worker while it starts. A
    thread beats instead until the loop takes over, for at most :data:`BOOT_LIMIT` seconds, so
    a start that hangs is still caught."""

    def __init__(self, notify: Callable[[], None]) -> None:
        self._notify = notify
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="boot-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()

    def _beat(self) -> None:
        deadline = time.monotonic() + BOOT_LIMIT
        while not self._done.is_set() and time.monotonic() < deadline:
            self._notify()
            self._done.wait(1.0)


_boot: BootHeartbeat | None = None


def worker_rate(settings: Settings, workers: int) -> float:
    """Each worker's share of the overall outgoing limit (0 stays 0: no limit)."""
    return settings.outgoing_per_second / max(1, workers)


async def prepare(settings: Settings) -> None:
    """What happens once, in the parent: migrate, the command menu, the webhook."""
    app = await start_app(settings)  # migrates
    bot = create_bot(settings)
    try:
        await introduce(bot, app)
        assert settings.webhook_url is not None
        assert settings.webhook_secret is not None
        await bot.set_webhook(
            settings.webhook_url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
        )
    finally:
        await bot.session.close()
        await app.db.dispose()


async def worker_app(index: int, workers: int) -> web.Application:
    """One worker: the whole bot as an aiohttp application (the webhook, ``/healthz``,
    ``/metrics``), its scheduler started now and stopped after the last request."""
    set_worker(index)
    base = load_settings()
    # with Redis the workers share the whole rate (bot.telegram.limits.shared); without, each its share
    settings = (
        base if base.redis_url else load_settings(outgoing_per_second=worker_rate(base, workers))
    )
    app = await build_app(settings, migrate=False)  # the parent migrated
    limiter = None
    if settings.redis_url and workers > 1 and settings.outgoing_per_second > 0:
        limiter = shared_limiter(
            settings.redis_url,
            per_second=settings.outgoing_per_second,
            burst=settings.outgoing_burst,
            workers=workers,
        )
    bot = create_bot(settings, limiter=limiter)
    dispatcher = create_dispatcher(app)
    assert settings.webhook_secret is not None
    web_app = build_web_app(
        app,
        bot,
        dispatcher,
        secret=settings.webhook_secret.get_secret_value(),
        path=settings.webhook_path,
    )
    scheduler = build_scheduler(app, bot, dispatcher)
    if index != 0:
        # every worker reloads its own copy of the content; one of them tells the admins
        reloader_for(app).notify = False

    async def stop(_: web.Application) -> None:
        await scheduler.stop()
        await bot.session.close()
        if limiter is not None:
            await limiter.shared.redis.aclose()
        await app.db.dispose()

    web_app.on_cleanup.append(stop)  # after the requests in progress were answered
    scheduler.start()
    settle_heap()
    if _boot is not None:
        _boot.stop()  # the event loop beats from now on
    log.info("worker %d (pid %d) ready", index, os.getpid())
    return web_app


def _worker_class() -> str:
    try:
        import uvloop  # noqa: F401 - only whether it is there
    except ImportError:  # pragma: no cover - e.g. Windows
        return "aiohttp.GunicornWebWorker"
    return "aiohttp.GunicornUVLoopWebWorker"


def _logger_class() -> type[Any]:
    from gunicorn.glogging import Logger

    class ToRoot(Logger):  # type: ignore[misc]
        """gunicorn's messages through our logging (text or JSON, secrets masked)."""

        def setup(self, cfg: Any) -> None:
            self.error_log.handlers[:] = []
            self.error_log.propagate = True
            self.error_log.setLevel(logging.INFO)
            self.access_log.handlers[:] = []
            self.access_log.propagate = False

    return ToRoot


def _numbering() -> tuple[Callable[..., None], Callable[..., None]]:
    """gunicorn hooks giving each worker the lowest number no living worker has (0, 1, …):
    worker 0 is the one that tells the admins about reloaded content, and the number is the
    JSON log's ``worker``."""

    def pre_fork(server: Any, worker: Any) -> None:  # in the parent
        taken = {getattr(w, "urapolku_index", None) for w in server.WORKERS.values()}
        worker.urapolku_index = next(i for i in range(len(taken) + 1) if i not in taken)

    def post_fork(server: Any, worker: Any) -> None:  # in the new worker
        global _this_worker, _boot
        _this_worker = worker.urapolku_index
        _boot = BootHeartbeat(worker.notify)
        _boot.start()
        metrics.use_shared_files()

    return pre_fork, post_fork


def _application(settings: Settings, workers: int) -> Any:
    from gunicorn.app.base import BaseApplication

    pre_fork, post_fork = _numbering()

    def child_exit(server: Any, worker: Any) -> None:
        metrics.mark_process_dead(worker.pid)

    class Workers(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"{settings.webhook_host}:{settings.webhook_port}",
                "workers": workers,
                "worker_class": _worker_class(),
                "timeout": settings.worker_timeout,
                "graceful_timeout": STOP_TIMEOUT,
                "backlog": 1024,
                "proc_name": "urapolku",
                "accesslog": None,
                "logger_class": _logger_class(),
                "pre_fork": pre_fork,
                "post_fork": post_fork,
                "child_exit": child_exit,
                "control_socket_disable": True,  # gunicorn >= 25: no socket in $HOME
            }
            if Path("/dev/shm").is_dir():
                # the heartbeat files: in memory, not on a container's overlay disk
                options["worker_tmp_dir"] = "/dev/shm"
            for key, value in options.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> Callable[[], Awaitable[web.Application]]:
            async def app() -> web.Application:  # called in the worker, after the fork
                return await worker_app(_this_worker, workers)

            return app

    return Workers()


def run_workers(settings: Settings, workers: int) -> int:
    """``urapolku run --webhook --workers N`` (the parent). Returns the exit code."""
    asyncio.run(prepare(settings))
    # aiohttp's worker closes the event loop it inherits before making its own; older releases
    # (3.9) fail when there is none, as after asyncio.run
    asyncio.set_event_loop(asyncio.new_event_loop())
    own_dir = None
    if not metrics.multiprocess():
        own_dir = tempfile.mkdtemp(prefix="urapolku-metrics-")
        os.environ[metrics.MULTIPROC_ENV] = own_dir
    else:  # counts of an earlier run would be added to this one's
        folder = Path(os.environ[metrics.MULTIPROC_ENV])
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
    log.info(
        "%d workers on %s:%s%s",
        workers,
        settings.webhook_host,
        settings.webhook_port,
        settings.webhook_path,
    )
    try:
        _application(settings, workers).run()
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
    return 0
