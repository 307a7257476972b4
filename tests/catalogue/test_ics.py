"""Calendar files: RFC 5545 structure, CRLF, folding at 75 octets, escaping, time zones.

The output is read back with a tiny parser (unfold, split name/parameters/value, unescape)
so that the tests check what a calendar application would see.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.catalogue import HELSINKI, Item, events_ics, load_catalogue, next_occurrences, run_of
from bot.catalogue.ics import escape_text, event_ics, filename, fold

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=HELSINKI)


# --- a tiny RFC 5545 reader -------------------------------------------------------------------


def unfold(data: bytes) -> list[str]:
    text = data.decode("utf-8")
    assert text.endswith("\r\n")
    return text.replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")[:-1]


def split_line(line: str) -> tuple[str, dict[str, str], str]:
    """NAME;PARAM=VALUE;...:VALUE, with quoted parameter values that may hold ':;,'."""
    in_quotes = False
    for index, char in enumerate(line):
        if char == '"':
            in_quotes = not in_quotes
        elif char == ":" and not in_quotes:
            head, value = line[:index], line[index + 1 :]
            break
    else:  # pragma: no cover - a content line always has a colon
        raise AssertionError(f"no value in {line!r}")
    name, *params = head.split(";")
    return name, dict(p.split("=", 1) for p in params), value


def unescape(value: str) -> str:
    out, chars = [], iter(value)
    for char in chars:
        if char == "\\":
            nxt = next(chars)
            out.append("\n" if nxt in "nN" else nxt)
        else:
            out.append(char)
    return "".join(out)


def components(data: bytes) -> dict[str, list[dict[str, tuple[dict[str, str], str]]]]:
    """Properties per component name (VCALENDAR, VTIMEZONE, DAYLIGHT, VEVENT, VALARM, …)."""
    stack: list[tuple[str, dict[str, tuple[dict[str, str], str]]]] = []
    found: dict[str, list[dict[str, tuple[dict[str, str], str]]]] = {}
    for line in unfold(data):
        name, params, value = split_line(line)
        if name == "BEGIN":
            stack.append((value, {}))
        elif name == "END":
            component, props = stack.pop()
            assert component == value, f"END:{value} closes {component}"
            found.setdefault(component, []).append(props)
        else:
            assert stack, f"{name} outside a component"
            stack[-1][1][name] = (params, value)
    assert not stack
    return found


# --- tests ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def item() -> Item:
    found = load_catalogue(ROOT / "content" / "catalogue").get("duunitreffit")
    assert found is not None
    return found


def test_event_structure_and_times(item: Item) -> None:
    occurrence = next_occurrences(item, NOW, 1)[0]
    data = event_ics(item, occurrence, "en", now=NOW)
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    found = components(data)
    calendar = found["VCALENDAR"][0]
    assert calendar["VERSION"][1] == "2.0"
    assert "PRODID" in calendar
    assert found["VTIMEZONE"][0]["TZID"][1] == "Europe/Helsinki"
    assert found["DAYLIGHT"][0]["TZOFFSETTO"][1] == "+0300"
    assert found["STANDARD"][0]["TZOFFSETTO"][1] == "+0200"
    [event] = found["VEVENT"]
    assert event["DTSTART"] == ({"TZID": "Europe/Helsinki"}, "20270120T120000")
    assert event["DTEND"] == ({"TZID": "Europe/Helsinki"}, "20270120T150000")
    assert event["DTSTAMP"][1] == "20261201T070000Z"  # 09:00 in Helsinki is 07:00 UTC
    assert unescape(event["SUMMARY"][1]) == item.title.en
    assert unescape(event["LOCATION"][1]) == (
        "Rovaniemi Town Hall, Hallituskatu 7, 96100 Rovaniemi"
    )
    assert event["GEO"][1] == "66.499300;25.717600"
    assert event["URL"][1] == "https://www.rovaniemi.fi"
    description = unescape(event["DESCRIPTION"][1])
    assert description.startswith(item.summary.get("en") + "\n\n")
    assert description.endswith("City of Rovaniemi\nRovaniemen kaupunki\nhttps://www.rovaniemi.fi")
    assert "016 3221" not in description  # the project's 2017 switchboard is gone
    [alarm] = found["VALARM"]
    assert alarm["TRIGGER"][1] == "-P1D"
    assert alarm["ACTION"][1] == "DISPLAY"


def test_uid_is_stable_and_per_occurrence(item: Item) -> None:
    first, second = next_occurrences(item, NOW, 2)

    def uid(data: bytes) -> str:
        return components(data)["VEVENT"][0]["UID"][1]

    later = datetime(2026, 12, 24, tzinfo=UTC)
    assert uid(event_ics(item, first, "fi", now=NOW)) == uid(
        event_ics(item, first, "sv", now=later)
    )
    assert uid(event_ics(item, first, "fi", now=NOW)) == "duunitreffit-20270120T1200@urapolku.fi"
    assert uid(event_ics(item, second, "fi", now=NOW)) != uid(event_ics(item, first, "fi", now=NOW))
    assert uid(event_ics(item, first, "fi", now=NOW, uid_domain="example.org")).endswith(
        "@example.org"
    )
    assert filename(item, first) == "duunitreffit-20270120.ics"


def test_summer_time_stays_local(item: Item) -> None:
    summer = next_occurrences(item, datetime(2027, 5, 1, tzinfo=HELSINKI), 1)[0]
    event = components(event_ics(item, summer, "fi", now=NOW))["VEVENT"][0]
    assert event["DTSTART"][1] == "20270519T120000"  # not shifted by the +03:00 offset


def make_item(**overrides: object) -> Item:
    raw: dict[str, object] = {
        "id": "pitka-teksti",
        "kind": "info_session",
        "title": {"fi": "Tiedotustilaisuus; pitkä, hyvin pitkä otsikko \\ ja kenoviiva"},
        "summary": {"fi": "Rivi yksi,\nrivi kaksi; ja kolmas."},
        "description": {"fi": "Äänekäs öljyinen sää " * 12 + "🙂 loppu"},
        "organiser": 'Järjestäjä "Oy", Lohja',
        "contact": {"name": 'Maija "Mehiläinen", ohjaaja', "email": "info@example.fi"},
        "online": True,
        "languages": ["fi"],
        "topics": ["job_search"],
        "schedule": {"dates": ["2027-01-05 10:00"]},
        "duration_minutes": 60,
        "signup": {"mode": "link", "url": "https://example.fi/ilmoittaudu?x=1,2;3"},
    }
    raw.update(overrides)
    return Item.model_validate(raw)


def test_folding_is_utf8_aware_and_escaping_round_trips() -> None:
    special = make_item()
    occurrence = next_occurrences(special, NOW, 1)[0]
    data = event_ics(special, occurrence, "sv", now=NOW)
    physical = data.split(b"\r\n")[:-1]
    assert max(len(line) for line in physical) <= 75
    assert any(line.startswith(b" ") for line in physical)  # something was folded
    for line in physical:
        line.decode("utf-8")  # no character is cut in half
    event = components(data)["VEVENT"][0]
    assert unescape(event["SUMMARY"][1]) == special.title.fi  # sv missing: Finnish
    description = unescape(event["DESCRIPTION"][1])
    assert "Rivi yksi,\nrivi kaksi; ja kolmas." in description
    assert special.description is not None
    assert special.description.fi in description
    assert "LOCATION" not in event  # online only
    assert event["URL"][1] == "https://example.fi/ilmoittaudu?x=1,2;3"
    params, value = event["ORGANIZER"]
    assert params["CN"] == "\"Maija 'Mehiläinen', ohjaaja\""
    assert value == "mailto:info@example.fi"


def test_fold_and_escape_units() -> None:
    assert fold("A" * 75) == "A" * 75
    assert fold("A" * 76) == "A" * 75 + "\r\n " + "A"
    folded = fold("ä" * 80)  # 2 octets each
    assert [len(p.encode()) for p in folded.split("\r\n")] == [74, 75, 13]
    assert escape_text("a,b;c\\d\ne\r\nf") == "a\\,b\\;c\\\\d\\ne\\nf"
    assert unescape(escape_text("x,;\\\n")) == "x,;\\\n"


def test_naive_now_is_refused(item: Item) -> None:
    occurrence = next_occurrences(item, NOW, 1)[0]
    with pytest.raises(ValueError, match="timezone-aware"):
        event_ics(item, occurrence, "fi", now=datetime(2026, 12, 1))


def test_whole_course_run_in_one_file() -> None:
    catalogue = load_catalogue(ROOT / "content" / "catalogue")
    course = catalogue.get("duunikaverit-lohja")
    assert course is not None
    third = next_occurrences(course, NOW, 3)[2]
    meetings = run_of(course, third)
    assert [(m.session, m.sessions) for m in meetings] == [(n, 12) for n in range(1, 13)]
    found = components(events_ics(course, meetings, "fi", now=NOW))
    uids = [event["UID"][1] for event in found["VEVENT"]]
    assert len(uids) == len(set(uids)) == 12
    assert len(found["VTIMEZONE"]) == 1
