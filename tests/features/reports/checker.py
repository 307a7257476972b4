"""A reader who tries to work out the hidden counts of a report from what it shows.

Independent of :mod:`bot.features.reports.disclosure` (no code shared): it reads the report as
published (its JSON) and knows what any reader can know — every shown count; that ``<5`` is
1–4; that ``x`` is 5 or more (zeros are shown, small counts are ``<5``); which sums link the
counts (each breakdown of the people reached adds up to the active ones, attendance by item to
its total, follow-up outcomes to the answers, the items of a kind to that kind's sign-ups — the
catalogue tells every item's kind); and the orderings (new ≤ active, a target group ≤ the
participants, claimed ≤ requests). Unlisted (withheld) counts are unknown, and a sum with one
of them in it tells nothing.

For every sum with its total it enumerates, total by total, every whole-number filling of the
hidden cells (``<5`` cells each 1–4, ``x`` cells each 5 or more) that gives that total, and
collects the values each hidden cell takes; a hidden cell with only one possible value is
*derivable*. Breakdowns sharing a total are solved together (a total is possible only if
every breakdown can fill it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SMALL = range(1, 5)
LOW, PROTECTED = "<5", "x"


@dataclass
class Cell:
    key: str
    shown: Any  # an int, "<5", "x"

    @property
    def hidden(self) -> bool:
        return self.shown in (LOW, PROTECTED)


@dataclass
class Values:
    """The values a hidden cell can take (a second one is enough to know it is not pinned)."""

    seen: set[int] = field(default_factory=set)
    many: bool = False

    def add(self, value: int) -> None:
        self.seen.add(value)

    def add_range(self, low: int, high: int) -> None:
        if high > low:
            self.many = True
        elif high == low:
            self.seen.add(low)

    @property
    def pinned(self) -> bool:
        return not self.many and len(self.seen) == 1


def _cells(report: Mapping[str, Any]) -> tuple[dict[str, Cell], set[str]]:
    cells: dict[str, Cell] = {}
    withheld: set[str] = set()
    for section in report["sections"]:
        if section.get("withheld"):
            withheld.add(section["key"])
        for figure in section["figures"]:
            if figure["kind"] == "count":
                cells[figure["key"]] = Cell(figure["key"], figure["value"])
    return cells, withheld


def _sums(report: Mapping[str, Any], kinds: Mapping[str, str]) -> dict[str, list[list[str]]]:
    """total key → the breakdowns (lists of part keys) that add up to it."""
    by_section = {
        s["key"]: [f["key"] for f in s["figures"] if f["kind"] == "count"]
        for s in report["sections"]
    }
    sums: dict[str, list[list[str]]] = {
        "reached.active": [
            by_section["municipality"],
            by_section["age_group"],
            by_section["language"],
        ],
        "attendance.attended_total": [
            [k for k in by_section["attendance"] if k != "attendance.attended_total"]
        ],
        "followup.answered": [[k for k in by_section["followup"] if k != "followup.answered"]],
    }
    for key in by_section["signups_kind"]:
        kind = key.split(".", 1)[1]
        sums[key] = [
            [k for k in by_section["signups_item"] if kinds.get(k.split(".", 1)[1]) == kind]
        ]
    return sums


def _reach(count: int) -> set[int]:
    """Every sum of ``count`` numbers of 1–4 (enumerated)."""
    sums = {0}
    for _ in range(count):
        sums = {s + v for s in sums for v in SMALL}
    return sums


def _fill(total: int, parts: list[Cell], values: dict[str, Values]) -> bool:
    """Every way the hidden ``parts`` can add up to ``total``; False if there is none."""
    rest = total - sum(c.shown for c in parts if not c.hidden)
    small = [c for c in parts if c.shown == LOW]
    protected = [c for c in parts if c.shown == PROTECTED]
    others = _reach(len(small) - 1) if small else set()
    possible = False
    for s in sorted(_reach(len(small))):
        left = rest - s
        if protected:
            if left < 5 * len(protected):
                continue
        elif left != 0:
            continue
        possible = True
        for cell in small:
            for v in SMALL:
                if s - v in others:
                    values[cell.key].add(v)
        if len(protected) == 1:
            values[protected[0].key].add(left)
        for cell in protected if len(protected) > 1 else []:
            values[cell.key].add_range(5, left - 5 * (len(protected) - 1))
    return possible


def _totals(total: Cell, breakdowns: list[list[Cell]]) -> range:
    if not total.hidden:
        return range(total.shown, total.shown + 1)
    if total.shown == LOW:
        return range(1, 5)
    # "x": at least 5; above the largest sum a breakdown can reach without its own "x"
    # cells, every larger total fills the same way, so this window shows every case
    top = max(
        sum(c.shown for c in parts if not c.hidden) + 4 * len(parts) + 5 for parts in breakdowns
    )
    return range(5, top + 10)


def derivable(report: Mapping[str, Any], kinds: Mapping[str, str]) -> list[str]:
    """The hidden counts of ``report`` (its JSON, parsed) that follow from what it shows.
    ``kinds``: item id → kind, as in the catalogue."""
    cells, withheld = _cells(report)
    values = {key: Values() for key, cell in cells.items() if cell.hidden}
    solved: set[str] = set()
    for total_key, breakdowns in _sums(report, kinds).items():
        total = cells.get(total_key)
        usable = [
            [cells[k] for k in parts]
            for parts in breakdowns
            if parts and not any(k.split(".")[0] in withheld for k in parts)
        ]
        if total is None or not usable:
            continue
        found: dict[str, Values] = {c.key: Values() for parts in usable for c in parts}
        for t in _totals(total, usable):
            trial = {key: Values() for key in found}
            if all(_fill(t, parts, trial) for parts in usable):
                if total.hidden:
                    values[total.key].add(t)
                for key, v in trial.items():
                    found[key].seen |= v.seen
                    found[key].many |= v.many
        for key, v in found.items():
            if key in values:
                assert key not in solved, f"{key} is in two sums: solve them together"
                values[key] = v
                solved.add(key)
    pinned = {key for key, v in values.items() if v.pinned}
    pinned |= _ordered(cells, values)
    return sorted(pinned)


ORDERINGS = [
    ("reached.new", "reached.active"),
    ("requests.claimed", "requests.requests"),
    *[
        (f"participants.{g}", "participants.participants")
        for g in ("over_50", "under_30", "long_term_unemployed", "recent_graduate")
    ],
]


def _bounds(cell: Cell, values: Mapping[str, Values]) -> tuple[int, float]:
    if not cell.hidden:
        return cell.shown, cell.shown
    v = values.get(cell.key)
    if v is not None and (v.seen and not v.many):
        return min(v.seen), max(v.seen)
    return (1, 4) if cell.shown == LOW else (5, float("inf"))


def _ordered(cells: Mapping[str, Cell], values: Mapping[str, Values]) -> set[str]:
    """Hidden cells pinned by ``smaller ≤ larger``."""
    pinned = set()
    for small_key, large_key in ORDERINGS:
        small, large = cells.get(small_key), cells.get(large_key)
        if small is None or large is None:
            continue
        s_low, s_high = _bounds(small, values)
        l_low, l_high = _bounds(large, values)
        if small.hidden and s_low == min(s_high, l_high):
            pinned.add(small.key)
        if large.hidden and max(l_low, s_low) == l_high:
            pinned.add(large.key)
    return pinned
