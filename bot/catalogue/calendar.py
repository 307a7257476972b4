"""A calendar that knows Finland: public holidays and local times that do not exist.

The Finnish public holidays are worked out from the rules that fix them (:func:`public_holidays`),
so nobody types them in by hand every year. They include the two de-facto days off that offices
close for, Midsummer Eve (juhannusaatto) and Christmas Eve (jouluaatto). The tests hold them
against the ``holidays`` package, which the bot itself does not import: that package loads
every country's calendar and costs the running bot about 17 MB. Catalogue occurrences
(:mod:`bot.catalogue.schedule`) and the coaches' office hours
(:mod:`bot.features.handoff.office_hours`) skip these days unless told otherwise.

Finnish time moves an hour forward at 03:00 on the last Sunday of March (03:00-03:59 does not
exist that night) and back at 04:00 on the last Sunday of October (03:00-03:59 happens
twice). :func:`local_time_problem` says when a wall-clock time is one of those, so that
``urapolku check`` can refuse it instead of the bot guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Final, Literal
from zoneinfo import ZoneInfo

HELSINKI: Final = ZoneInfo("Europe/Helsinki")

#: "missing": the clock jumps over it; "ambiguous": the clock shows it twice.
TimeProblem = Literal["missing", "ambiguous"]


def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian algorithm (Meeus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _saturday_from(first: date) -> date:
    """The first Saturday on or after ``first``."""
    return first + timedelta(days=(5 - first.weekday()) % 7)


@lru_cache(maxsize=64)
def public_holidays(year: int) -> Mapping[date, str]:
    """The Finnish public holidays of ``year`` with their Finnish names (as the law has fixed
    them since 1991: Epiphany and Ascension Day back on their own days, Midsummer and All
    Saints' Day on the Saturday of their weeks)."""
    easter = easter_sunday(year)
    midsummer = _saturday_from(date(year, 6, 20))
    days = [
        (date(year, 1, 1), "Uudenvuodenpäivä"),
        (date(year, 1, 6), "Loppiainen"),
        (easter - timedelta(days=2), "Pitkäperjantai"),
        (easter, "Pääsiäispäivä"),
        (easter + timedelta(days=1), "Toinen pääsiäispäivä"),
        (date(year, 5, 1), "Vappu"),
        (easter + timedelta(days=39), "Helatorstai"),
        (easter + timedelta(days=49), "Helluntaipäivä"),
        (midsummer - timedelta(days=1), "Juhannusaatto"),
        (midsummer, "Juhannuspäivä"),
        (_saturday_from(date(year, 10, 31)), "Pyhäinpäivä"),
        (date(year, 12, 6), "Itsenäisyyspäivä"),
        (date(year, 12, 24), "Jouluaatto"),
        (date(year, 12, 25), "Joulupäivä"),
        (date(year, 12, 26), "Tapaninpäivä"),
    ]
    names: dict[date, list[str]] = {}
    for day, name in days:
        names.setdefault(day, []).append(name)  # Ascension Day can fall on May Day (2008)
    return {day: "; ".join(sorted(names[day])) for day in sorted(names)}


def holiday_name(day: date) -> str | None:
    """The Finnish name of the public holiday on ``day``, or None on an ordinary day."""
    return public_holidays(day.year).get(day)


def is_public_holiday(day: date) -> bool:
    return day in public_holidays(day.year)


def local_time_problem(day: date, clock: time, zone: ZoneInfo = HELSINKI) -> TimeProblem | None:
    """Whether ``clock`` on ``day`` is a time that does not exist or happens twice in ``zone``."""
    naive = datetime.combine(day, clock)
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        # Python gives the two readings different offsets both when the time is skipped and
        # when it repeats; a skipped time does not survive the round trip through UTC.
        back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        return "missing" if back != naive else "ambiguous"
    return None


def describe_time_problem(problem: TimeProblem, day: date, clock: time) -> str:
    """A sentence for editors about a bad local time."""
    when = f"{day.isoformat()} {clock.hour:02d}:{clock.minute:02d}"
    if problem == "missing":
        return (
            f"{when} does not exist in Finnish time: the clocks jump from 03:00 to 04:00 that night"
        )
    return (
        f"{when} happens twice in Finnish time: the clocks go back from 04:00 to 03:00 that night"
    )
