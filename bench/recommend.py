"""Benchmark: recommendations for 10,000 random profiles over a generated 2,000-item catalogue.

    .venv/bin/python bench/recommend.py [--items 2000] [--profiles 10000] [--seed 7]

Prints the one-off cost (building the catalogue and the recommender's indexes, the first
call that fills the occurrence cache) and then the time per profile: median, p99, mean and
max, and how many items each profile got. The target is a median of at most 2 ms.
Everything random comes from one seeded generator, so runs are comparable.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.catalogue.field_topics import load_field_topics
from bot.catalogue.recommend import Recommender, recommend
from bot.catalogue.schema import HELSINKI, Catalogue, Item
from bot.catalogue.tags import (
    AGE_GROUPS,
    DISMISS_REASONS,
    FIELDS,
    FORMS,
    HELP_WANTED,
    KINDS,
    LANGUAGES,
    MUNICIPALITIES,
    SITUATIONS,
    SLOT_KINDS,
    TOPICS,
    UNEMPLOYMENT_DURATIONS,
    WEEKDAYS,
)

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=HELSINKI)
TEXT = {"fi": "Tapahtuma", "sv": "Evenemang", "en": "Event"}
SUMMARY = {"fi": "Lyhyt kuvaus.", "sv": "Kort beskrivning.", "en": "A short description."}


def _schedule(rng: random.Random) -> dict[str, Any]:
    shape = rng.random()
    start = NOW.date() + timedelta(days=rng.randint(-60, 150))
    clock = f"{rng.randint(8, 17)}:{rng.choice(['00', '30'])}"
    if shape < 0.4:
        return {
            "weekly": {
                "weekday": rng.sample(WEEKDAYS[:5], rng.randint(1, 2)),
                "time": clock,
                "from": (start - timedelta(days=90)).isoformat(),
                "until": None if rng.random() < 0.5 else (start + timedelta(days=200)).isoformat(),
                "except": [(start + timedelta(days=7 * k)).isoformat() for k in range(2)],
            }
        }
    if shape < 0.7:
        runs = []
        for _ in range(rng.randint(1, 3)):
            end = start + timedelta(days=rng.randint(1, 20))
            runs.append(
                {
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "days": rng.sample(WEEKDAYS[:5], rng.randint(1, 5)),
                    "time": clock,
                    "open_entry": rng.random() < 0.2,
                }
            )
            start = end + timedelta(days=rng.randint(20, 60))
        return {"range": runs}
    dates = sorted(
        f"{(start + timedelta(days=rng.randint(0, 120))).isoformat()} {clock}"
        for _ in range(rng.randint(1, 4))
    )
    return {"dates": dates}


def make_catalogue(rng: random.Random, count: int) -> Catalogue:
    items = []
    for n in range(count):
        online = rng.random() < 0.2
        municipalities = (
            [] if online and rng.random() < 0.8 else rng.sample(MUNICIPALITIES, rng.randint(1, 2))
        )
        audience: dict[str, Any] = {}
        if rng.random() < 0.4:
            audience["age_groups"] = rng.sample(AGE_GROUPS, rng.randint(1, 2))
        if rng.random() < 0.3:
            audience["situations"] = rng.sample(SITUATIONS, rng.randint(1, 3))
        if rng.random() < 0.1:
            audience["unemployment"] = ["over_12m"]
        if rng.random() < 0.05:
            audience["international_students"] = True
        audience["strict"] = rng.random() < 0.1
        raw = {
            "id": f"item-{n:05d}",
            "kind": rng.choice(KINDS),
            "series": f"series-{n % 300}" if rng.random() < 0.5 else None,
            "title": TEXT,
            "summary": SUMMARY,
            "organiser": "Bench",
            "municipalities": municipalities,
            "online": online or not municipalities,
            "place": {"name": f"Place {n % 150}", "address": f"Katu {n % 150}"},
            "languages": rng.sample(LANGUAGES, rng.randint(1, 2)),
            "audience": audience,
            "topics": rng.sample(TOPICS, rng.randint(1, 4)),
            "fields": rng.sample(FIELDS, rng.randint(0, 3)),
            "schedule": _schedule(rng),
            "duration_minutes": rng.choice([60, 90, 120, 180, 240, 480]),
            "capacity": rng.choice([None, None, 12, 20, 60]),
            "signup": {"mode": "bot"},
        }
        if raw["kind"] in SLOT_KINDS and raw["capacity"] is not None:
            raw["capacity"] = 1  # a one-to-one slot holds one person
        items.append(Item.model_validate(raw))
    # the editors' field → topic map, as bundled (interests count through it)
    field_topics, _ = load_field_topics(ROOT / "content" / "field_topics.yaml")
    return Catalogue(tuple(items), field_topics=field_topics)


def _maybe(rng: random.Random, value: Any, p: float = 0.85) -> Any:
    return value if rng.random() < p else None


def make_profiles(rng: random.Random, count: int, item_ids: list[str]) -> list[dict[str, Any]]:
    profiles = []
    for _ in range(count):
        answers: dict[str, Any] = {
            "language": _maybe(rng, rng.choice(LANGUAGES), 0.95),
            "situation": _maybe(rng, rng.choice(SITUATIONS)),
            "unemployment_duration": _maybe(rng, rng.choice(UNEMPLOYMENT_DURATIONS), 0.5),
            "age_group": _maybe(rng, rng.choice(AGE_GROUPS)),
            "municipality": _maybe(rng, rng.choice([*MUNICIPALITIES, "other"])),
            "international_student": _maybe(rng, rng.choice(["yes", "no"]), 0.2),
            "interests": rng.sample(FIELDS, rng.randint(0, 3)),
            "help_wanted": rng.sample(HELP_WANTED, rng.randint(0, 3)),
            "preferred_form": rng.sample(FORMS, rng.randint(0, 2)),
        }
        if rng.random() < 0.1:
            answers["languages_read"] = rng.sample(LANGUAGES, 1)
        if rng.random() < 0.2:
            answers["_dismissed"] = {
                rng.choice(item_ids): rng.choice(DISMISS_REASONS) for _ in range(rng.randint(1, 3))
            }
        profiles.append({k: v for k, v in answers.items() if v is not None})
    return profiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    t0 = time.perf_counter()
    catalogue = make_catalogue(rng, args.items)
    t1 = time.perf_counter()
    ids = [item.id for item in catalogue.items]
    profiles = make_profiles(rng, args.profiles, ids)
    seats = {item.id: rng.randint(0, 60) for item in rng.sample(catalogue.items, len(ids) // 5)}
    t2 = time.perf_counter()
    Recommender(catalogue)  # a separate build, only to time it
    t3 = time.perf_counter()
    recommend(catalogue, {}, now=NOW)  # builds the shared recommender
    recommend(catalogue, {"municipality": "lohja"}, now=NOW)
    for municipality in MUNICIPALITIES:  # the first calls fill the occurrence cache
        recommend(catalogue, {"municipality": municipality}, now=NOW)
    t4 = time.perf_counter()

    times: list[float] = []
    counts: list[int] = []
    for answers in profiles:
        dismissed = answers.pop("_dismissed", None)
        start = time.perf_counter_ns()
        result = recommend(catalogue, answers, now=NOW, seats_taken=seats, dismissed=dismissed)
        times.append((time.perf_counter_ns() - start) / 1e6)
        counts.append(len(result))

    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"catalogue: {len(catalogue)} items (generated in {t1 - t0:.2f} s)")
    print(f"profiles:  {len(profiles)} (generated in {t2 - t1:.2f} s), seats taken on {len(seats)}")
    print(f"recommender build: {(t3 - t2) * 1000:.1f} ms; cache warm-up: {(t4 - t3) * 1000:.1f} ms")
    print(
        f"per profile: median {statistics.median(times):.3f} ms, p99 {p99:.3f} ms, "
        f"mean {statistics.fmean(times):.3f} ms, max {times[-1]:.3f} ms"
    )
    print(
        f"items per profile: mean {statistics.fmean(counts):.2f}, "
        f"none for {sum(1 for c in counts if c == 0)} profiles"
    )
    print(f"target median <= 2 ms: {'met' if statistics.median(times) <= 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
