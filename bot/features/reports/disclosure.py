"""Disclosure control of a report's counts: which cells are hidden, and why.

A report's counts are linked: a breakdown (by municipality, age group, language …) adds up to
a total that is shown, two breakdowns may share one total, and a count may be the sum of
counts nobody sees (sign-ups per item add up, kind by kind, to the sign-ups per kind). Hiding
only the small counts (1–4, *primary* suppression) is not enough: with the total and the other
cells shown, a single hidden cell is the difference. So, after the primary step, more cells
are hidden (*secondary* suppression) until no hidden count can be worked out from what is
shown.

What a reader knows is modelled exactly: every shown count; that a ``<5`` is 1–4; that a cell
hidden to protect another is 5 or more (zeros are never hidden, and 1–4 are ``<5``); that an
unshown sum (a *latent* cell) is at least 1 where it has data; and every link (:class:`Group`).
A hidden cell is *derivable* when every set of whole numbers that fits all that gives it the
same value. The check is an exact search over whole numbers (bound propagation over the
links, then branching), so it also catches the subtle cases: one ``<5`` next to a protecting
cell of exactly 5, or four ``<5`` cells under a total that is itself ``<5`` (each is then 1).

When nothing visible is left to hide in the links of a derivable cell, the breakdown's cells
are *withheld*: not listed at all (a listed cell tells that it is not zero).

Pure: no SQL, no aiogram; :mod:`.report` builds the cells and the groups from its figures.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

#: counts from 1 to SMALL - 1 are hidden
SMALL: Final = 5

#: why a cell is not shown
PRIMARY: Final = "small"  # 1–4: shown as <5
SECONDARY: Final = "protects"  # 5 or more, hidden so that a small cell cannot be derived
WITHHELD: Final = "withheld"  # not listed at all

Bounds = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Group:
    """``total`` is the sum of ``parts`` (cell keys; a key may be in several groups)."""

    total: str
    parts: tuple[str, ...]


def suppress(
    values: Mapping[str, int],
    groups: Sequence[Group],
    *,
    latent: Collection[str] = (),
) -> dict[str, str]:
    """The hidden cells of ``values`` with the reason of each (:data:`PRIMARY`,
    :data:`SECONDARY` or :data:`WITHHELD`). ``latent`` keys are never shown in any case (sums
    the report does not print); they are never in the result.

    Secondary cells are chosen smallest first: a visible non-zero part of a group of the
    derivable cell, else one of a group linked to it, else a visible total; and the check runs
    again until nothing is derivable. Deterministic: ties go by key."""
    hidden: dict[str, str] = {
        key: PRIMARY for key, n in values.items() if 0 < n < SMALL and key not in latent
    }
    active = [g for g in groups if g.parts]
    while True:
        pinned = derivable(values, active, hidden, latent=latent)
        if not pinned:
            return hidden
        cell = _protector(values, active, hidden, latent, pinned)
        if cell is not None:
            hidden[cell] = SECONDARY
            continue
        # nothing visible is left to hide: stop listing the cells of a pinned cell's groups
        # (all of them are hidden by now; a listed hidden cell tells that it is not zero)
        for group in _touching(active, pinned):
            for key in (group.total, *group.parts):
                if key not in latent:
                    hidden[key] = WITHHELD
        active = _live(active, hidden)


def derivable(
    values: Mapping[str, int],
    groups: Sequence[Group],
    hidden: Mapping[str, str],
    *,
    latent: Collection[str] = (),
) -> list[str]:
    """The hidden cells, and the latent cells of 1–4, whose value follows from what is
    shown, sorted by key. Withheld cells, and the groups that hold them, are unknown to the
    reader."""
    live = _live(groups, hidden)
    cells = {key for g in live for key in (g.total, *g.parts)}
    cap = 2 * sum(values.get(key, 0) for key in cells) + 2 * SMALL
    domains: dict[str, Bounds] = {}
    for key in cells:
        n = values.get(key, 0)
        reason = hidden.get(key)
        if key in latent:
            domains[key] = (min(n, 1), cap)
        elif reason == PRIMARY:
            domains[key] = (1, SMALL - 1)
        elif reason == SECONDARY:
            domains[key] = (SMALL, cap)
        else:
            domains[key] = (n, n)
    found = []
    for key in sorted(cells):
        if key not in latent and key not in hidden:
            continue
        n = values.get(key, 0)
        below = {**domains, key: (domains[key][0], n - 1)}
        above = {**domains, key: (n + 1, domains[key][1])}
        component = _component(live, key)
        members = {k for g in component for k in (g.total, *g.parts)}
        if not any(
            _feasible({k: bounds[k] for k in members}, component) for bounds in (below, above)
        ):
            found.append(key)
    # a latent cell that is worked out matters only when it is a small count
    return [key for key in found if key not in latent or 0 < values.get(key, 0) < SMALL]


# -- choosing a protecting cell ------------------------------------------------------------


def _live(groups: Iterable[Group], hidden: Mapping[str, str]) -> list[Group]:
    """The groups a reader can use: none with a withheld (unlisted) cell."""
    return [g for g in groups if not any(hidden.get(k) == WITHHELD for k in (g.total, *g.parts))]


def _touching(groups: Iterable[Group], keys: Collection[str]) -> list[Group]:
    return [g for g in groups if g.total in keys or any(p in keys for p in g.parts)]


def _protector(
    values: Mapping[str, int],
    groups: Sequence[Group],
    hidden: Mapping[str, str],
    latent: Collection[str],
    pinned: Sequence[str],
) -> str | None:
    def visible(keys: Iterable[str]) -> list[str]:
        return sorted(
            (k for k in keys if k not in hidden and k not in latent and values.get(k, 0) > 0),
            key=lambda k: (values[k], k),
        )

    near = _touching(groups, pinned)
    linked = _touching(groups, {k for g in near for k in (g.total, *g.parts)})
    for scope in (near, linked, _component_groups(groups, pinned)):
        parts = visible(p for g in scope for p in g.parts)
        if parts:
            return parts[0]
    for scope in (near, linked, _component_groups(groups, pinned)):
        totals = visible(g.total for g in scope)
        if totals:
            return totals[0]
    return None


def _component_groups(groups: Sequence[Group], keys: Iterable[str]) -> list[Group]:
    found: list[Group] = []
    for key in keys:
        found += [g for g in _component(groups, key) if g not in found]
    return found


def _component(groups: Sequence[Group], key: str) -> list[Group]:
    """The groups linked to ``key`` through shared cells."""
    seen: set[str] = {key}
    todo = [key]
    found: list[Group] = []
    while todo:
        cell = todo.pop()
        for group in groups:
            members = (group.total, *group.parts)
            if cell in members and group not in found:
                found.append(group)
                todo += [m for m in members if m not in seen]
                seen.update(members)
    return found


# -- the search over whole numbers ---------------------------------------------------------


def _propagate(domains: dict[str, Bounds], groups: Sequence[Group]) -> bool:
    """Narrow the bounds to a fixpoint; False if no solution fits."""
    changed = True
    while changed:
        changed = False
        for group in groups:
            low = sum(domains[p][0] for p in group.parts)
            high = sum(domains[p][1] for p in group.parts)
            t_low, t_high = domains[group.total]
            t_low, t_high = max(t_low, low), min(t_high, high)
            if t_low > t_high:
                return False
            if (t_low, t_high) != domains[group.total]:
                domains[group.total] = (t_low, t_high)
                changed = True
            for part in group.parts:
                p_low, p_high = domains[part]
                new = (max(p_low, t_low - (high - p_high)), min(p_high, t_high - (low - p_low)))
                if new[0] > new[1]:
                    return False
                if new != (p_low, p_high):
                    domains[part] = new
                    low += new[0] - p_low
                    high += new[1] - p_high
                    changed = True
    return True


def _feasible(domains: Mapping[str, Bounds], groups: Sequence[Group]) -> bool:
    """Whether whole numbers within ``domains`` satisfy every group (depth-first: propagate,
    then fix the narrowest open cell to its lowest value, or exclude that value)."""
    if any(low > high for low, high in domains.values()):
        return False
    work = dict(domains)
    if not _propagate(work, groups):
        return False
    open_cells = [k for k, (low, high) in work.items() if low < high]
    if not open_cells:
        return True
    key = min(open_cells, key=lambda k: (work[k][1] - work[k][0], k))
    low, high = work[key]
    middle = (low + 1 + high) // 2
    return any(
        _feasible({**work, key: bounds}, groups)
        for bounds in ((low, low), (low + 1, middle), (middle + 1, high))
    )
