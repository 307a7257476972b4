"""Calendar files (RFC 5545 ``.ics``) for one occurrence of a catalogue item.

The file carries its own ``VTIMEZONE`` for Europe/Helsinki, so calendars that do not know the
zone still show the right local time. Lines end in CRLF and are folded at 75 octets without
splitting a UTF-8 character; text values are escaped (``\\``, ``;``, ``,`` and newlines).
The UID is stable (item id and start), so importing the file twice updates one event instead
of creating two. A display alarm rings one day before.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

from .schedule import Occurrence
from .schema import HELSINKI, Item

PRODID: Final = "-//Urapolku//Events and trainings//EN"
TZID: Final = "Europe/Helsinki"
LINE_OCTETS: Final = 75

#: Europe/Helsinki since 1983: EET (+02:00) in winter, EEST (+03:00) from the last Sunday of
#: March 03:00 to the last Sunday of October 04:00 local time (01:00 UTC, the EU rule).
VTIMEZONE: Final = (
    "BEGIN:VTIMEZONE",
    f"TZID:{TZID}",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0300",
    "TZNAME:EEST",
    "DTSTART:19700329T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0300",
    "TZOFFSETTO:+0200",
    "TZNAME:EET",
    "DTSTART:19701025T040000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
)


def escape_text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 3.3.11)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _param(value: str) -> str:
    """A parameter value: quoted when it contains ``:;,``; double quotes cannot be escaped."""
    value = value.replace('"', "'").replace("\r", " ").replace("\n", " ")
    return f'"{value}"' if any(c in value for c in ":;,") else value


def fold(line: str) -> str:
    """Fold one content line into physical lines of at most 75 octets, joined by CRLF + space.

    Continuation lines start with a space, which counts toward their 75 octets; a multi-byte
    UTF-8 character is never split.
    """
    if len(line.encode("utf-8")) <= LINE_OCTETS:
        return line
    parts: list[str] = []
    current: list[str] = []
    size = 0
    limit = LINE_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, LINE_OCTETS - 1
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)


def _local(moment: datetime) -> str:
    return moment.astimezone(HELSINKI).strftime("%Y%m%dT%H%M%S")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def uid(item: Item, occurrence: Occurrence, domain: str = "urapolku.fi") -> str:
    """Stable per item and occurrence start."""
    return f"{item.id}-{_local(occurrence.start)[:13]}@{domain}"


def filename(item: Item, occurrence: Occurrence) -> str:
    """A file name for sending the calendar file: ``duunikaverit-lohja-20270111.ics``."""
    return f"{item.id}-{_local(occurrence.start)[:8]}.ics"


def _location(item: Item, lang: str) -> str | None:
    place = item.place
    if place is None:
        return None
    city = place.city.get(lang) if place.city is not None else None
    town = " ".join(p for p in (place.postcode, city) if p)
    return ", ".join(p for p in (place.name.get(lang), place.address, town) if p)


def _description(item: Item, lang: str) -> str:
    paragraphs = [item.summary.get(lang)]
    if item.description is not None:
        paragraphs.append(item.description.get(lang))
    contact = item.contact
    who = [item.organiser.get(lang)]
    if contact is not None:
        who += [v for v in (contact.name, contact.phone, contact.email, contact.url) if v]
    paragraphs.append("\n".join(who))
    if item.signup.url:
        paragraphs.append(item.signup.url)
    return "\n\n".join(paragraphs)


def _vevent(
    item: Item, occurrence: Occurrence, lang: str, *, uid_domain: str, now: datetime
) -> list[str]:
    title = item.title.get(lang)
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid(item, occurrence, uid_domain)}",
        f"DTSTAMP:{_utc(now)}",
        f"DTSTART;TZID={TZID}:{_local(occurrence.start)}",
        f"DTEND;TZID={TZID}:{_local(occurrence.end)}",
        f"SUMMARY;LANGUAGE={lang}:{escape_text(title)}",
        f"DESCRIPTION;LANGUAGE={lang}:{escape_text(_description(item, lang))}",
    ]
    location = _location(item, lang)
    if location:
        lines.append(f"LOCATION;LANGUAGE={lang}:{escape_text(location)}")
    if item.place is not None and item.place.lat is not None and item.place.lon is not None:
        lines.append(f"GEO:{item.place.lat:.6f};{item.place.lon:.6f}")
    url = item.signup.url or (item.contact.url if item.contact else None)
    if url:
        lines.append(f"URL:{url}")
    if item.contact is not None and item.contact.email:
        name = item.contact.name or item.organiser.get(lang)
        lines.append(f"ORGANIZER;CN={_param(name)}:mailto:{item.contact.email}")
    lines += [
        "STATUS:CONFIRMED",
        "TRANSP:OPAQUE",
        "SEQUENCE:0",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        f"DESCRIPTION:{escape_text(title)}",
        "TRIGGER:-P1D",
        "END:VALARM",
        "END:VEVENT",
    ]
    return lines


def calendar_lines(
    item: Item,
    occurrences: Iterable[Occurrence],
    lang: str,
    *,
    uid_domain: str,
    now: datetime,
) -> list[str]:
    """The unfolded content lines of a VCALENDAR with one VEVENT per occurrence."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        *VTIMEZONE,
    ]
    for occurrence in occurrences:
        lines += _vevent(item, occurrence, lang, uid_domain=uid_domain, now=now)
    lines.append("END:VCALENDAR")
    return lines


def serialize(lines: Iterable[str]) -> bytes:
    """Folded, CRLF-terminated UTF-8."""
    return "".join(fold(line) + "\r\n" for line in lines).encode("utf-8")


def event_ics(
    item: Item,
    occurrence: Occurrence,
    lang: str,
    *,
    uid_domain: str = "urapolku.fi",
    now: datetime,
) -> bytes:
    """A calendar file for one occurrence of ``item``, its texts in ``lang`` (Finnish where
    that language is missing). ``now`` becomes DTSTAMP (in UTC)."""
    return events_ics(item, [occurrence], lang, uid_domain=uid_domain, now=now)


def events_ics(
    item: Item,
    occurrences: Iterable[Occurrence],
    lang: str,
    *,
    uid_domain: str = "urapolku.fi",
    now: datetime,
) -> bytes:
    """One calendar file with several occurrences, e.g. every meeting of a course run
    (:func:`bot.catalogue.schedule.run_of`)."""
    if now.tzinfo is None:
        raise ValueError("'now' must be timezone-aware")
    return serialize(calendar_lines(item, occurrences, lang, uid_domain=uid_domain, now=now))
