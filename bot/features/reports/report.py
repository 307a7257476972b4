"""Building a report (figures from :class:`db.repositories.reports.ReportRepository`, labels from the
content in the report's language) and writing it as text, CSV or JSON.

Privacy is decided once, here, when the report is built (:mod:`.disclosure`): each count is
shown, shown as ``<5`` (1–4), shown as ``x`` (hidden so that a ``<5`` cannot be worked out
from a total and the other counts) or withheld (a breakdown too small to list); a median or a
share needs at least 5 cases behind it. Text, CSV, JSON, the chart and ``/report`` all render
that one decision.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from bot.app import App
from bot.catalogue import HELSINKI
from bot.catalogue.schema import Catalogue
from bot.engine.schema import ChoiceStep
from db import Database
from db.repositories import TARGET_GROUPS, Period, ReportRepository

from .disclosure import PRIMARY, SMALL, WITHHELD, Group, suppress

#: how a hidden count is shown: 1–4, and a count hidden to protect a small one
HIDDEN: Final = "<5"
PROTECTED: Final = "x"

COUNT, SHARE, SECONDS = "count", "share", "seconds"

Counts = Mapping[str | None, int]


@dataclass(frozen=True, slots=True)
class Figure:
    key: str
    label: str
    value: int | float | None
    kind: str = COUNT
    #: None (shown), or why not: disclosure.PRIMARY, SECONDARY or WITHHELD
    status: str | None = None

    @property
    def hidden(self) -> bool:
        return self.status is not None

    @property
    def listed(self) -> bool:
        return self.status != WITHHELD

    def public(self) -> int | float | str | None:
        """The value as it may be shown: hidden counts as ``<5`` or ``x``, shares rounded,
        durations in minutes. None: not enough cases behind a statistic."""
        if self.status == PRIMARY:
            return HIDDEN
        if self.status is not None:
            return PROTECTED
        if self.kind == SHARE and self.value is not None:
            return round(float(self.value), 3)
        if self.kind == SECONDS and self.value is not None:
            return round(float(self.value) / 60, 1)  # minutes
        return self.value


@dataclass(slots=True)
class Section:
    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)

    @property
    def withheld(self) -> bool:
        """Some of its counts are not listed (too few to list without giving them away)."""
        return any(not f.listed for f in self.figures)

    @property
    def listed(self) -> list[Figure]:
        return [f for f in self.figures if f.listed]


@dataclass(slots=True)
class Report:
    language: str
    first_day: date
    last_day: date
    municipality: str | None
    title: str
    subtitle: str
    note: str
    sections: list[Section]
    #: render a text key in the report's language
    texts: Mapping[str, str] = field(default_factory=dict)

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


# -- the period ----------------------------------------------------------------------------


def last_full_month(today: date) -> tuple[date, date]:
    first_of_this = today.replace(day=1)
    last = first_of_this - timedelta(days=1)
    return last.replace(day=1), last


def period_of(first_day: date, last_day: date, municipality: str | None = None) -> Period:
    """Whole days in Finnish time, ``last_day`` included."""
    start = datetime.combine(first_day, time(0), tzinfo=HELSINKI)
    end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=HELSINKI)
    return Period(start, end, municipality)


# -- labels --------------------------------------------------------------------------------


class _Labels:
    def __init__(self, app: App, language: str) -> None:
        self.app = app
        self.language = language

    def t(self, key: str, **params: object) -> str:
        return self.app.t(key, self.language, **params)

    def option(self, answer_key: str, value: str | None) -> str:
        """An answer's option label as people saw it (e.g. ``lohja`` → Lohja)."""
        if value is None:
            return self.t("reports.unknown")
        for dialog in self.app.content.dialogs.dialogs.values():
            for step in dialog.steps:
                if isinstance(step, ChoiceStep) and step.save_as == answer_key:
                    for option in step.options:
                        if option.stored_value == value:
                            return self.app.content.texts.resolve(option.label, self.language)
        return value

    def item(self, item_id: str | None) -> str:
        catalogue = self.app.content.catalogue
        item = (
            catalogue.get(item_id)
            if isinstance(catalogue, Catalogue) and item_id is not None
            else None
        )
        return item.title.get(self.language) if item is not None else (item_id or "?")

    def known(self, key: str, fallback: str | None) -> str:
        texts = self.app.content.texts
        if fallback is None:
            return self.t("reports.unknown")
        return self.t(key) if texts.has(key, self.language) else fallback


def _ordered(counts: Mapping[str | None, int]) -> list[tuple[str | None, int]]:
    """Largest first; the unknown last."""
    return sorted(counts.items(), key=lambda kv: (kv[0] is None, -kv[1], str(kv[0])))


def _key(prefix: str, key: str | None) -> str:
    return f"{prefix}.{key if key is not None else 'unknown'}"


def _figures(prefix: str, counts: Mapping[str | None, int], label: Any) -> list[Figure]:
    return [Figure(_key(prefix, key), label(key), n) for key, n in _ordered(counts)]


def _breakdown(total: str, prefix: str, counts: Mapping[str | None, int]) -> Group:
    return Group(total, tuple(_key(prefix, key) for key in counts))


def _share(part: int, whole: int) -> float | None:
    """A share only from at least SMALL cases, and only when neither side of it is a small
    count (a share and its base would give that count away)."""
    if whole < SMALL or 0 < part < SMALL or 0 < whole - part < SMALL:
        return None
    return part / whole


def _protect(
    sections: list[Section], groups: list[Group], latent: Mapping[str, int]
) -> list[Section]:
    """Sections with each count's disclosure status (see :mod:`.disclosure`)."""
    values = {
        f.key: f.value
        for s in sections
        for f in s.figures
        if f.kind == COUNT and isinstance(f.value, int)
    }
    hidden = suppress({**values, **latent}, groups, latent=latent.keys())
    return [
        replace(s, figures=[replace(f, status=hidden.get(f.key)) for f in s.figures])
        for s in sections
    ]


# -- building ------------------------------------------------------------------------------


async def build_report(
    app: App,
    first_day: date,
    last_day: date,
    *,
    language: str,
    municipality: str | None = None,
    db: Database | None = None,
) -> Report:
    period = period_of(first_day, last_day, municipality)
    labels = _Labels(app, language)
    t = labels.t
    database = db or app.db
    async with database.read() as session:
        repo = ReportRepository(session)
        new = await repo.people_new(period)
        active = await repo.people_active(period)
        by_place = await repo.reached_by_answer(period, "municipality")
        by_age = await repo.reached_by_answer(period, "age_group")
        by_language = await repo.reached_by_language(period)
        participants, groups = await repo.participants(period)
        plans = await repo.count_events("career_plan_completed", period)
        shown = await repo.events_by("recommendation_shown", "item", period)
        signups = await repo.events_by_pair("event_signup", "item", "kind", period)
        attended = await repo.attended_by_item(period)
        made, claimed = await repo.requests(period)
        median = await repo.median_claim_seconds(period)
        closed = await repo.closed_by_outcome(period)
        outcomes = await repo.events_by("followup_answered", "outcome", period)
        scored, helped = await repo.followup_helped(period)

    signups_item: dict[str | None, int] = {}
    signups_kind: dict[str | None, int] = {}
    for (item_id, kind), n in signups.items():
        signups_item[item_id] = signups_item.get(item_id, 0) + n
        signups_kind[kind] = signups_kind.get(kind, 0) + n

    def f(key: str, value: int | float | None, kind: str = COUNT) -> Figure:
        return Figure(key, t(f"reports.figure.{key.split('.')[-1]}"), value, kind)

    sections = [
        Section(
            "reached",
            t("reports.section.reached"),
            [f("reached.new", new), f("reached.active", active)],
        ),
        Section(
            "municipality",
            t("reports.section.municipality"),
            _figures("municipality", by_place, lambda k: labels.option("municipality", k)),
        ),
        Section(
            "age_group",
            t("reports.section.age_group"),
            _figures("age_group", by_age, lambda k: labels.option("age_group", k)),
        ),
        Section(
            "language",
            t("reports.section.language"),
            _figures("language", by_language, lambda k: labels.known(f"reports.language.{k}", k)),
        ),
        Section(
            "participants",
            t("reports.section.participants"),
            [f("participants.participants", participants)]
            + [f(f"participants.{g}", groups[g]) for g in TARGET_GROUPS],
        ),
        Section(
            "career_plans", t("reports.section.career_plans"), [f("career_plans.completed", plans)]
        ),
        Section(
            "recommendations",
            t("reports.section.recommendations"),
            _figures("recommendations", shown, labels.item),
        ),
        Section(
            "signups_item",
            t("reports.section.signups_item"),
            _figures("signups_item", signups_item, labels.item),
        ),
        Section(
            "signups_kind",
            t("reports.section.signups_kind"),
            _figures(
                "signups_kind", signups_kind, lambda k: labels.known(f"catalogue.kind.{k}", k)
            ),
        ),
        Section(
            "attendance",
            t("reports.section.attendance"),
            [
                f("attendance.attended_total", sum(attended.values())),
                *_figures("attendance", attended, labels.item),
            ],
        ),
        Section(
            "requests",
            t("reports.section.requests"),
            [
                f("requests.requests", made),
                f("requests.claimed", claimed),
                f("requests.median_claim", median if claimed >= SMALL else None, SECONDS),
            ],
        ),
        Section(
            "closed",
            t("reports.section.closed"),
            _figures("closed", closed, lambda k: labels.known(f"coach.outcome.{k}", k)),
        ),
        Section(
            "followup",
            t("reports.section.followup"),
            [
                f("followup.answered", sum(outcomes.values())),
                *_figures("followup", outcomes, lambda k: labels.option("followup_outcome", k)),
                f("followup.helped", _share(helped, scored), SHARE),
            ],
        ),
    ]
    signup_groups, latent = _signup_links(signups)
    links = _groups(by_place, by_age, by_language, attended, outcomes) + signup_groups
    sections = _protect(sections, links, latent)
    place = (
        labels.option("municipality", municipality)
        if municipality
        else t("reports.all_municipalities")
    )
    return Report(
        language=language,
        first_day=first_day,
        last_day=last_day,
        municipality=municipality,
        title=t("reports.title"),
        subtitle=t(
            "reports.period",
            start=_day(first_day),
            end=_day(last_day),
            place=place,
        ),
        note=t("reports.note"),
        sections=sections,
        texts={
            "none": t("reports.none"),
            "not_enough": t("reports.not_enough"),
            "withheld": t("reports.withheld"),
            "duration": t("reports.duration"),
        },
    )


def _groups(
    by_place: Counts,
    by_age: Counts,
    by_language: Counts,
    attended: Counts,
    outcomes: Counts,
) -> list[Group]:
    """The sums a reader can check: each breakdown of the people reached adds up to the
    active ones, attendance by item to its total, follow-up outcomes to the answers."""
    return [
        _breakdown("reached.active", "municipality", by_place),
        _breakdown("reached.active", "age_group", by_age),
        _breakdown("reached.active", "language", by_language),
        _breakdown("attendance.attended_total", "attendance", attended),
        _breakdown("followup.answered", "followup", outcomes),
    ]


def _signup_links(
    signups: Mapping[tuple[str | None, str | None], int],
) -> tuple[list[Group], dict[str, int]]:
    """Sign-ups per item and per kind are two views of one table (item × kind): a reader who
    knows the catalogue knows which items are of which kind, so each kind's sign-ups are the
    sum of its items'. An item counted under several kinds (its kind changed) adds latent
    cells, its (item, kind) counts, which nobody sees but which link both views. Returns the
    groups and the latent cells' values."""
    kinds_of: dict[str | None, list[str | None]] = {}
    for item, kind in signups:
        kinds_of.setdefault(item, []).append(kind)
    parts: dict[str | None, list[str]] = {}
    latent: dict[str, int] = {}
    groups: list[Group] = []
    for item, kinds in kinds_of.items():
        if len(kinds) == 1:
            parts.setdefault(kinds[0], []).append(_key("signups_item", item))
            continue
        pairs = [f"signups_pair.{item or 'unknown'}|{kind or 'unknown'}" for kind in kinds]
        groups.append(Group(_key("signups_item", item), tuple(pairs)))
        for kind, pair in zip(kinds, pairs, strict=True):
            parts.setdefault(kind, []).append(pair)
            latent[pair] = signups[(item, kind)]
    groups += [Group(_key("signups_kind", kind), tuple(keys)) for kind, keys in parts.items()]
    return groups, latent


def _day(day: date) -> str:
    return f"{day.day}.{day.month}.{day.year}"


# -- writing -------------------------------------------------------------------------------


def _text_value(report: Report, figure: Figure) -> str:
    value = figure.public()
    if value is None:
        return report.texts["not_enough"]
    if isinstance(value, str):
        return value
    if figure.kind == SHARE:
        return f"{round(float(value) * 100)} %"
    if figure.kind == SECONDS:
        minutes = round(float(figure.value or 0) / 60)
        return report.texts["duration"].format(hours=minutes // 60, minutes=minutes % 60)
    return str(value)


def to_text(report: Report) -> str:
    lines = [report.title, report.subtitle, ""]
    for section in report.sections:
        lines.append(section.title)
        if not section.figures:
            lines.append(f"  {report.texts['none']}")
        for figure in section.listed:
            lines.append(f"  {figure.label}: {_text_value(report, figure)}")
        if section.withheld:
            lines.append(f"  {report.texts['withheld']}")
        lines.append("")
    lines.append(report.note)
    return "\n".join(lines)


def _rows(report: Report) -> Iterable[dict[str, Any]]:
    for section in report.sections:
        for figure in section.listed:
            yield {
                "section": section.key,
                "key": figure.key,
                "label": figure.label,
                "value": figure.public(),
                "kind": figure.kind,
            }
        if section.withheld:
            yield {
                "section": section.key,
                "key": f"{section.key}.{WITHHELD}",
                "label": report.texts["withheld"],
                "value": None,
                "kind": WITHHELD,
            }


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["section", "key", "label", "value", "kind"])
    writer.writeheader()
    for row in _rows(report):
        writer.writerow({**row, "value": "" if row["value"] is None else row["value"]})
    return out.getvalue()


def to_json(report: Report) -> str:
    data = {
        "title": report.title,
        "from": report.first_day.isoformat(),
        "to": report.last_day.isoformat(),
        "municipality": report.municipality,
        "language": report.language,
        "note": report.note,
        "sections": [
            {
                "key": s.key,
                "title": s.title,
                "figures": [
                    {"key": f.key, "label": f.label, "value": f.public(), "kind": f.kind}
                    for f in s.listed
                ],
                "withheld": s.withheld,
            }
            for s in report.sections
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2)


def render(report: Report, fmt: str) -> str:
    return {"text": to_text, "csv": to_csv, "json": to_json}[fmt](report)
