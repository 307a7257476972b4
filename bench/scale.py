"""Scale-out benchmark: ``urapolku run --webhook --workers N`` against the bare bot, same load.

    .venv/bin/python bench/scale.py [--people 100] [--turns 15] [--workers 1 2 4] [--scale]

The same simulated people as bench/throughput.py (whose functions this reuses): /start, then
a button press or a typed answer after each reply. The bare aiogram bot long-polls the Bot
API stand-in as there; Urapolku runs in webhook mode with N worker processes behind one port,
and a pusher here plays Telegram's webhook delivery: it takes each update from the stand-in
and POSTs it to the port (up to 40 requests in flight, as Telegram's default
``max_connections``), again until it gets a 200. On SQLite (one file shared by the workers)
or with ``--scale`` on PostgreSQL + Redis (127.0.0.1).

Prints updates/s, p50/p99 from an update being handed out to the first reply in its chat,
peak memory per worker process, and the ratios to the bare bot measured in the same run.
Outgoing rate limits and flood control are off, so the figures measure the bots.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from throughput import (  # noqa: E402
    DONE,
    TOKEN,
    Result,
    bench_env,
    fresh_postgres,
    peak_rss_mb,
    person,
    run,
)

from bot.telegram.standin import BotAPIStub  # noqa: E402

SECRET = "bench-secret_1"
POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_scale"
REDIS = "redis://127.0.0.1:6379/13"
IN_FLIGHT = 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


async def push(stub: BotAPIStub, url: str, stop: asyncio.Event) -> None:
    """Telegram's side of a webhook: every update POSTed until it is answered 200."""
    slots = asyncio.Semaphore(IN_FLIGHT)
    tasks: set[asyncio.Task[None]] = set()
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def deliver(update: dict[str, object]) -> None:
            async with slots:
                while True:
                    with contextlib.suppress(aiohttp.ClientError):
                        async with http.post(url, json=update, headers=headers) as response:
                            if response.status == 200:
                                stub.confirm_update(int(update["update_id"]))  # type: ignore[call-overload]
                                return
                    await asyncio.sleep(0.1)

        while not stop.is_set():
            batch = stub.take_updates(100)
            if not batch:
                await stub.wait_for_updates(0.05)
                continue
            for update in batch:
                task = asyncio.create_task(deliver(update))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        for task in list(tasks):
            task.cancel()


async def run_workers(
    workers: int, env: dict[str, str], people: int, turns: int
) -> tuple[Result, list[float]]:
    port = free_port()
    name = f"urapolku, {workers} worker{'s' if workers > 1 else ''}"
    async with BotAPIStub(token=TOKEN) as stub:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--webhook",
            "--workers",
            str(workers),
            cwd=ROOT,
            env={
                **env,
                "TELEGRAM_API_URL": stub.base_url,
                "WEBHOOK_URL": "https://bench.example.org/telegram",
                "WEBHOOK_SECRET": SECRET,
                "WEBHOOK_HOST": "127.0.0.1",
                "WEBHOOK_PORT": str(port),
            },
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3600):
            started = workers == 1 or len(children(process.pid)) == workers
            if started and stub.webhook is not None:
                break
            if process.returncode is not None:
                assert process.stderr is not None
                raise SystemExit(f"{name} did not start: {(await process.stderr.read())[-2000:]!r}")
            await asyncio.sleep(0.05)
        # wait until every worker answers (they load content after they start)
        async with aiohttp.ClientSession() as http:
            for _ in range(3600):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.05)
        await asyncio.sleep(5 if workers > 1 else 0)  # the others finish starting too
        stop = asyncio.Event()
        pusher = asyncio.create_task(push(stub, f"http://127.0.0.1:{port}/telegram", stop))
        users = [
            stub.user(100_000 + i, first_name="Testi", language_code="fi") for i in range(people)
        ]
        started = time.perf_counter()
        counts = await asyncio.gather(*(person(u, turns, {DONE}) for u in users))
        seconds = time.perf_counter() - started
        stop.set()
        await pusher
        pids = children(process.pid) if workers > 1 else [process.pid]
        memory = [peak_rss_mb(pid) for pid in pids]
        process.terminate()
        await process.wait()
    per_worker = sum(memory) / len(memory) if memory else float("nan")
    return Result(name, sum(counts), seconds, stub.latencies(), per_worker), memory


async def fresh_postgres_and_redis() -> None:
    await fresh_postgres("bench_scale")
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS)
    await redis.flushdb()
    await redis.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--turns", type=int, default=15)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--scale", action="store_true", help="PostgreSQL + Redis (127.0.0.1)")
    args = parser.parse_args()

    base_env = bench_env()
    bare = await run(
        "bare aiogram bot",
        [sys.executable, "bench/bare_bot.py", "--api", "{api}", "--token", TOKEN],
        base_env,
        args.people,
        args.turns,
    )
    rows: list[tuple[Result, list[float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            if args.scale:
                await fresh_postgres_and_redis()
                env = base_env | {"DATABASE_URL": POSTGRES, "REDIS_URL": REDIS}
            else:
                env = base_env | {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/w{workers}.sqlite3"}
            rows.append(await run_workers(workers, env, args.people, args.turns))

    where = "PostgreSQL + Redis" if args.scale else "SQLite (one file)"
    print(
        f"{args.people} people x {args.turns + 1} updates each; Urapolku by webhook on {where}; "
        f"{os.cpu_count()} CPU cores\n"
    )
    print(
        f"{'bot':<24}{'updates/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'MB/worker':>11}{'mem ratio':>11}"
    )
    for result, _ in [(bare, [bare.peak_rss_mb]), *rows]:
        print(
            f"{result.name:<24}{result.rate:>10.1f}{result.rate / bare.rate:>8.2f}"
            f"{result.percentile(50):>9.1f}{result.percentile(99):>9.1f}"
            f"{result.peak_rss_mb:>11.1f}{result.peak_rss_mb / bare.peak_rss_mb:>11.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
