"""Throughput and memory of the real bot against a bare aiogram bot, on the same load.

Both run as separate processes, long polling the same kind of local Bot API stand-in
(bot/telegram/standin/) on 127.0.0.1. Many simulated people talk at once: /start, then a
button press or a typed answer after each reply. For Urapolku that is onboarding and the
career-planning dialog on SQLite (or PostgreSQL + Redis with --scale); for the bare bot, a
keyboard reply to every update. Prints updates/s, the ratio, p50/p99 time from an update
being handed out to the bot's first reply in that chat, and the peak memory of each process.

    python bench/throughput.py [--people 100] [--turns 20] [--warmup 0] [--rounds 1]
                               [--scale] [--tuned-baseline]

With ``--warmup N``, N other people first go through the same turns, for every bot alike, and
are not counted: the figures then leave out what a fresh process spends once (building
caches, first-use imports). The measured people are still all new to the bot, so what a first
contact costs is counted either way. The default (0) measures from a cold process.

``--tuned-baseline`` adds the bare bot on uvloop and orjson (which the real bot uses), so the
report can say how much of the ratio is that tuning rather than the bot's own work.

Targets: at least half the bare bot's throughput on SQLite; peak memory within
1.3x the bare bot's. Outgoing rate limits and flood control are switched off for both, so
the figures measure the bots, not Telegram's limits.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.telegram.standin import BotAPIStub, FakeUser  # noqa: E402

TOKEN = "123456:BENCHMARK-token-abcdefghijklmnop"
#: a busy machine (or a profiler) can make imports slow
STARTUP_TIMEOUT_S = 180.0


@dataclass
class Result:
    name: str
    updates: int
    seconds: float
    latencies: list[float]
    peak_rss_mb: float
    #: CPU seconds (user + system) the bot process used while the people talked to it
    cpu_s: float = float("nan")
    #: updates ``getUpdates`` handed out meanwhile, each time it handed one out (re-deliveries)
    handed_out: int = 0

    @property
    def rate(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


#: the "done" button of multi-choice steps (Finnish, as the simulated people speak)
DONE = "Valmis ✅"
#: what a simulated person types where no button is shown (a name and a phone number)
TYPED = "Testi 040 123 4567"


def next_button(shown: list[str], done_labels: set[str]) -> str | None:
    """The button a simulated person presses next: "done" once something is ticked, else the
    first one that is not "back"; None: there is none, the person types :data:`TYPED`."""
    buttons = [b for b in shown if not b.startswith(("◀", "↩"))]
    ticked = any(b.startswith("✅") for b in buttons)
    done = next((b for b in buttons if b in done_labels), None)
    if done and ticked:
        return done
    return buttons[0] if buttons else None


async def person(user: FakeUser, turns: int, done_labels: set[str]) -> int:
    """One simulated person; returns how many updates they sent."""
    sent = 0
    await user.send("/start")
    sent += 1
    for _ in range(turns):
        await user.wait_idle(quiet=0.05, timeout=60)
        button = next_button(user.buttons, done_labels)
        if button is not None:
            await user.click(button)
        else:
            await user.send(TYPED)
        sent += 1
    await user.wait_idle(quiet=0.05, timeout=60)
    return sent


async def run(
    name: str,
    command: list[str],
    env: dict[str, str],
    people: int,
    turns: int,
    warmup: int = 0,
) -> Result:
    """Start the bot as a process against a fresh stand-in, run the people, stop it."""
    async with BotAPIStub(token=TOKEN) as stub:
        # The bot's log goes to a file: an unread pipe would fill up and stall the bot.
        with tempfile.TemporaryFile() as log:
            process = await asyncio.create_subprocess_exec(
                *(part.replace("{api}", stub.base_url) for part in command),
                cwd=ROOT,
                env={**env, "TELEGRAM_API_URL": stub.base_url},
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
            for _ in range(int(STARTUP_TIMEOUT_S / 0.05)):
                if stub.calls_of("getUpdates"):
                    break
                if process.returncode is not None:
                    log.seek(0)
                    raise SystemExit(f"{name} did not start: {log.read().decode()[-2000:]}")
                await asyncio.sleep(0.05)
            if warmup:
                warming = [
                    stub.user(900_000 + i, first_name="Testi", language_code="fi")
                    for i in range(warmup)
                ]
                await asyncio.gather(*(person(u, turns, {DONE}) for u in warming))
            warm_latencies = len(stub.latencies())
            users = [
                stub.user(100_000 + i, first_name="Testi", language_code="fi")
                for i in range(people)
            ]
            cpu_before = cpu_seconds(process.pid)
            handed_before = handed_out(stub)
            started = time.perf_counter()
            counts = await asyncio.gather(*(person(u, turns, {DONE}) for u in users))
            seconds = time.perf_counter() - started
            memory = peak_rss_mb(process.pid)
            cpu = cpu_seconds(process.pid) - cpu_before
            handed = handed_out(stub) - handed_before
            process.terminate()
            await process.wait()
            log.seek(0)
            warnings = log.read().decode(errors="replace").strip().splitlines()
            if warnings:
                print(f"{name}: {len(warnings)} log lines, last: {warnings[-1][:300]}")
        latencies = stub.latencies()[warm_latencies:]
        return Result(name, sum(counts), seconds, latencies, memory, cpu, handed)


def handed_out(stub: BotAPIStub) -> int:
    """Updates the stand-in's ``getUpdates`` has handed out so far, re-deliveries included."""
    return sum(len(c.result) for c in stub.calls_of("getUpdates") if isinstance(c.result, list))


def bench_env(**extra: str) -> dict[str, str]:
    """The environment of a benchmarked bot: this one's without its database, Redis and token;
    the benchmark's token, a new data key, quiet logs, no outgoing or flood limit; ``extra``."""
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "BOT_TOKEN"}
    }
    return env | {
        "BOT_TOKEN": TOKEN,
        "LOG_LEVEL": "WARNING",
        "OUTGOING_PER_SECOND": "0",
        "FLOOD_LIMIT": "1000000",
        "DATA_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode("ascii"),  # as DATA_KEY takes
        **extra,
    }


async def fresh_postgres(name: str) -> str:
    """The URL of PostgreSQL database ``name`` on 127.0.0.1, dropped and created empty."""
    from sqlalchemy import text

    from db import Database

    admin = Database("postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    async with admin.engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f'drop database if exists "{name}" with (force)'))
        await connection.execute(text(f'create database "{name}"'))
    await admin.dispose()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def report(results: list[Result]) -> None:
    """One row per bot; ratios are to the first (the bare bot). "CPU ms/upd" is the bot
    process's CPU time per update: what one update costs, whatever limited the rate."""
    base = results[0]
    print(
        f"{'bot':<28}{'updates/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'CPU ms/upd':>12}{'CPU %':>7}{'peak MB':>9}{'mem ratio':>11}"
    )
    for r in results:
        cpu_per_update = r.cpu_s / r.updates * 1000 if r.updates else float("nan")
        busy = r.cpu_s / r.seconds * 100 if r.seconds else float("nan")
        print(
            f"{r.name:<28}{r.rate:>10.1f}{r.rate / base.rate:>8.2f}{r.percentile(50):>9.1f}"
            f"{r.percentile(99):>9.1f}{cpu_per_update:>12.2f}{busy:>7.0f}"
            f"{r.peak_rss_mb:>9.1f}{r.peak_rss_mb / base.peak_rss_mb:>11.2f}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument(
        "--warmup",
        type=int,
        default=0,
        help="people who go through first and are not measured (default 0: a cold process)",
    )
    parser.add_argument(
        "--scale", action="store_true", help="also run on PostgreSQL + Redis (127.0.0.1)"
    )
    parser.add_argument(
        "--tuned-baseline",
        action="store_true",
        help="also run the bare bot on uvloop + orjson, as the real bot runs (bench/bare_bot.py)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every bot this many times, interleaved, and report medians (a shared "
        "machine's noise moves single runs by a third)",
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # rounds as they end

    # a production-like start: the data key comes from the environment (docs/SECURITY.md)
    base_env = bench_env(ENVIRONMENT="production")
    bare = [sys.executable, "bench/bare_bot.py", "--api", "{api}", "--token", TOKEN]
    ours = [sys.executable, "-m", "bot", "run"]
    bots: list[tuple[str, list[str], dict[str, str] | None]] = [
        ("bare aiogram bot", bare, base_env)
    ]
    if args.tuned_baseline:
        bots.append(("bare bot, uvloop+orjson", [*bare, "--tuned"], base_env))
    bots.append(("urapolku, SQLite", ours, None))  # None: a new SQLite file each run
    if args.scale:
        scale_env = base_env | {
            "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
            "REDIS_URL": "redis://127.0.0.1:6379/14",
        }
        bots.append(("urapolku, PostgreSQL+Redis", ours, scale_env))

    warm = f" (after {args.warmup} people not measured)" if args.warmup else ""
    print(f"{args.people} people x {args.turns + 1} updates each, same load for every bot{warm}\n")
    rounds: list[list[Result]] = []
    for number in range(args.rounds):
        results = []
        for name, command, env in bots:
            with tempfile.TemporaryDirectory() as tmp:
                if env is None:
                    env = base_env | {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"}
                results.append(await run(name, command, env, args.people, args.turns, args.warmup))
        rounds.append(results)
        if args.rounds > 1:
            print(f"round {number + 1} of {args.rounds}")
        report(results)
        if args.tuned_baseline:
            tuned, urapolku = results[1], results[2]
            print(
                f"\nurapolku, SQLite against the tuned bare bot: {urapolku.rate / tuned.rate:.2f}"
            )
        print()
    if args.rounds > 1:
        summary(rounds)


def summary(rounds: list[list[Result]]) -> None:
    """Per bot, the median of each figure over the rounds, and the range of its ratio (each
    round's ratio is to the bare bot of the same round)."""
    print(f"median of {len(rounds)} rounds")
    print(
        f"{'bot':<28}{'updates/s':>10}{'ratio':>8}{'range':>12}{'CPU ms/upd':>12}{'mem ratio':>11}"
    )
    for index, name in enumerate(r.name for r in rounds[0]):
        runs = [(results[index], results[0]) for results in rounds]
        ratios = [r.rate / base.rate for r, base in runs]
        print(
            f"{name:<28}{statistics.median(r.rate for r, _ in runs):>10.1f}"
            f"{statistics.median(ratios):>8.2f}{f'{min(ratios):.2f}-{max(ratios):.2f}':>12}"
            f"{statistics.median(r.cpu_s / r.updates * 1000 for r, _ in runs):>12.2f}"
            f"{statistics.median(r.peak_rss_mb / b.peak_rss_mb for r, b in runs):>11.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
