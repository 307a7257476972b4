"""Several worker processes behind one webhook port: ``urapolku run --webhook --workers N``.

The parent process prepares once what must happen once — the schema migration, the command
menu, registering the webhook with Telegram — then binds WEBHOOK_HOST:WEBHOOK_PORT itself and
starts N workers (``python -m bot.runtime.workers``) that inherit the listening socket and accept
connections on it: the kernel gives each connection to one waiting worker. A worker that dies
is started again (after a growing pause if it keeps dying); SIGTERM or SIGINT to the parent
stops every worker gracefully (requests in progress finish) and then the parent.

Each worker is a whole bot: its own event loop, database pool, Bot session and scheduler.
What must be shared lives in the database (updates handled, sign-ups, claims, the outbox, job
leases) and, with REDIS_URL, the conversation state in Redis. Telegram's overall limit is per
bot, not per process: with REDIS_URL the workers share one send window in Redis
(:mod:`bot.telegram.limits.shared`), so together they stay within OUTGOING_PER_SECOND and one worker
sending a batch of reminders may use all of it; without Redis each worker sends at most
OUTGOING_PER_SECOND / N messages a second.

Long polling cannot be shared (Telegram gives updates to one ``getUpdates`` caller), so
several workers need webhook mode. Another way to run several workers is N separate
``urapolku run --webhook`` processes on N ports behind a load balancer such as nginx (see
docs/DEPLOY.md); then set OUTGOING_PER_SECOND of each to the share it may use.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

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
from bot.logsetup import setup_logging
from bot.runtime.eventloop import run_service, settle_heap
from bot.runtime.reload import reloader_for
from bot.runtime.webhook import serve
from bot.telegram.limits.shared import shared_limiter

log = logging.getLogger("urapolku.workers")

#: a worker that dies sooner than this after starting counts as crash-looping
MIN_UPTIME = 10.0
MAX_RESTART_PAUSE = 30.0
STOP_TIMEOUT = 30.0


def worker_rate(settings: Settings, workers: int) -> float:
    """Each worker's share of the overall outgoing limit (0 stays 0: no limit)."""
    return settings.outgoing_per_second / max(1, workers)


def bind(settings: Settings) -> socket.socket:
    """The listening socket the workers share."""
    sock = socket.create_server(
        (settings.webhook_host, settings.webhook_port), backlog=1024, reuse_port=False
    )
    sock.set_inheritable(True)
    return sock


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


@dataclass
class _Worker:
    index: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float = 0.0
    exits: list[int] = field(default_factory=list)


class Supervisor:
    """Starts N workers on one socket, restarts the ones that die, stops them all on a signal."""

    def __init__(self, sock: socket.socket, workers: int) -> None:
        self.sock = sock
        self.workers = [_Worker(i) for i in range(workers)]
        self.stopping = False

    def _spawn(self, worker: _Worker) -> None:
        fd = self.sock.fileno()
        command = [
            sys.executable,
            "-m",
            "bot.runtime.workers",
            "--fd",
            str(fd),
            "--index",
            str(worker.index),
            "--workers",
            str(len(self.workers)),
        ]
        worker.process = subprocess.Popen(command, pass_fds=(fd,))
        worker.started = time.monotonic()
        log.info("worker %d started (pid %d)", worker.index, worker.process.pid)

    def stop(self, *_: object) -> None:
        self.stopping = True

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.stop)
        for worker in self.workers:
            self._spawn(worker)
        while not self.stopping:
            now = time.monotonic()
            for worker in self.workers:
                process = worker.process
                if process is not None and process.poll() is not None:
                    code = process.returncode
                    worker.exits.append(code)
                    worker.process = None
                    quick = now - worker.started < MIN_UPTIME
                    worker.failures = worker.failures + 1 if quick else 0
                    pause = min(MAX_RESTART_PAUSE, 0.5 * 2**worker.failures) if quick else 0.0
                    worker.restart_at = now + pause
                    log.warning(
                        "worker %d exited with %s; starting it again in %.1fs",
                        worker.index,
                        code,
                        pause,
                    )
                if worker.process is None and now >= worker.restart_at and not self.stopping:
                    self._spawn(worker)
            time.sleep(0.2)
        return self._stop_all()

    def _stop_all(self) -> int:
        running = [w.process for w in self.workers if w.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        worst = 0
        for process in running:
            try:
                code = process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
            worst = worst or (code if code not in (0, -signal.SIGTERM) else 0)
        self.sock.close()
        log.info("all workers stopped")
        return worst


def run_workers(settings: Settings, workers: int) -> int:
    """``urapolku run --webhook --workers N`` (the parent). Returns the exit code."""
    asyncio.run(prepare(settings))
    sock = bind(settings)
    log.info(
        "%d workers on %s:%s%s",
        workers,
        settings.webhook_host,
        sock.getsockname()[1],
        settings.webhook_path,
    )
    return Supervisor(sock, workers).run()


async def serve_worker(
    settings: Settings, sock: socket.socket, index: int, workers: int = 1
) -> int:
    """One worker: the whole bot, accepting webhook requests on the shared socket."""
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
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)  # SIGINT is the parent's to handle
    scheduler = build_scheduler(app, bot, dispatcher)
    if index != 0:
        # every worker reloads its own copy of the content; one of them tells the admins
        reloader_for(app).notify = False
    scheduler.start()
    settle_heap()
    try:
        log.info("worker %d (pid %d) ready", index, os.getpid())
        await serve(
            app,
            bot,
            dispatcher,
            stop=stop,
            allowed_updates=ALLOWED_UPDATES,
            register=False,
            sock=sock,
        )
    finally:
        await scheduler.stop()
        await bot.session.close()
        if limiter is not None:
            await limiter.shared.redis.aclose()
        await app.db.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    """The worker process (started by :class:`Supervisor`, not by people)."""
    parser = argparse.ArgumentParser(prog="python -m bot.runtime.workers")
    parser.add_argument("--fd", type=int, required=True, help="the inherited listening socket")
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    base = load_settings()
    # with Redis the workers share the whole rate (bot.telegram.limits.shared); without, each its share
    settings = (
        base
        if base.redis_url
        else load_settings(outgoing_per_second=worker_rate(base, args.workers))
    )
    setup_logging(settings.log_level, settings.log_format, settings.secrets())
    sock = socket.socket(fileno=args.fd)
    return run_service(serve_worker(settings, sock, args.index, args.workers))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
