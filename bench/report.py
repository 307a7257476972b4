"""Benchmark: the funder's report over 100,000 people and their history.

    .venv/bin/python bench/report.py [--people 100000] [--seed 7] [--database URL [--no-seed]]

Seeds a fresh database (SQLite file in a temporary folder unless ``--database`` is given)
with bulk inserts: people over 2026 with their career-plan answers (70 % with consent), coach
requests, sign-ups, attendance and the anonymous counters (career plans, suggestions shown,
sign-ups, follow-up answers). Then times building the report for one month and for the whole
year (each the best of three), prints the timings and the year's figures. The target is under
2 s on SQLite. Everything random comes from one seeded generator, so runs are comparable.

Then the disclosure check: every month of 2026 and the whole year, for all municipalities and
for each one, is read by the tests' independent reader (``tests/features/reports/checker.py``),
which tries to solve every hidden count from the published report; prints how many it could
(the goal is 0), how many counts were hidden and how long building and checking took.
``--no-check`` skips it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select

from bot.app import App
from bot.config import Settings
from bot.content.snapshot import load_content
from bot.features import build_registry, content_sections
from bot.features.reports.report import build_report, to_json, to_text
from db import Database
from db.migrate import upgrade
from db.models import Answer, Event, EventAttendance, EventSignup, HandoffRequest, Person
from tests.features.reports.checker import derivable

ROOT = Path(__file__).resolve().parent.parent
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
MUNICIPALITIES = ["lohja", "vihti", "raasepori", "hanko", "karkkila", "rovaniemi", "other"]
AGE_GROUPS = ["under_30", "30_49", "50_plus"]
SITUATIONS = ["unemployed", "soon_unemployed", "studying", "recent_graduate", "employed_looking"]
DURATIONS = ["under_3m", "3_12m", "over_12m"]
ITEMS = [(f"item-{n:03d}", kind) for n, kind in enumerate(
    ["group_coaching", "entrepreneurship_coaching", "card_training", "recruitment_event",
     "company_visit", "peer_group", "online_course", "info_session"] * 5
)]  # fmt: skip
OUTCOMES = ["employed", "education", "entrepreneurship", "other_services", "no_longer_needed"]
FOLLOWUP = ["employed_full_time", "employed_part_time", "subsidised_job", "work_trial",
            "studies", "own_business", "other_services", "still_looking"]  # fmt: skip
CHUNK = 10_000


def moment(rng: random.Random) -> datetime:
    return YEAR_START + timedelta(seconds=rng.randrange(300 * 86_400))


async def bulk(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK):
        async with db.transaction() as session:
            await session.execute(insert(table), rows[i : i + CHUNK])


async def seed(db: Database, people: int, rng: random.Random) -> dict[str, int]:
    persons = []
    for n in range(people):
        first = moment(rng)
        persons.append(
            {
                "telegram_id": 10_000_000 + n,
                "language": rng.choices(["fi", "sv", "en"], [80, 15, 5])[0],
                "consent_version": 1 if rng.random() < 0.7 else None,
                "consent_decided_at": first,
                "first_seen": first,
                "last_seen": first + timedelta(days=rng.randrange(60)),
            }
        )
    await bulk(db, Person, persons)
    async with db.read() as session:
        ids = list(await session.scalars(select(Person.id).order_by(Person.id)))
    consented = [pid for pid, p in zip(ids, persons, strict=True) if p["consent_version"]]

    answers = []
    for pid in consented:
        situation = rng.choice(SITUATIONS)
        chosen = {
            "municipality": rng.choice(MUNICIPALITIES),
            "age_group": rng.choice(AGE_GROUPS),
            "situation": situation,
        }
        if situation == "unemployed":
            chosen["unemployment_duration"] = rng.choice(DURATIONS)
        answers += [
            {"person_id": pid, "dialog": "career_plan", "key": k, "value": json.dumps(v)}
            for k, v in chosen.items()
        ]
    await bulk(db, Answer, answers)

    requests = []
    for pid in rng.sample(ids, len(ids) // 4):
        created = moment(rng)
        claimed = created + timedelta(minutes=rng.randrange(5, 600)) if rng.random() < 0.9 else None
        closed = (
            claimed + timedelta(days=rng.randrange(1, 30))
            if claimed and rng.random() < 0.7
            else None
        )
        requests.append(
            {
                "person_id": pid,
                "status": "closed" if closed else ("claimed" if claimed else "new"),
                "language": "fi",
                "topic": "job_search",
                "contact_method": "chat",
                "municipality": rng.choice(MUNICIPALITIES),
                "age_group": rng.choice(AGE_GROUPS),
                "created_at": created,
                "announced_at": created,
                "last_activity_at": created,
                "claimed_at": claimed,
                "closed_at": closed,
                "outcome": rng.choice(OUTCOMES) if closed else None,
                "reannouncements": 0,
                "share_answers": False,
            }
        )  # fmt: skip
    await bulk(db, HandoffRequest, requests)

    signups = []
    for pid in rng.sample(consented, len(consented) // 2):
        item, _ = rng.choice(ITEMS)
        created = moment(rng)
        signups.append(
            {
                "person_id": pid,
                "item_id": item,
                "starts_at": created + timedelta(days=rng.randrange(1, 30)),
                "status": "active" if rng.random() < 0.85 else "cancelled",
                "created_at": created,
                "updated_at": created,
            }
        )
    await bulk(db, EventSignup, signups)
    async with db.read() as session:
        signup_ids = list(
            await session.scalars(
                select(EventSignup.id)
                .where(EventSignup.status == "active")
                .order_by(EventSignup.id)
            )
        )
    attended = [
        {"signup_id": sid, "marked_at": YEAR_START}
        for sid in rng.sample(signup_ids, len(signup_ids) * 2 // 3)
    ]
    await bulk(db, EventAttendance, attended)

    events = []

    def count(name: str, **dims: Any) -> None:
        dims.setdefault("municipality", rng.choice(MUNICIPALITIES))
        events.append({"name": name, "at": moment(rng), "dims": dims})

    for _ in range(people // 2):
        count("career_plan_completed", language="fi")
    for _ in range(people * 2):
        item, kind = rng.choice(ITEMS)
        count("recommendation_shown", item=item, kind=kind)
    for _ in range(len(signups)):
        item, kind = rng.choice(ITEMS)
        count("event_signup", item=item, kind=kind)
    for _ in range(people // 5):
        count("followup_answered", outcome=rng.choice(FOLLOWUP), helped=rng.randint(1, 5))
    await bulk(db, Event, events)
    return {
        "people": len(persons),
        "answers": len(answers),
        "requests": len(requests),
        "sign-ups": len(signups),
        "attended": len(attended),
        "counters": len(events),
    }


async def timed(app: App, first: date, last: date) -> tuple[float, str]:
    best = float("inf")
    text = ""
    for _ in range(3):
        started = time.perf_counter()
        report = await build_report(app, first, last, language="en")
        best = min(best, time.perf_counter() - started)
        text = to_text(report)
    return best, text


async def check(app: App) -> None:
    """The independent reader over every month, the year, and each municipality."""
    kinds = dict(ITEMS)
    periods = [(date(2026, m, 1), date(2026 + m // 12, m % 12 + 1, 1) - timedelta(days=1))
               for m in range(1, 13)] + [(date(2026, 1, 1), date(2026, 12, 31))]  # fmt: skip
    reports = found = hidden = protecting = withheld = 0
    built = checked = 0.0
    for first, last in periods:
        for place in [None, *MUNICIPALITIES]:
            started = time.perf_counter()
            report = await build_report(app, first, last, language="en", municipality=place)
            built += time.perf_counter() - started
            started = time.perf_counter()
            solved = derivable(json.loads(to_json(report)), kinds)
            checked += time.perf_counter() - started
            reports += 1
            found += len(solved)
            for key in solved:
                print(f"  derivable: {first}..{last} {place or 'all'} {key}")
            statuses = [f.status for s in report.sections for f in s.figures]
            hidden += sum(s is not None for s in statuses)
            protecting += statuses.count("protects")
            withheld += statuses.count("withheld")
    print(f"disclosure check: {reports} reports, {found} derivable hidden counts; "
          f"{hidden} hidden ({protecting} to protect a small one, {withheld} withheld); "
          f"building {built:.1f} s, checking {checked:.1f} s")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", help="an SQLAlchemy URL (default: a new SQLite file)")
    parser.add_argument(
        "--no-seed", action="store_true", help="time the report on --database as it is"
    )
    parser.add_argument("--no-check", action="store_true", help="skip the disclosure check")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="urapolku-report-bench-"))
    url = args.database or f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}"
    db = Database(url)
    await upgrade(db)
    if not args.no_seed:
        started = time.perf_counter()
        sizes = await seed(db, args.people, random.Random(args.seed))
        print(f"seeded {url} in {time.perf_counter() - started:.1f} s: " + ", ".join(
            f"{n:,} {what}" for what, n in sizes.items()))  # fmt: skip

    settings = Settings(
        _env_file=None, database_url=url, dialogs_dir=ROOT / "dialogs", content_dir=ROOT / "content"
    )
    registry = build_registry()
    content = load_content(settings.dialogs_dir, settings.content_dir, default_language="fi",
                           actions=registry, sections=content_sections())  # fmt: skip
    app = App(settings=settings, db=db, content=content, actions=registry)
    month, _ = await timed(app, date(2026, 6, 1), date(2026, 6, 30))
    year, text = await timed(app, date(2026, 1, 1), date(2026, 12, 31))
    print(f"report, one month: {month * 1000:.0f} ms (best of 3)")
    print(f"report, whole year: {year * 1000:.0f} ms (best of 3); target < 2000 ms on SQLite")
    print()
    print(text)
    if not args.no_check:
        print()
        await check(app)
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
