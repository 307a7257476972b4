"""A calendar that knows Finland: public holidays and local times that do not exist.

The Finnish public holidays come from the ``holidays`` package, so nobody types them in by
hand every year. They include the two de-facto days off that offices close for, Midsummer
Eve (juhannusaatto) and Christmas Eve (jouluaatto). Catalogue occurrences
(:mod:`bot.catalogue.schedule`) and the coaches' office hours
(:mod:`bot.features.handoff.office_hours`) skip these days unless told otherwise.

Finnish time moves an hour forward at 03:00 on the last Sunday of March (03:00-03:59 does not
exist that night) and back at 04:00 on the last Sunday of October (03:00-03:59 happens
twice). :func:`local_time_problem` says when a wall-clock time is one of those, so that
``urapolku check`` can refuse it instead of the bot guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Final, Literal
from zoneinfo import ZoneInfo

from holidays.countries.finland import Finland

HELSINKI: Final = ZoneInfo("Europe/Helsinki")

#: "missing": the clock jumps over it; "ambiguous": the clock shows it twice.
TimeProblem = Literal["missing", "ambiguous"]


@lru_cache(maxsize=64)
def public_holidays(year: int) -> Mapping[date, str]:
    """The Finnish public holidays of ``year`` with their Finnish names."""
    return dict(Finland(years=year, language="fi"))  # type: ignore[no-untyped-call]


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
