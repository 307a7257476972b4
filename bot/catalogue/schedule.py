"""When items happen: expanding schedules into concrete occurrences, in Finnish time.

Every datetime here is timezone-aware in Europe/Helsinki. Wall-clock times stay as written
across daylight-saving changes (a weekly 10:00 session is at 10:00 in March and in April);
durations are real elapsed minutes (computed in UTC), so an evening event that spans the
October change still lasts what ``duration_minutes`` says.

Three schedule shapes (see :class:`bot.catalogue.schema.Schedule`):

* ``dates`` — one-off meetings; each date is one occurrence.
* ``range`` — runs of a course; each meeting day is one occurrence, numbered
  ``session``/``sessions`` within its run. People join a run at its first meeting
  (:func:`next_joinable`), unless the run has ``open_entry``.
* ``weekly`` — standing services; never stale unless given an ``until``.

No shape has an occurrence on a day the item is closed (:meth:`Item.is_closed`): a Finnish
public holiday, unless the item says ``on_holidays: true``, or a day of one of its breaks
(its own, or the catalogue's that cover it). A course run's sessions are numbered over the
days it really meets.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from .schema import HELSINKI, DateRange, Item, Schedule, Weekly
from .tags import WEEKDAYS, text_key

#: A text lookup: key and parameters in, the finished text in the person's language out.
TextLookup = Callable[[str, Mapping[str, Any]], str]

_WEEKDAY_INDEX = {name: index for index, name in enumerate(WEEKDAYS)}


@dataclass(frozen=True, slots=True, order=True)
class Occurrence:
    """One meeting of an item. ``session`` of ``sessions`` for course runs, else 1 of 1.

    ``start`` and ``end`` share the Europe/Helsinki tzinfo, and Python subtracts such
    datetimes as wall-clock times: use :attr:`duration` for the real length.
    """

    start: datetime
    end: datetime
    session: int = 1
    sessions: int = 1

    @property
    def duration(self) -> timedelta:
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)


def local(day: date, clock: time) -> datetime:
    """``day`` at ``clock`` in Finnish local time."""
    return datetime.combine(day, clock, tzinfo=HELSINKI)


def _end(start: datetime, minutes: int) -> datetime:
    # Aware arithmetic in Python is wall-clock arithmetic; go through UTC for real minutes.
    return (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(HELSINKI)


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("pass a timezone-aware datetime (e.g. datetime.now(UTC))")
    return moment


def _first_on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def range_days(run: DateRange) -> list[date]:
    """The weekdays of one course run as written (holidays and breaks included)."""
    wanted = {_WEEKDAY_INDEX[d] for d in run.days}
    span = (run.end - run.start).days + 1
    days = (run.start + timedelta(days=n) for n in range(span))
    return [d for d in days if d.weekday() in wanted]


def meeting_days(item: Item, run: DateRange) -> list[date]:
    """The days one course run of ``item`` really meets: without holidays and breaks."""
    return [d for d in range_days(run) if not item.is_closed(d)]


def _dates(item: Item, after: datetime) -> Iterator[Occurrence]:
    for start in sorted(item.schedule.dates or ()):
        if start >= after and not item.is_closed(start.astimezone(HELSINKI).date()):
            yield Occurrence(start, _end(start, item.duration_minutes))


def _run(item: Item, run: DateRange, after: datetime) -> Iterator[Occurrence]:
    minutes = item.duration_minutes
    days = meeting_days(item, run)
    for number, day in enumerate(days, start=1):
        start = local(day, run.time)
        if start >= after:
            yield Occurrence(start, _end(start, minutes), number, len(days))


def _weekly_day(item: Item, rule: Weekly, weekday: int, after: datetime) -> Iterator[Occurrence]:
    minutes = item.duration_minutes
    skip = set(rule.except_)
    day = _first_on_or_after(max(rule.from_, after.astimezone(HELSINKI).date()), weekday)
    week = timedelta(days=7)
    while rule.until is None or day <= rule.until:
        if day not in skip and not item.is_closed(day):
            start = local(day, rule.time)
            if start >= after:
                yield Occurrence(start, _end(start, minutes))
        day += week


def iter_occurrences(item: Item, after: datetime) -> Iterator[Occurrence]:
    """All occurrences of ``item`` starting at or after ``after``, in time order.

    May be endless (a weekly rule without ``until``): take what you need with ``islice``.
    """
    after = _require_aware(after)
    schedule = item.schedule
    streams: list[Iterable[Occurrence]]
    if schedule.dates is not None:
        return _dates(item, after)
    if schedule.range is not None:
        streams = [_run(item, run, after) for run in schedule.range]
    else:
        streams = [
            _weekly_day(item, rule, _WEEKDAY_INDEX[day], after)
            for rule in schedule.weekly or ()
            for day in dict.fromkeys(rule.weekday)
        ]
    return _dedupe(heapq.merge(*streams))


def _dedupe(occurrences: Iterable[Occurrence]) -> Iterator[Occurrence]:
    last: datetime | None = None
    for occurrence in occurrences:
        if occurrence.start != last:
            yield occurrence
            last = occurrence.start


def next_occurrences(item: Item, after: datetime, limit: int = 5) -> list[Occurrence]:
    """The next ``limit`` occurrences of ``item`` starting at or after ``after``."""
    return list(itertools.islice(iter_occurrences(item, after), max(limit, 0)))


def next_joinable(item: Item, after: datetime) -> Occurrence | None:
    """The occurrence a person can still join: the next meeting, or for a course run that
    has begun (and has no ``open_entry``), the first meeting of a later run."""
    after = _require_aware(after)
    schedule = item.schedule
    if schedule.range is None:
        return next(iter_occurrences(item, after), None)
    best: Occurrence | None = None
    for run in schedule.range:
        days = meeting_days(item, run)
        if not days:
            continue
        if not run.open_entry and local(days[0], run.time) < after:
            continue  # meetings may still be ahead, but the one where people join is past
        found = next(_run(item, run, after), None)
        if found is not None and (best is None or found.start < best.start):
            best = found
    return best


def run_of(item: Item, occurrence: Occurrence) -> list[Occurrence]:
    """Every meeting of the course run ``occurrence`` belongs to (just itself for items
    that are not course runs): for a calendar file of the whole course."""
    day = occurrence.start.astimezone(HELSINKI).date()
    for run in item.schedule.range or ():
        if run.start <= day <= run.end:
            first = local(run.start, time(0, 0))
            return list(_run(item, run, first))
    return [occurrence]


def is_past(item: Item, now: datetime) -> bool:
    """True when no occurrence of ``item`` starts at or after ``now``."""
    return next(iter_occurrences(item, now), None) is None


def time_slots(schedule: Schedule) -> frozenset[tuple[int, int]]:
    """The (weekday, hour) pairs a schedule uses: a cheap "same time of week" test."""
    if schedule.dates is not None:
        return frozenset((d.weekday(), d.hour) for d in schedule.dates)
    if schedule.range is not None:
        return frozenset(
            (_WEEKDAY_INDEX[day], run.time.hour) for run in schedule.range for day in run.days
        )
    return frozenset(
        (_WEEKDAY_INDEX[day], rule.time.hour)
        for rule in schedule.weekly or ()
        for day in rule.weekday
    )


# --- rendering --------------------------------------------------------------------------------


def _clock(moment: time | datetime, t: TextLookup) -> str:
    return t("catalogue.when.time", {"hour": str(moment.hour), "minute": f"{moment.minute:02d}"})


def _date(day: date, t: TextLookup, key: str = "catalogue.when.date") -> str:
    return t(
        key,
        {
            "weekday": t(text_key("weekday", WEEKDAYS[day.weekday()]), {}),
            "day": str(day.day),
            "month": str(day.month),
            "month_name": t(text_key("month", str(day.month)), {}),
            "year": str(day.year),
        },
    )


def _join(parts: list[str], t: TextLookup) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + t("catalogue.when.list_and", {}) + parts[-1]


def render_occurrence(occurrence: Occurrence, t: TextLookup) -> str:
    """``tiistai 1.12.2026 klo 10.00–12.00`` (the format comes from the texts)."""
    start, end = occurrence.start.astimezone(HELSINKI), occurrence.end.astimezone(HELSINKI)
    if start.date() == end.date():
        text = t(
            "catalogue.when.same_day",
            {"date": _date(start.date(), t), "start": _clock(start, t), "end": _clock(end, t)},
        )
    else:
        text = t(
            "catalogue.when.days",
            {
                "start_date": _date(start.date(), t),
                "start": _clock(start, t),
                "end_date": _date(end.date(), t),
                "end": _clock(end, t),
            },
        )
    if occurrence.sessions > 1:
        session = t(
            "catalogue.when.session",
            {"session": str(occurrence.session), "sessions": str(occurrence.sessions)},
        )
        text = f"{text} ({session})"
    return text


def render_start(start: datetime, t: TextLookup) -> str:
    """``tiistai 1.12.2026 klo 10.00``: a start alone, for a date the schedule no longer has."""
    start = start.astimezone(HELSINKI)
    return t("catalogue.when.at", {"date": _date(start.date(), t), "time": _clock(start, t)})


def render_schedule(schedule: Schedule, t: TextLookup) -> str | None:
    """``joka tiistai klo 10.00`` for weekly rules, the dates of course runs; ``None`` for
    one-off dates (show :func:`render_occurrence` of the next ones instead)."""
    if schedule.weekly is not None:
        return "; ".join(
            t(
                "catalogue.when.weekly",
                {
                    "weekdays": _join(
                        [t(text_key("weekday", day), {}) for day in dict.fromkeys(rule.weekday)], t
                    ),
                    "time": _clock(rule.time, t),
                },
            )
            for rule in schedule.weekly
        )
    if schedule.range is not None:
        return "; ".join(
            t(
                "catalogue.when.range",
                {
                    "start": _date(run.start, t, "catalogue.when.short_date"),
                    "end": _date(run.end, t, "catalogue.when.short_date"),
                    "weekdays": _join(
                        [t(text_key("weekday", day), {}) for day in dict.fromkeys(run.days)], t
                    ),
                    "time": _clock(run.time, t),
                },
            )
            for run in schedule.range
        )
    return None
