"""Pieces of text for the events browser, cards and reminders: where, for whom, in which
languages, the map link. Pure functions of a catalogue item and a text lookup."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote_plus

from bot.catalogue.schedule import Occurrence, iter_occurrences
from bot.catalogue.schema import Item, Place
from bot.catalogue.tags import text_key

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


def place_text(item: Item, language: str, t: Texts) -> str:
    """ "Luksia, Toivonkatu 4, 08100 Lohja"; the municipalities when there is no place;
    "Online" for an item held only online."""
    place = item.place
    if place is not None:
        town = " ".join(p for p in (place.postcode, place.city) if p)
        return ", ".join(p for p in (place.name.get(language), place.address, town) if p)
    if item.municipalities:
        return ", ".join(t(text_key("municipality", m)) for m in item.municipalities)
    return t("catalogue.online")


def map_url(place: Place, language: str) -> str | None:
    """OpenStreetMap at the place's coordinates, or a search for its address."""
    if place.lat is not None and place.lon is not None:
        lat, lon = f"{place.lat:.5f}", f"{place.lon:.5f}"
        return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=16/{lat}/{lon}"
    town = " ".join(p for p in (place.postcode, place.city) if p)
    parts = [p for p in (place.address, town) if p] or [place.name.get(language)]
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
    return ", ".join(parts) or t("catalogue.audience.everyone")


def languages_text(item: Item, t: Texts) -> str:
    return ", ".join(t(text_key("language", lang)) for lang in item.languages)


def lookup(t: Texts) -> Callable[[str, Any], str]:
    """The catalogue's ``TextLookup`` (key and a mapping of parameters) over ``t``."""

    def find(key: str, params: Any) -> str:
        return t(key, **dict(params))

    return find
