"""Disclosure control: no hidden count of a report can be worked out from what it shows.

Seeded databases (the bench's generator, 60 and 400 people over 2026) are reported for several
months and the whole year, for all municipalities and for each one; an independent reader
(:mod:`.checker`) tries to solve every hidden count from each published report and must find
none. The rule itself is tested on small cases written out by hand.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from bot.app import App
from bot.features import build_registry
from bot.features.reports.chart import _bars
from bot.features.reports.disclosure import (
    PRIMARY,
    SECONDARY,
    WITHHELD,
    Group,
    derivable,
    suppress,
)
from bot.features.reports.report import Report, build_report, to_csv, to_json, to_text
from db import Database
from db.migrate import upgrade
from db.models import HandoffRequest
from tests.support import ROOT, app_on, make_settings

from .checker import derivable as solve


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()
KINDS: dict[str, str] = dict(BENCH.ITEMS)
PERIODS = [
    (date(2026, 1, 1), date(2026, 1, 31)),
    (date(2026, 3, 1), date(2026, 3, 31)),
    (date(2026, 6, 1), date(2026, 6, 30)),
    (date(2026, 10, 1), date(2026, 10, 31)),
    (date(2026, 1, 1), date(2026, 12, 31)),
]


# -- the rule on small cases ---------------------------------------------------------------


def test_one_hidden_cell_gets_a_partner() -> None:
    # the case: seven municipalities add up to 93 of 97, Vihti is 4
    values = {"active": 97, "lohja": 30, "raasepori": 20, "hanko": 15, "karkkila": 10,
              "rovaniemi": 8, "other": 10, "unknown": 0, "vihti": 4}  # fmt: skip
    group = Group("active", tuple(k for k in values if k != "active"))
    assert suppress(values, [group]) == {"vihti": PRIMARY, "rovaniemi": SECONDARY}


def test_two_small_cells_whose_sum_gives_them_away() -> None:
    # 4 + 4 = 8 is known from the total, and each is at most 4: both are 4
    values = {"t": 40, "a": 20, "b": 12, "c": 4, "d": 4}
    assert suppress(values, [Group("t", ("a", "b", "c", "d"))]) == {
        "c": PRIMARY,
        "d": PRIMARY,
        "b": SECONDARY,
    }


def test_a_partner_of_exactly_five_is_not_enough() -> None:
    # 1 and 5 hidden under 6 + 20: the hidden pair is 6, the x is at least 5, so <5 is 1
    values = {"t": 26, "a": 20, "b": 5, "c": 1}
    hidden = suppress(values, [Group("t", ("a", "b", "c"))])
    assert hidden == {"c": PRIMARY, "b": SECONDARY, "a": SECONDARY}
    # (and the x is then 5)
    only_b = {"c": PRIMARY, "b": SECONDARY}
    assert derivable(values, [Group("t", ("a", "b", "c"))], only_b) == ["b", "c"]


def test_breakdowns_sharing_a_hidden_total() -> None:
    # four people, four age groups: each is 1 and the total 4, even with everything <5
    values = {"active": 4, "a1": 1, "a2": 1, "a3": 1, "a4": 1, "fi": 3, "sv": 1}
    groups = [Group("active", ("a1", "a2", "a3", "a4")), Group("active", ("fi", "sv"))]
    hidden = suppress(values, groups)
    assert hidden == dict.fromkeys(values, WITHHELD)
    # the total of a group is protected too when nothing else is left
    values = {"t": 7, "a": 6, "b": 1}
    assert suppress(values, [Group("t", ("a", "b"))]) == {"b": PRIMARY, "a": SECONDARY}


def test_zeros_are_shown_and_never_chosen() -> None:
    values = {"t": 30, "a": 0, "b": 26, "c": 4}
    # the zero stays 0 and is never the partner: 26 is
    assert suppress(values, [Group("t", ("a", "b", "c"))]) == {"c": PRIMARY, "b": SECONDARY}


def test_items_of_a_kind_add_up_to_the_kind() -> None:
    values = {"item.a": 3, "item.b": 40, "item.c": 12, "kind.k": 55}
    hidden = suppress(values, [Group("kind.k", ("item.a", "item.b", "item.c"))])
    assert hidden == {"item.a": PRIMARY, "item.c": SECONDARY}


def test_an_item_under_two_kinds_links_them_through_unseen_cells() -> None:
    # item a was counted as kind k (2) and, after its kind changed, as kind m (30)
    values = {"item.a": 32, "item.b": 20, "kind.k": 22, "kind.m": 30, "a|k": 2, "a|m": 30}
    groups = [
        Group("item.a", ("a|k", "a|m")),
        Group("kind.k", ("a|k", "item.b")),
        Group("kind.m", ("a|m",)),
    ]
    hidden = suppress(values, groups, latent={"a|k", "a|m"})
    assert derivable(values, groups, hidden, latent={"a|k", "a|m"}) == []
    # a|k = item a − kind m = 2 and kind k = 2 + item b: the small unseen 2 is protected on
    # both sides (smallest part first, then the smallest totals)
    assert hidden == {"item.b": SECONDARY, "kind.k": SECONDARY, "item.a": SECONDARY}


# -- statistics other than counts ----------------------------------------------------------


async def _requests(db: Database, waits: list[int]) -> None:
    async with db.transaction() as session:
        for n, minutes in enumerate(waits):
            created = datetime(2026, 10, 5 + n, 9, tzinfo=UTC)
            session.add(
                HandoffRequest(language="fi", topic="job_search", contact_method="chat",
                               status="claimed", created_at=created, announced_at=created,
                               last_activity_at=created,
                               claimed_at=created + timedelta(minutes=minutes))
            )  # fmt: skip


async def test_no_median_from_fewer_than_five(database: Database, tmp_path: Path) -> None:
    app = app_on(make_settings(tmp_path, bundled=True), database, build_registry())
    october = (date(2026, 10, 1), date(2026, 10, 31))
    for waits in ([30], [30, 90], [10, 30, 60, 90]):
        await _requests(database, waits)
        report = await build_report(app, *october, language="en")
        [median] = [f for f in report.section("requests").figures if f.kind == "seconds"]
        assert median.public() is None
        assert "  Wait for a coach, median: –" in to_text(report).split("\n")
        async with database.transaction() as session:
            await session.execute(HandoffRequest.__table__.delete())
    await _requests(database, [10, 30, 60, 90, 120])
    report = await build_report(app, *october, language="en")
    assert "  Wait for a coach, median: 1 h 0 min" in to_text(report).split("\n")


# -- the brute-force reader over seeded databases ------------------------------------------


def _consistent(report: Report) -> None:
    """Text, CSV, JSON and the chart show each count the same way."""
    data = json.loads(to_json(report))
    shown = {f["key"]: f["value"] for s in data["sections"] for f in s["figures"]}
    rows = {r["key"]: r["value"] for r in csv.DictReader(io.StringIO(to_csv(report)))}
    text = to_text(report).split("\n")
    for section in report.sections:
        for figure in section.figures:
            if not figure.listed:
                assert figure.key not in shown
                assert figure.key not in rows
                continue
            public = figure.public()
            assert shown[figure.key] == public
            assert rows[figure.key] == ("" if public is None else str(public))
            if figure.kind == "count":
                assert f"  {figure.label}: {public}" in text
        for bar in _bars(section.figures):
            assert bar.listed


async def _seeded(people: int, tmp_path: Path) -> tuple[App, Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / f'{people}.sqlite3'}")
    await upgrade(db)
    await BENCH.seed(db, people, random.Random(people))
    return app_on(make_settings(tmp_path, bundled=True), db, build_registry()), db


@pytest.mark.parametrize("people", [60, 400])
async def test_no_hidden_count_can_be_worked_out(people: int, tmp_path: Path) -> None:
    app, db = await _seeded(people, tmp_path)
    try:
        found: list[str] = []
        hidden = secondary = 0
        for first, last in PERIODS:
            for place in [None, *BENCH.MUNICIPALITIES]:
                report = await build_report(app, first, last, language="fi", municipality=place)
                _consistent(report)
                found += [
                    f"{first}..{last} {place}: {key}"
                    for key in solve(json.loads(to_json(report)), KINDS)
                ]
                statuses = [f.status for s in report.sections for f in s.figures]
                hidden += sum(s is not None for s in statuses)
                secondary += statuses.count(SECONDARY)
        assert found == []
        # the check had something to check: small counts, and cells hidden to protect them
        assert hidden > 100
        assert secondary > 5
    finally:
        await db.dispose()


async def test_the_reader_finds_what_cell_by_cell_hiding_leaves(tmp_path: Path) -> None:
    """Without the secondary step the reader recovers counts (the check can fail)."""
    app, db = await _seeded(400, tmp_path)
    try:
        report = await build_report(app, date(2026, 3, 1), date(2026, 3, 31), language="fi")
        data = json.loads(to_json(report))
        for section in data["sections"]:
            for figure in section["figures"]:
                if figure["value"] == "x":
                    [real] = [
                        f.value
                        for s in report.sections
                        for f in s.figures
                        if f.key == figure["key"]
                    ]
                    figure["value"] = real
        assert solve(data, KINDS) != []
    finally:
        await db.dispose()
