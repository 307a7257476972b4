"""The catalogue format, as pydantic models, and the loaded :class:`Catalogue`.

One item of ``content/catalogue/*.yaml`` (see ``docs/CATALOGUE.md`` for the editor's view)::

    - id: duunikaverit-lohja
      kind: group_coaching
      title: {fi: DuuniKaverit, sv: DuuniKaverit, en: DuuniKaverit}
      summary: {fi: "...", sv: "...", en: "..."}
      organiser: Luksia
      municipalities: [lohja]
      place: {name: Luksia, address: Toivonkatu 4, postcode: "08100", city: Lohja}
      languages: [fi]
      audience: {age_groups: [50_plus]}
      topics: [job_search, cv_and_applications, peer_support]
      schedule:
        range: {start: 2027-01-11, end: 2027-01-29, days: [mon, tue, wed, thu], time: "9:00"}
      duration_minutes: 240
      capacity: 12
      signup: {mode: bot}
      confirmed: {by: Matti Editor, on: 2027-01-04}   # optional: None = "to be confirmed"
      on_holidays: false                                # optional: skipped on public holidays
      breaks: [{from: 2027-06-28, until: 2027-08-08}]   # optional pauses

Times are local Finnish time (Europe/Helsinki); the models turn every date and time into an
aware ``datetime`` so that nothing downstream has to guess a time zone. Editors' habits are
accepted where they are unambiguous: ``9:00`` and ``9.00`` for times, ``2.3.2027`` and
``2027-03-02`` for dates (YAML reads an unquoted ``10:00`` as the number 600, which is
turned back into ten o'clock).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from .calendar import is_public_holiday
from .tags import (
    AGE_GROUPS,
    KIND_FORMS,
    KINDS,
    SLOT_KINDS,
    AgeGroup,
    Form,
    Kind,
    Language,
    Municipality,
    SignupMode,
    Situation,
    Topic,
    UnemploymentDuration,
    Weekday,
    WorkField,
    from_yaml_number,
)

HELSINKI: Final = ZoneInfo("Europe/Helsinki")

#: Item ids travel in Telegram callback data (64 bytes), so they are short slugs.
ITEM_ID: Final = r"^[a-z0-9][a-z0-9_-]{1,31}$"
SLUG: Final = r"^[a-z0-9][a-z0-9_-]{0,31}$"
URL: Final = r"^https?://[^\s/$.?#][^\s]*$"
EMAIL: Final = r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"
PHONE: Final = r"^\+?[0-9][0-9 ()-]{4,20}$"
POSTCODE: Final = r"^[0-9]{5}$"

#: The longest course run (``range``) accepted; longer ones are better written as ``weekly``.
MAX_RANGE_DAYS: Final = 366


# --- lenient date and time parsing ------------------------------------------------------------

_TIME_RE = re.compile(r"^(?:klo\s*|kl\.?\s*)?([01]?[0-9]|2[0-3])[:.]([0-5][0-9])$", re.IGNORECASE)
_FI_DATE_RE = re.compile(r"^([0-3]?[0-9])\.([01]?[0-9])\.([0-9]{4})$")
_ISO_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_DATETIME_RE = re.compile(
    r"^(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-3]?[0-9]\.[01]?[0-9]\.[0-9]{4})"
    r"(?:[ T]+|\s+klo\s+|\s+kl\.?\s+)"
    r"(?P<time>[0-9]{1,2}[:.][0-9]{2})(?::00)?$",
    re.IGNORECASE,
)


def _parse_time(value: Any) -> Any:
    """``9:00``, ``09.00``, ``klo 9.00``; an int is YAML's reading of an unquoted ``10:00``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        # YAML 1.1 reads 10:00 as the base-60 number 600; 10 alone is not a time.
        if 60 <= value < 24 * 60:
            return time(value // 60, value % 60)
        raise ValueError("write the time as hours and minutes, for example 10:00")
    if isinstance(value, str):
        match = _TIME_RE.match(value.strip())
        if match:
            return time(int(match.group(1)), int(match.group(2)))
        raise ValueError(f"'{value}' is not a time; write it as hours and minutes, e.g. 10:00")
    return value


def _parse_date(value: Any) -> Any:
    """ISO dates (YAML already made them dates) and Finnish ``2.3.2027``."""
    if isinstance(value, datetime):
        raise ValueError("give only a date here, without a time, for example 2027-03-02")
    if isinstance(value, str):
        text = value.strip()
        match = _FI_DATE_RE.match(text)
        if match:
            day, month, year = (int(g) for g in match.groups())
            try:
                return date(year, month, day)
            except ValueError:
                raise ValueError(f"'{value}' is not a real date") from None
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"'{value}' is not a date; write it as 2027-03-02") from None
    return value


def _parse_datetime(value: Any) -> Any:
    """A date *with* a time: ``2027-03-02 10:00`` or ``2.3.2027 klo 10.00``."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        raise ValueError(f"'{value}' has no time; write it as {value.isoformat()} 10:00")
    if isinstance(value, str):
        text = value.strip()
        if _FI_DATE_RE.match(text) or _ISO_DATE_RE.match(text):
            raise ValueError(f"'{value}' has no time; write it as {text} 10:00")
        match = _DATETIME_RE.match(text)
        if match:
            day = _parse_date(match.group("date"))
            clock = _parse_time(match.group("time"))
            return datetime.combine(day, clock)
        try:
            return datetime.fromisoformat(text)  # also with a UTC offset: ...T08:00+00:00
        except ValueError:
            raise ValueError(
                f"'{value}' is not a date and time; write it as 2027-03-02 10:00"
            ) from None
    return value


def _to_helsinki(value: datetime) -> datetime:
    """Naive times are Finnish local time; aware ones are converted to it."""
    if value.tzinfo is None:
        return value.replace(tzinfo=HELSINKI)
    return value.astimezone(HELSINKI)


def _one_or_many(value: Any) -> Any:
    """``weekday: tue`` means ``weekday: [tue]``; a single block means a list of one."""
    if isinstance(value, str | dict):
        return [value]
    return value


def _age_groups(value: Any) -> Any:
    """``30_49`` unquoted in YAML is the number 3049."""
    if isinstance(value, list | tuple):
        return [from_yaml_number(v, AGE_GROUPS) for v in value]
    return value


ClockTime = Annotated[time, BeforeValidator(_parse_time)]
Day = Annotated[date, BeforeValidator(_parse_date)]
LocalDateTime = Annotated[datetime, BeforeValidator(_parse_datetime), AfterValidator(_to_helsinki)]


# --- models -----------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class _Localized(_Model):
    """Text in Finnish (required), Swedish and English."""

    fi: str
    sv: str | None = None
    en: str | None = None

    def get(self, language: str) -> str:
        """The text in ``language``, or the Finnish text when that language is missing."""
        text: str | None = getattr(self, language, None) if language in ("sv", "en") else None
        return text or self.fi

    def missing(self) -> list[str]:
        return [lang for lang in ("sv", "en") if getattr(self, lang) is None]


class Title(_Localized):
    fi: str = Field(min_length=2, max_length=80)
    sv: str | None = Field(default=None, min_length=2, max_length=80)
    en: str | None = Field(default=None, min_length=2, max_length=80)


class Summary(_Localized):
    """One or two sentences shown in lists; the whole card must fit a Telegram message."""

    fi: str = Field(min_length=5, max_length=300)
    sv: str | None = Field(default=None, min_length=5, max_length=300)
    en: str | None = Field(default=None, min_length=5, max_length=300)


class Description(_Localized):
    fi: str = Field(min_length=5, max_length=2000)
    sv: str | None = Field(default=None, min_length=5, max_length=2000)
    en: str | None = Field(default=None, min_length=5, max_length=2000)


class Name(_Localized):
    """A proper name that may differ by language; a plain string is the same in all."""

    fi: str = Field(min_length=1, max_length=120)
    sv: str | None = Field(default=None, max_length=120)
    en: str | None = Field(default=None, max_length=120)

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, data: Any) -> Any:
        return {"fi": data} if isinstance(data, str) else data


class Contact(_Model):
    name: str | None = Field(default=None, max_length=120)
    phone: str | None = Field(default=None, pattern=PHONE)
    email: str | None = Field(default=None, pattern=EMAIL)
    url: str | None = Field(default=None, pattern=URL)


class Place(_Model):
    name: Name
    address: str | None = Field(default=None, max_length=120)
    postcode: str | None = Field(default=None, pattern=POSTCODE)
    #: a plain string, or {fi: Tammisaari, sv: Ekenäs} where the town's name differs by language
    city: Name | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _both_coordinates(self) -> Place:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both 'lat' and 'lon', or neither")
        return self

    @property
    def in_finland(self) -> bool:
        """Rough box around Finland; a point outside it usually has lat and lon swapped."""
        if self.lat is None or self.lon is None:
            return True
        return 59.3 <= self.lat <= 70.2 and 19.0 <= self.lon <= 31.7


class Audience(_Model):
    """Who the item is meant for. Empty lists mean everyone.

    A rule, not a weight: an item is suggested only to people who said they belong to every
    group it names (an age group, a situation, how long out of work, an international
    student); browsing still shows it to others, marked "for people over 50". ``strict`` is
    accepted for older files and changes nothing: every audience is strict now.
    """

    age_groups: Annotated[tuple[AgeGroup, ...], BeforeValidator(_age_groups)] = ()
    situations: tuple[Situation, ...] = ()
    unemployment: tuple[UnemploymentDuration, ...] = ()
    international_students: bool = False
    strict: bool = False

    @property
    def everyone(self) -> bool:
        return not (
            self.age_groups or self.situations or self.unemployment or self.international_students
        )


class DateRange(_Model):
    """One run of a course: it meets on ``days`` at ``time`` from ``start`` to ``end``.

    People join at the start; with ``open_entry: true`` they may also join a run that has
    already begun (the next meeting is then offered).
    """

    start: Day
    end: Day
    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    time: ClockTime
    open_entry: bool = False

    @model_validator(mode="before")
    @classmethod
    def _single_day(cls, data: Any) -> Any:
        if isinstance(data, dict) and "days" in data:
            return {**data, "days": _one_or_many(data["days"])}
        return data

    @model_validator(mode="after")
    def _order(self) -> DateRange:
        if self.end < self.start:
            raise ValueError("'end' is before 'start'")
        if (self.end - self.start).days > MAX_RANGE_DAYS:
            raise ValueError(
                f"a course run may last at most {MAX_RANGE_DAYS} days; use 'weekly' instead"
            )
        if not self.days:
            raise ValueError("'days' needs at least one weekday")
        return self


class Weekly(_Model):
    """Every week on ``weekday`` (one or several) at ``time``, from a date on.

    ``until`` is optional so that a standing service never goes stale; ``except`` lists the
    dates it does not happen (holidays).
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, populate_by_name=True
    )

    weekday: tuple[Weekday, ...] = Field(min_length=1)
    time: ClockTime
    from_: Day = Field(alias="from")
    until: Day | None = None
    except_: tuple[Day, ...] = Field(default=(), alias="except")

    @model_validator(mode="before")
    @classmethod
    def _single_weekday(cls, data: Any) -> Any:
        if isinstance(data, dict) and "weekday" in data:
            return {**data, "weekday": _one_or_many(data["weekday"])}
        return data

    @model_validator(mode="after")
    def _order(self) -> Weekly:
        if self.until is not None and self.until < self.from_:
            raise ValueError("'until' is before 'from'")
        return self


class Schedule(_Model):
    """Exactly one of: one-off ``dates``, course runs (``range``), or ``weekly`` rules."""

    dates: tuple[LocalDateTime, ...] | None = None
    range: tuple[DateRange, ...] | None = None
    weekly: tuple[Weekly, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("dates", "range", "weekly"):
                if key in data:
                    data[key] = _one_or_many(data[key])
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> Schedule:
        given = [k for k in ("dates", "range", "weekly") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a schedule needs exactly one of: dates, range, weekly")
        if not getattr(self, given[0]):
            raise ValueError(f"'{given[0]}' is empty")
        return self


class Break(_Model):
    """A pause, e.g. a summer break: no occurrence from ``from`` to ``until`` (both included).

    In an item (``breaks:``) it pauses that item. In a catalogue file (the top-level
    ``breaks:``) it pauses every item of the catalogue, or only the ``series`` and ``items`` it
    names (see :class:`CatalogueBreak`).
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, populate_by_name=True
    )

    from_: Day = Field(alias="from")
    until: Day
    #: for editors: what the break is ("kesätauko")
    name: str | None = Field(default=None, max_length=80)
    #: True: the same days every year (the year of ``from`` and ``until`` does not matter)
    yearly: bool = False

    @model_validator(mode="after")
    def _order(self) -> Break:
        if self.until < self.from_ and not self.yearly:
            raise ValueError("'until' is before 'from'")
        return self

    def covers(self, day: date) -> bool:
        if not self.yearly:
            return self.from_ <= day <= self.until
        first = (self.from_.month, self.from_.day)
        last = (self.until.month, self.until.day)
        today = (day.month, day.day)
        if first <= last:
            return first <= today <= last
        return today >= first or today <= last  # over the new year


class CatalogueBreak(Break):
    """A break for the whole catalogue, or only for the ``series`` and ``items`` it names."""

    series: tuple[Annotated[str, Field(pattern=SLUG)], ...] = ()
    items: tuple[Annotated[str, Field(pattern=ITEM_ID)], ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("series", "items"):
                if key in data:
                    data[key] = _one_or_many(data[key])
        return data

    def applies_to(self, item: Item) -> bool:
        if not self.series and not self.items:
            return True
        return item.id in self.items or (item.series is not None and item.series in self.series)

    def as_break(self) -> Break:
        return Break(from_=self.from_, until=self.until, name=self.name, yearly=self.yearly)


class Confirmation(_Model):
    """Who checked an item's facts (dates, place, capacity, price) with the organiser, and
    when. An item without one is shown as "to be confirmed"."""

    by: str = Field(min_length=2, max_length=120)
    on: Day


class Signup(_Model):
    """How people sign up: in the bot, on a web page (``url``), or not at all."""

    mode: SignupMode = "none"
    url: str | None = Field(default=None, pattern=URL)

    @model_validator(mode="after")
    def _url(self) -> Signup:
        if self.mode == "link" and self.url is None:
            raise ValueError("sign-up by link needs a 'url'")
        return self


class Item(_Model):
    """One event, training or service in the catalogue."""

    id: str = Field(pattern=ITEM_ID)
    kind: Kind
    #: items that are the same service in several places or runs share a series id
    series: str | None = Field(default=None, pattern=SLUG)
    title: Title
    summary: Summary
    description: Description | None = None
    organiser: Name
    contact: Contact | None = None
    municipalities: tuple[Municipality, ...] = ()
    online: bool = False
    place: Place | None = None
    languages: tuple[Language, ...] = Field(min_length=1)
    audience: Audience = Audience()
    topics: tuple[Topic, ...] = Field(min_length=1)
    #: fields of work it is about; empty = any field
    fields: tuple[WorkField, ...] = ()
    schedule: Schedule
    duration_minutes: int = Field(ge=5, le=720)
    #: seats in all; None = no limit
    capacity: int | None = Field(default=None, ge=1)
    signup: Signup = Signup()
    #: True: it also happens on Finnish public holidays (skipped by default)
    on_holidays: bool = False
    #: pauses of this item (a summer break); catalogue-wide breaks are added when loading
    breaks: tuple[Break, ...] = ()
    #: who confirmed the facts with the organiser, and when; None = to be confirmed
    confirmed: Confirmation | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_to_one_slot(cls, data: Any) -> Any:
        """A one-to-one kind signed up in the bot holds one person per meeting."""
        if (
            isinstance(data, dict)
            and data.get("kind") in SLOT_KINDS
            and isinstance(data.get("signup"), dict)
            and data["signup"].get("mode") == "bot"
            and data.get("capacity") is None
        ):
            return {**data, "capacity": 1}
        return data

    @model_validator(mode="after")
    def _where(self) -> Item:
        if not self.municipalities and not self.online:
            raise ValueError("say where it is: 'municipalities: [...]', 'online: true', or both")
        if self.is_slot and self.capacity is not None and self.capacity > 1:
            raise ValueError(
                f"a {self.kind} signed up in the bot is a one-to-one slot for one person: "
                "write 'capacity: 1' (or leave it out), or choose a group kind"
            )
        return self

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed is not None

    def is_closed(self, day: date) -> bool:
        """No occurrence on ``day``: a public holiday (unless ``on_holidays``) or a break."""
        if not self.on_holidays and is_public_holiday(day):
            return True
        return any(pause.covers(day) for pause in self.breaks)

    @property
    def is_slot(self) -> bool:
        """A one-to-one slot: each meeting is booked by one person (:data:`SLOT_KINDS`)."""
        return self.kind in SLOT_KINDS and self.signup.mode == "bot"

    @property
    def forms(self) -> frozenset[Form]:
        """In person / online from where it is, group / one-to-one from its kind."""
        forms: set[Form] = set(KIND_FORMS[self.kind])
        if self.municipalities:
            forms.add("in_person")
        if self.online:
            forms.add("online")
        return frozenset(forms)


#: Field names per block of an item, for "did you mean" hints on misspelt keys.
ITEM_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "": tuple(Item.model_fields),
    "title": ("fi", "sv", "en"),
    "summary": ("fi", "sv", "en"),
    "description": ("fi", "sv", "en"),
    "organiser": ("fi", "sv", "en"),
    "contact": tuple(Contact.model_fields),
    "place": tuple(Place.model_fields),
    "audience": tuple(Audience.model_fields),
    "schedule": tuple(Schedule.model_fields),
    "signup": tuple(Signup.model_fields),
    "confirmed": tuple(Confirmation.model_fields),
    "breaks": ("from", "until", "name", "yearly"),
    "range": tuple(DateRange.model_fields),
    "weekly": ("weekday", "time", "from", "until", "except"),
}


# --- the loaded catalogue ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """Where an item is defined, for messages to editors."""

    file: str
    line: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass(frozen=True, eq=False)
class Catalogue:
    """The validated items of every catalogue file, in file and then item order.

    Immutable; a new content version is a new ``Catalogue``. The recommender's indexes are
    built once per catalogue (see :func:`bot.catalogue.recommend.recommender_for`).
    """

    items: tuple[Item, ...] = ()
    sources: Mapping[str, Source] = field(default_factory=dict)
    #: catalogue files' top-level ``breaks`` (already applied to the items they cover)
    breaks: tuple[CatalogueBreak, ...] = ()
    #: field of work -> the topics that help people interested in it, most useful first
    #: (``content/field_topics.yaml``; see :mod:`bot.catalogue.field_topics`)
    field_topics: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    _by_id: dict[str, Item] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {item.id: item for item in self.items})

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._by_id

    def get(self, item_id: str) -> Item | None:
        return self._by_id.get(item_id)

    def by_kind(self, kind: str) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.kind == kind)

    def in_municipality(
        self, municipality: str, *, include_online: bool = False
    ) -> tuple[Item, ...]:
        """Items held in ``municipality`` (and, if asked, those anyone can join online)."""
        return tuple(
            item
            for item in self.items
            if municipality in item.municipalities or (include_online and item.online)
        )

    def online(self) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.online)

    def series(self, series: str) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.series == series)

    def kinds(self) -> tuple[str, ...]:
        """The kinds that have items, in vocabulary order (for a browse menu)."""
        present = {item.kind for item in self.items}
        return tuple(kind for kind in KINDS if kind in present)
