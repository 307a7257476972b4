"""The texts of the events browser, cards and reminders: a list page, a card, where, for
whom, in which languages, the map link. Pure functions of catalogue items, what the database
said (seats free, a sign-up, a place in line) and a text lookup ``t``; the buttons are in
:mod:`.keyboards`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote_plus

from bot.catalogue.recommend import Profile, Reason, render_reasons
from bot.catalogue.recommend.profile import audience_gaps
from bot.catalogue.schedule import (
    Occurrence,
    iter_occurrences,
    next_occurrences,
    render_occurrence,
    render_schedule,
)
from bot.catalogue.schema import HELSINKI, Item, Place
from bot.catalogue.tags import WEEKDAYS, age_span, text_key
from db.repositories import SignupInfo

from . import callbacks as cb
from .callbacks import View

#: Telegram shows about this many characters of a button; longer labels are cut with "…"
MAX_LABEL: Final = 30

#: ``t(key, **params)`` in the person's language
Texts = Callable[..., str]


def label(text: str, limit: int = MAX_LABEL) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def occurrence_at(item: Item, start: datetime) -> Occurrence | None:
    """The occurrence of ``item`` that starts at ``start``, if the schedule still has it."""
    found = next(iter_occurrences(item, start), None)
    return found if found is not None and found.start == start else None


def _town(place: Place, language: str) -> str:
    """ "08100 Lohja" (what of it is known), the town's name in ``language``."""
    city = place.city.get(language) if place.city is not None else None
    return " ".join(p for p in (place.postcode, city) if p)


def place_text(item: Item, language: str, t: Texts) -> str:
    """ "Luksia, Toivonkatu 4, 08100 Lohja"; "Hanko Library, Hanko (address to be confirmed)"
    when the place has no street address; the municipalities when there is no place; "Online" for an item held only
    online."""
    place = item.place
    if place is not None:
        parts = (place.name.get(language), place.address, _town(place, language))
        text = ", ".join(p for p in parts if p)
        return text if place.address else f"{text} {t('catalogue.address_unconfirmed')}"
    if item.municipalities:
        return ", ".join(t(text_key("municipality", m)) for m in item.municipalities)
    return t("catalogue.online")


def map_url(place: Place, language: str) -> str | None:
    """OpenStreetMap at the place's coordinates, or a search for its address."""
    if place.lat is not None and place.lon is not None:
        lat, lon = f"{place.lat:.5f}", f"{place.lon:.5f}"
        return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=16/{lat}/{lon}"
    parts = [p for p in (place.address, _town(place, language)) if p] or [place.name.get(language)]
    query = ", ".join([*parts, "Finland"])
    return f"https://www.openstreetmap.org/search?query={quote_plus(query)}"


def audience_text(item: Item, t: Texts) -> str:
    audience = item.audience
    if audience.everyone:
        return t("catalogue.audience.everyone")
    parts = [t(f"catalogue.audience.age_group.{a}") for a in audience.age_groups]
    parts += [t(f"catalogue.audience.situation.{s}") for s in audience.situations]
    if "over_12m" in audience.unemployment:
        parts.append(t("catalogue.audience.long_term_unemployed"))
    if audience.international_students:
        parts.append(t("catalogue.audience.international_students"))
    if not parts:
        return t("catalogue.audience.everyone")
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + t("catalogue.audience.and") + parts[-1]


def languages_text(item: Item, t: Texts) -> str:
    return ", ".join(t(text_key("language", lang)) for lang in item.languages)


def _short_date(day: date, t: Texts) -> str:
    return t(
        "catalogue.when.short_date",
        weekday=t(text_key("weekday", WEEKDAYS[day.weekday()])),
        day=day.day,
        month=day.month,
        month_name=t(text_key("month", str(day.month))),
        year=day.year,
    )


def excluded_by(item: Item, person: Profile) -> tuple[str, ...]:
    """The groups the item is meant for that the person said they are not in (``age``,
    ``situation``, ``unemployment``, ``international``): their answer is known and does not
    fit. Such an item is never suggested to them; browsing marks it and sign-up asks first."""
    known = {
        "age": person.age_group is not None,
        "situation": person.situation is not None,
        "unemployment": person.situation is not None,
        "international": person.international_student is not None,
    }
    return tuple(gap for gap in audience_gaps(item.audience, person) if known[gap])


def audience_marking(item: Item, person: Profile, t: Texts) -> str | None:
    """ "👥 For people over 50": the first group the item is meant for that the person said
    they are not in (:func:`excluded_by`); None when nothing they said excludes them."""
    gaps = excluded_by(item, person)
    if not gaps:
        return None
    audience, gap = item.audience, gaps[0]
    names: list[str]
    if gap == "age":
        names = [t(text_key("audience.only_age", span)) for span in age_span(audience.age_groups)]
    elif gap == "situation":
        names = [t(text_key("audience.only_situation", s)) for s in audience.situations]
    elif gap == "unemployment":
        names = [t(text_key("audience.only_unemployment", u)) for u in audience.unemployment]
    else:
        names = [t("catalogue.audience.only_international")]
    return t("catalogue.audience.only", whom=t("catalogue.audience.only_or").join(names))


def language_marking(item: Item, language: str, t: Texts) -> str | None:
    """ "🗣 In Finnish": the item's languages when it is not held in the person's own
    (``fi-selko`` reads Finnish); None when it is."""
    own = language.split("-", 1)[0]
    if own in item.languages:
        return None
    names = t("catalogue.audience.only_or").join(
        t(text_key("language", lang)) for lang in item.languages
    )
    return t("catalogue.held_in", languages=names)


def lookup(t: Texts) -> Callable[[str, Any], str]:
    """The catalogue's ``TextLookup`` (key and a mapping of parameters) over ``t``."""

    def find(key: str, params: Any) -> str:
        return t(key, **dict(params))

    return find


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a list."""

    item: Item
    occurrence: Occurrence
    reasons: tuple[Reason, ...] = ()
    signup: SignupInfo | None = None
    position: int | None = None


def short_start(start: datetime, t: Texts) -> str:
    """ "19.1.2027 klo 9.00": a start short enough for a button."""
    local = start.astimezone(HELSINKI)
    day = t(
        "catalogue.when.short_date",
        weekday=t(text_key("weekday", WEEKDAYS[local.weekday()])),
        day=str(local.day),
        month=str(local.month),
        month_name=t(text_key("month", str(local.month))),
        year=str(local.year),
    )
    clock = t("catalogue.when.time", hour=str(local.hour), minute=f"{local.minute:02d}")
    return t("catalogue.when.at", date=day, time=clock)


def when(occurrence: Occurrence, t: Texts) -> str:
    return render_occurrence(occurrence, lookup(t))


def places_text(free: int | None, t: Texts) -> str | None:
    """ "Places left: 3" or "Full" for items with a capacity (``free``: None without one)."""
    if free is None:
        return None
    if free == 0:
        return t("catalogue.capacity.full")
    return t("catalogue.capacity.free", free=free)


def heading(view: View, t: Texts) -> str:
    if view.code == cb.FOR_YOU:
        return t("recommend.title")
    if view.code == cb.BY_KIND:
        return t("events.list.kind", kind=t(text_key("kind", view.value or "")))
    if view.code == cb.BY_PLACE:
        name = t(text_key("municipality", view.value or ""))
        return t("events.list.place", municipality=name)
    return t(
        {cb.THIS_WEEK: "events.list.this_week", cb.ONLINE: "events.list.online"}.get(
            view.code, "events.list.my_signups"
        )
    )


def entry_text(
    number: int,
    entry: Entry,
    language: str,
    t: Texts,
    *,
    free: int | None,
    person: Profile | None = None,
) -> str:
    """One line of a list; ``free``: seats free at its occurrence (None: no limit). With
    ``person``, an item meant for others says so, and one not held in the person's language
    says which it is held in."""
    lines = [f"{number}. {entry.item.title.get(language)}", when(entry.occurrence, t)]
    if not entry.item.is_confirmed:
        lines.append(t("catalogue.unconfirmed"))
    if person is not None:
        lines += [
            mark
            for mark in (
                audience_marking(entry.item, person, t),
                language_marking(entry.item, language, t),
            )
            if mark
        ]
    if entry.signup is not None:
        lines.append(
            t("events.list.waiting", position=entry.position)
            if entry.signup.waiting
            else t("events.list.seat")
        )
    else:
        places = places_text(free, t)
        if places:
            lines.append(places)
    reasons = render_reasons(entry.reasons, lookup(t))
    if reasons:
        lines.append(reasons)
    return "\n".join(lines)


def list_text(view: View, lines: Sequence[str], page: int, pages: int, t: Texts) -> str:
    """A page of a list: its heading, its lines (``entry_text``), and which page it is."""
    if not lines:
        empty = {cb.FOR_YOU: "recommend.none", cb.MINE: "events.list.no_signups"}
        return t(empty.get(view.code, "events.list.empty"))
    blocks = [heading(view, t), *lines]
    if pages > 1:
        blocks.append(t("events.list.page", page=page + 1, pages=pages))
    return "\n\n".join(blocks)


def card_text(
    item: Item,
    language: str,
    t: Texts,
    *,
    occurrence: Occurrence | None,
    signup: SignupInfo | None,
    free: int | None,
    position: int | None,
    note: str | None = None,
    person: Profile | None = None,
) -> str:
    """An item's card, about ``occurrence`` (the person's ``signup`` there, if any, and their
    ``position`` in line when waiting); ``note`` goes first. With ``person``, an item meant
    for others says so right under its title."""
    lines = [note, ""] if note else []
    marking = audience_marking(item, person, t) if person is not None else None
    kind = t(text_key("kind", item.kind))
    lines += [
        item.title.get(language),
        f"{kind} · {item.organiser.get(language)}",
        *([marking] if marking else []),
        "",
        item.summary.get(language),
        "",
    ]
    if item.confirmed is None:
        lines += [t("catalogue.unconfirmed"), ""]
    if occurrence is None:
        lines.append(t("events.card.no_dates"))
    else:
        lines.append(t("events.card.when", when=when(occurrence, t)))
        schedule = render_schedule(item.schedule, lookup(t))
        if schedule:
            lines.append(t("events.card.schedule", schedule=schedule))
        elif signup is None:
            later = next_occurrences(item, occurrence.start + timedelta(minutes=1), limit=2)
            if later:
                dates = ", ".join(when(o, t) for o in later)
                lines.append(t("events.card.later", dates=dates))
    if item.place is not None or item.municipalities:
        lines.append(t("events.card.where", where=place_text(item, language, t)))
    if item.online:
        lines.append(t("events.card.online"))
    lines.append(t("events.card.for_whom", audience=audience_text(item, t)))
    lines.append(t("events.card.languages", languages=languages_text(item, t)))
    if item.confirmed is not None:
        lines.append(t("catalogue.confirmed", date=_short_date(item.confirmed.on, t)))
    places = places_text(free, t)
    if item.signup.mode == "none":
        places = t("catalogue.signup.none")
    if places and signup is None:
        lines.append(t("events.card.places", places=places))
    if signup is not None and signup.active:
        lines.append(t("events.card.seated"))
    elif signup is not None:
        lines.append(t("events.card.waiting", position=position))
    return "\n".join(lines).strip()
