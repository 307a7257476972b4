"""The database work of one button press, through the real repositories, against the same SQL
written directly with aiosqlite.

A turn is what the bot does per handled update: one read (``UpdateRepository.context``: the
"handled?" mark, the person and the conversation-state row in one statement), then one write
transaction (``Database.transaction``: the update mark, an answer saved, the conversation state
put). The baseline does the same SQL on a plain ``aiosqlite`` connection (one ``BEGIN
IMMEDIATE``/``COMMIT``, the same encryption of the state and of typed answers), so the ratio
shows what SQLAlchemy and the repositories add. Each variant gets a fresh SQLite file.

    python bench/db_hotpath.py [--turns 2000] [--rounds 3] [--stock-adapter] [--profile FILE]

Prints wall and CPU (``time.process_time``: the whole process, the database thread included)
per turn, for the read, the write transaction and the whole turn. No thresholds: the turns only
check that they did what they say. ``--stock-adapter`` runs the repositories on SQLAlchemy's
own aiosqlite adapter instead of the one-trip adapter of db/sqlite/adapter.py.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiosqlite  # noqa: E402

from db import Database  # noqa: E402
from db import types as crypto  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.repositories import (  # noqa: E402
    AnswerRepository,
    PersonRepository,
    StateRepository,
    UpdateRepository,
)
from db.sqlite import adapter as sqlite_adapter  # noqa: E402

TELEGRAM_ID = 4242
STATE_KEY = f"1:{TELEGRAM_ID}:{TELEGRAM_ID}:0:default"
#: question keys the turns cycle through: the first pass inserts, later ones update
KEYS = [f"q{n}" for n in range(13)]
WARMUP = 100


def state_data(turn: int) -> dict[str, Any]:
    """A conversation state about the size the career plan has midway (~600 bytes of JSON)."""
    return {
        "dialog": "career_plan",
        "step": f"s{turn % 13}",
        "answers": {
            key: [f"option_{n}", "jotain kirjoitettua tekstiä"] for n, key in enumerate(KEYS)
        },
        "history": [f"s{n}" for n in range(turn % 13)],
        "v": 3,
    }


def answer_of(turn: int) -> tuple[str, Any, bool]:
    """(key, value, plain): every other answer is typed text (encrypted), the rest a choice."""
    key = KEYS[turn % len(KEYS)]
    if turn % 2:
        return key, f"kirjoitettu vastaus {turn}", False
    return key, [f"option_{turn % 5}"], True


@dataclass
class Phases:
    wall: dict[str, float] = field(default_factory=lambda: {"read": 0.0, "write": 0.0})
    cpu: dict[str, float] = field(default_factory=lambda: {"read": 0.0, "write": 0.0})


class Timer:
    def __init__(self, phases: Phases, name: str) -> None:
        self.phases, self.name = phases, name

    def __enter__(self) -> None:
        self.w, self.c = time.perf_counter(), time.process_time()

    def __exit__(self, *_: object) -> None:
        self.phases.wall[self.name] += time.perf_counter() - self.w
        self.phases.cpu[self.name] += time.process_time() - self.c


Turn = Callable[[int, Phases], Awaitable[None]]


# -- the repositories (what the bot runs) -------------------------------------------------------


async def repositories(path: Path) -> tuple[Turn, Callable[[], Awaitable[None]]]:
    db = Database(f"sqlite+aiosqlite:///{path}")
    await upgrade(db)
    async with db.transaction() as session:
        person, _ = await PersonRepository(session).ensure(TELEGRAM_ID, "fi")

    async def turn(n: int, phases: Phases) -> None:
        with Timer(phases, "read"):
            async with db.read() as session:
                found = await UpdateRepository(session).context(n, TELEGRAM_ID, STATE_KEY)
            assert not found.processed
            assert found.person is not None
            assert found.state is not None or n == 1
        key, value, plain = answer_of(n)
        with Timer(phases, "write"):
            async with db.transaction() as session:
                assert await UpdateRepository(session).mark(n)
                await AnswerRepository(session).save(
                    person.id, "career_plan", key, value, plain=plain
                )
                await StateRepository(session).put(STATE_KEY, TELEGRAM_ID, data=state_data(n))

    return turn, db.dispose


# -- the same SQL on plain aiosqlite -----------------------------------------------------------

CONTEXT_SQL = (
    "SELECT EXISTS (SELECT processed_updates.update_id FROM processed_updates"
    " WHERE processed_updates.update_id = ?) AS done,"
    " persons.id, persons.telegram_id, persons.language, persons.consent_version,"
    " persons.consent_decided_at, persons.first_seen, persons.last_seen, persons.blocked_at,"
    " conversation_states.key, conversation_states.state, conversation_states.data"
    " FROM (SELECT 1 AS one) AS one"
    " LEFT OUTER JOIN persons ON persons.telegram_id = ?"
    " LEFT OUTER JOIN conversation_states ON conversation_states.key = ?"
)
MARK_SQL = (
    "INSERT INTO processed_updates (update_id, processed_at) VALUES (?, ?)"
    " ON CONFLICT (update_id) DO NOTHING"
)
ANSWER_SQL = (
    "INSERT INTO answers (person_id, dialog, key, value, private_value, answered_at)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (person_id, key) DO UPDATE SET"
    " value = excluded.value, private_value = excluded.private_value,"
    " dialog = excluded.dialog, answered_at = excluded.answered_at"
)
STATE_SQL = (
    "INSERT INTO conversation_states (key, subject, state, data, updated_at)"
    " VALUES (?, ?, NULL, ?, ?) ON CONFLICT (key) DO UPDATE SET"
    " data = excluded.data, updated_at = excluded.updated_at"
)


def stamp() -> str:
    """A UTC timestamp as SQLAlchemy stores it in SQLite."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")


def parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


async def raw(path: Path) -> tuple[Turn, Callable[[], Awaitable[None]]]:
    schema = Database(f"sqlite+aiosqlite:///{path}")  # the same schema, by the migrations
    await upgrade(schema)
    async with schema.transaction() as session:
        await PersonRepository(session).ensure(TELEGRAM_ID, "fi")
    await schema.dispose()
    conn = await aiosqlite.connect(path, isolation_level=None)
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "busy_timeout=15000",
        "foreign_keys=ON",
    ):
        await conn.execute(f"PRAGMA {pragma}")
    lock = asyncio.Lock()

    async def turn(n: int, phases: Phases) -> None:
        with Timer(phases, "read"):
            (row,) = await conn.execute_fetchall(CONTEXT_SQL, (n, TELEGRAM_ID, STATE_KEY))
            done, pid, *person = row[:9]
            first_seen, last_seen = parse(person[4]), parse(person[5])
            state = (row[10], json.loads(crypto.decrypt(row[11]))) if row[9] is not None else None
            assert not done
            assert pid is not None
            assert first_seen is not None
            assert last_seen is not None
            assert state is not None or n == 1
        key, value, plain = answer_of(n)
        with Timer(phases, "write"):
            async with lock:
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    cursor = await conn.execute(MARK_SQL, (n, stamp()))
                    assert cursor.rowcount == 1
                    encoded = json.dumps(value, ensure_ascii=False)
                    plain_value, private = (
                        (encoded, None) if plain else (None, crypto.encrypt(encoded))
                    )
                    await conn.execute(
                        ANSWER_SQL, (pid, "career_plan", key, plain_value, private, stamp())
                    )
                    data = json.dumps(state_data(n), ensure_ascii=False, separators=(",", ":"))
                    await conn.execute(
                        STATE_SQL, (STATE_KEY, TELEGRAM_ID, crypto.encrypt(data), stamp())
                    )
                    await conn.execute("COMMIT")
                except BaseException:
                    await conn.execute("ROLLBACK")
                    raise

    return turn, conn.close


# -- running -----------------------------------------------------------------------------------

VARIANTS: dict[str, Callable[[Path], Awaitable[tuple[Turn, Callable[[], Awaitable[None]]]]]] = {
    "repositories": repositories,
    "raw aiosqlite": raw,
}


@dataclass
class Figures:
    wall_ms: float
    cpu_ms: float
    read_wall_ms: float
    read_cpu_ms: float
    write_wall_ms: float
    write_cpu_ms: float


async def measure(name: str, turns: int, folder: Path, profile: cProfile.Profile | None) -> Figures:
    make = VARIANTS[name]
    turn, close = await make(folder / f"{name.replace(' ', '_')}.sqlite3")
    try:
        warm = Phases()
        for n in range(1, WARMUP + 1):
            await turn(n, warm)
        phases = Phases()
        if profile is not None:
            profile.enable()
        wall, cpu = time.perf_counter(), time.process_time()
        for n in range(WARMUP + 1, WARMUP + turns + 1):
            await turn(n, phases)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if profile is not None:
            profile.disable()
    finally:
        await close()
    per = 1000 / turns
    return Figures(
        wall * per,
        cpu * per,
        phases.wall["read"] * per,
        phases.cpu["read"] * per,
        phases.wall["write"] * per,
        phases.cpu["write"] * per,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each variant, alternating")
    parser.add_argument("--profile", type=Path, help="cProfile the repositories variant to FILE")
    parser.add_argument(
        "--stock-adapter", action="store_true", help="SQLAlchemy's own aiosqlite adapter"
    )
    args = parser.parse_args()
    if args.stock_adapter:
        sqlite_adapter.lean_aiosqlite_dbapi = lambda: None
    crypto.configure(crypto.generate_key())
    results: dict[str, list[Figures]] = {name: [] for name in VARIANTS}
    profile = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for name in VARIANTS:
                folder = Path(tmp) / f"r{round_}"
                folder.mkdir(exist_ok=True)
                prof = profile if name == "repositories" else None
                results[name].append(await measure(name, args.turns, folder, prof))
    if profile is not None:
        profile.dump_stats(args.profile)
    print(f"{args.turns} turns x {args.rounds} rounds; median (min-max) per turn, ms")
    print(f"{'variant':<14} {'wall':>19} {'cpu':>19} {'read cpu':>10} {'write cpu':>10}")
    med: dict[str, float] = {}
    for name, runs in results.items():
        walls = [r.wall_ms for r in runs]
        cpus = [r.cpu_ms for r in runs]
        med[name] = statistics.median(cpus)
        print(
            f"{name:<14} {statistics.median(walls):6.2f} ({min(walls):5.2f}-{max(walls):5.2f})"
            f" {statistics.median(cpus):6.2f} ({min(cpus):5.2f}-{max(cpus):5.2f})"
            f" {statistics.median(r.read_cpu_ms for r in runs):10.2f}"
            f" {statistics.median(r.write_cpu_ms for r in runs):10.2f}"
        )
    print(
        f"cpu ratio repositories / raw aiosqlite: {med['repositories'] / med['raw aiosqlite']:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
