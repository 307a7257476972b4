"""Office hours and days off: the promise a person gets, and the clock of the coach group's
timers (re-announcements, silence reminders, the morning digest).

``content/office_hours.yaml``::

    version: 1
    timezone: Europe/Helsinki
    answer_within_hours: 4        # "a coach will answer within 4 working hours"
    reannounce_after_hours: 2     # an unclaimed request is announced again after 2 working hours
    remind_after_days: 3          # a claimed request silent for 3 working days reminds its coach
    digest_at: "08:15"            # the morning digest, on working days
    week:
      mon: "08:00-16:00"
      sat: closed
    public_holidays: true         # closed on Finnish public holidays (the default)
    closures:                     # local extra days off, on top of the public holidays
      2026-12-31: Uudenvuodenaatto

The Finnish public holidays (with Midsummer Eve and Christmas Eve) come from
:mod:`bot.catalogue.calendar`, for every year, so the file needs no yearly edit.
Working time passes only inside opening hours on working days (not on days off), so "two
working hours" after Friday 15:30 is Monday 09:30 when the office opens at 8 and closes at 16.
All datetimes given to and returned by :class:`OfficeHours` are timezone-aware.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.catalogue.calendar import is_public_holiday

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
#: how far the arithmetic looks ahead for an opening (a year of holidays would be a typo)
_MAX_DAYS = 400


class OfficeHoursFile(BaseModel):
    """The file format (validated with file:line errors by :mod:`bot.features.handoff.section`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    timezone: str = "Europe/Helsinki"
    answer_within_hours: int = Field(default=4, ge=1, le=100)
    reannounce_after_hours: float = Field(default=2, gt=0, le=100)
    remind_after_days: int = Field(default=3, ge=1, le=60)
    digest_at: str = "08:15"
    week: dict[Weekday, str]
    #: closed on the Finnish public holidays of every year
    public_holidays: bool = True
    #: local extra days off (a closing day between holidays, a training day)
    closures: dict[date, str] = Field(default_factory=dict)
    #: the old name of ``closures`` (files from before public holidays were built in)
    holidays: dict[date, str] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not a known time zone (e.g. Europe/Helsinki)") from None
        return value

    @field_validator("digest_at")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.match(value.strip()):
            raise ValueError('write the time as "HH:MM", e.g. "08:15"')
        return value.strip()

    @field_validator("week")
    @classmethod
    def _week(cls, value: dict[str, str]) -> dict[str, str]:
        for day, hours in value.items():
            text = str(hours).strip()
            if text == "closed":
                continue
            match = _HOURS.match(text)
            if not match:
                raise ValueError(f'{day}: write the hours as "08:00-16:00", or closed')
            start = int(match.group(1)) * 60 + int(match.group(2))
            end = int(match.group(3)) * 60 + int(match.group(4))
            if not start < end <= 24 * 60:
                raise ValueError(f"{day}: the office must open before it closes")
        if not any(str(h).strip() != "closed" for h in value.values()):
            raise ValueError("the office must be open on at least one day of the week")
        return value


def _parse_clock(text: str) -> time:
    hours, minutes = text.split(":")
    if hours == "24":
        return time.max
    return time(int(hours), int(minutes))


@dataclass(frozen=True, slots=True)
class OfficeHours:
    zone: ZoneInfo
    #: weekday (0 = Monday) -> (opens, closes) local times, or None when closed
    week: tuple[tuple[time, time] | None, ...]
    #: local extra days off, on top of the public holidays
    holidays: frozenset[date] = frozenset()
    #: closed on Finnish public holidays
    public_holidays: bool = True
    answer_within_hours: int = 4
    reannounce_after_hours: float = 2
    remind_after_days: int = 3
    digest_at: time = time(8, 15)

    @classmethod
    def from_file(cls, data: OfficeHoursFile) -> OfficeHours:
        week: list[tuple[time, time] | None] = []
        for day in WEEKDAYS:
            text = data.week.get(day, "closed").strip()
            if text == "closed":
                week.append(None)
            else:
                opens, closes = text.split("-")
                week.append((_parse_clock(opens), _parse_clock(closes)))
        return cls(
            zone=ZoneInfo(data.timezone),
            week=tuple(week),
            holidays=frozenset(data.closures) | frozenset(data.holidays),
            public_holidays=data.public_holidays,
            answer_within_hours=data.answer_within_hours,
            reannounce_after_hours=data.reannounce_after_hours,
            remind_after_days=data.remind_after_days,
            digest_at=_parse_clock(data.digest_at),
        )

    @classmethod
    def default(cls) -> OfficeHours:
        """Monday to Friday 8-16 in Helsinki, closed on public holidays (used when the file
        is missing)."""
        workday = (time(8), time(16))
        return cls(
            zone=ZoneInfo("Europe/Helsinki"),
            week=(workday, workday, workday, workday, workday, None, None),
        )

    # -- calendar ------------------------------------------------------------------------

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def is_working_day(self, day: date) -> bool:
        if day in self.holidays or (self.public_holidays and is_public_holiday(day)):
            return False
        return self.week[day.weekday()] is not None

    def opening(self, day: date) -> tuple[datetime, datetime] | None:
        """When the office is open on ``day`` (aware datetimes), or None."""
        if not self.is_working_day(day):
            return None
        hours = self.week[day.weekday()]
        assert hours is not None
        opens = datetime.combine(day, hours[0], tzinfo=self.zone)
        closes = (
            datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)
            if hours[1] == time.max
            else datetime.combine(day, hours[1], tzinfo=self.zone)
        )
        return opens, closes

    def is_open(self, moment: datetime) -> bool:
        window = self.opening(self.local(moment).date())
        return window is not None and window[0] <= moment < window[1]

    def next_opening(self, moment: datetime) -> datetime:
        """The start of the next opening at or after ``moment`` (``moment`` itself if open)."""
        day = self.local(moment).date()
        for offset in range(_MAX_DAYS):
            window = self.opening(day + timedelta(days=offset))
            if window is None or window[1] <= moment:
                continue
            return max(window[0], moment)
        raise ValueError("the office never opens in the next year; check office_hours.yaml")

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Working hours that passed from ``start`` to ``end`` (0 if ``end`` is earlier)."""
        if end <= start:
            return 0.0
        total = 0.0
        day = self.local(start).date()
        last = self.local(end).date()
        for _ in range(_MAX_DAYS + 1):
            if day > last:
                break
            window = self.opening(day)
            if window is not None:
                lo, hi = max(window[0], start), min(window[1], end)
                if hi > lo:
                    total += (hi.astimezone(UTC) - lo.astimezone(UTC)).total_seconds()
            day += timedelta(days=1)
        return total / 3600

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` working hours after ``start``."""
        left = timedelta(hours=hours)
        day = self.local(start).date()
        for _ in range(_MAX_DAYS):
            window = self.opening(day)
            if window is not None and window[1] > start:
                lo = max(window[0], start)
                available = window[1].astimezone(UTC) - lo.astimezone(UTC)
                if available >= left:
                    return (lo.astimezone(UTC) + left).astimezone(self.zone)
                left -= available
            day += timedelta(days=1)
        raise ValueError("the office never opens in the next year; check office_hours.yaml")

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days after the day of ``start``, up to and including the day of ``end``."""
        first = self.local(start).date()
        last = self.local(end).date()
        count = 0
        day = first + timedelta(days=1)
        while day <= last and count <= _MAX_DAYS:
            count += self.is_working_day(day)
            day += timedelta(days=1)
        return count

    def promises_hours(self, moment: datetime) -> bool:
        """True: promise "within N working hours" (open now, or opening later today);
        False: promise "on the next working day"."""
        if self.is_open(moment):
            return True
        window = self.opening(self.local(moment).date())
        return window is not None and moment < window[0]

    def digest_due(self, moment: datetime) -> bool:
        """It is a working day and the digest time has come."""
        local = self.local(moment)
        return self.is_working_day(local.date()) and local.time() >= self.digest_at
