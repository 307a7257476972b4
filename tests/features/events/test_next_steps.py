"""The next steps of the career plan name only items that are in the person's suggestions:
nothing meant for another age group, nothing in a language they do not read. Real updates
through the real dispatcher, on the bundled dialogs, content and catalogue, at a fixed time
(Tuesday 5 January 2027, 10:00 in Helsinki)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiogram.methods import SendMessage

from bot.catalogue import HELSINKI
from bot.telegram.offline import ChatClient
from tests.support import (
    CAREER_PLAN_ANSWERS,
    Harness,
    buttons_of,
    onboard,
)

NOW = datetime(2027, 1, 5, 10, 0, tzinfo=HELSINKI)


def sent(calls: list[Any]) -> list[SendMessage]:
    return [c for c in calls if isinstance(c, SendMessage)]


async def plan(person: ChatClient, answers: list[str], *, start: str) -> tuple[str, str]:
    """Walk the career plan; (the suggestions, the next steps) as the person saw them."""
    await person.click(start)
    for answer in answers:
        calls = await person.click(answer)
    suggestions = sent(calls)[-1]
    [next_steps] = [
        label
        for label, _ in buttons_of(suggestions)
        if label in {"Seuraavat askeleet", "Nästa steg", "Next steps"}
    ]
    steps = sent(await person.click(next_steps))
    return suggestions.text, "\n\n".join(m.text for m in steps)


#: words of the next steps that name a catalogue item, and the items they name
NAMED = {
    "DuuniExpo": "DuuniExpo",
    "DuuniKaverit": "DuuniKaverit",
    "YrittäjäKaverit": "YrittäjäKaverit",
    "VerkkoAgentti": "VerkkoAgentti",
    "Duunitreffi": "Duunitreffit",
    "Työpaikat tutuiksi": "Työpaikat tutuiksi",
    "Ohjaamo Rovaniemi": "Ohjaamo Rovaniemi",
}


def named_items_are_listed(listed: str, steps: str) -> list[str]:
    """The items the next steps name; each must be a line of the suggestions."""
    named = [title for word, title in NAMED.items() if word in steps]
    for title in named:
        assert title in listed, (title, listed)
    return named


async def test_an_english_reader_is_not_sent_to_finnish_only_events(h: Harness) -> None:
    person = await onboard(h, 2001, language="English")
    listed, steps = await plan(
        person,
        [
            "I am studying",
            "Within six months",
            "Under 30",
            "Rovaniemi",
            "University or college",
            "Yes",
            "Office and IT",
            "Done ✅",
            "Finding a job",
            "Done ✅",
            "Face to face",
            "Done ✅",
            "English",
            "Done ✅",
            "Skip",
        ],
        start="Plan my path",
    )
    assert "Duunitreffit" not in listed  # Finnish only
    assert named_items_are_listed(listed, steps) == ["Ohjaamo Rovaniemi"]
    assert steps == (
        "🧭 Here are your next steps. You can also show this message to a coach.\n\n"
        "👉 Visit Ohjaamo Rovaniemi. It is for people under 30. You get free help there with "
        "work, studies and everyday matters.\n\n"
        "👉 Ask your university's career services and come to the recruitment events. Meeting "
        "employers is a good way to find your first job in Finland.\n\n"
        "👉 If you are a job seeker, make sure you stay registered as a job seeker with your "
        "municipality's employment services. Tell them about this plan too.\n\n"
        "What would you like to do now?"
    )


async def test_someone_under_50_is_not_sent_to_groups_for_people_over_50(h: Harness) -> None:
    person = await onboard(h, 2002)
    listed, steps = await plan(
        person,
        [
            "Olen työtön",
            "3–12 kuukautta",
            "30–49 vuotta",
            "Lohja",
            "Peruskoulu",
            "Kauppa ja asiakaspalvelu",
            "Valmis ✅",
            "Oma yritys",
            "Tietokone- ja nettitaidot",
            "Valmis ✅",
            "Minulla on idea",
            "Kasvokkain",
            "Valmis ✅",
            "Tarvitsen apua",
            "Ohita",
        ],
        start="Suunnittele polkuni",
    )
    for title in ("YrittäjäKaverit", "DuuniKaverit", "VerkkoAgentti"):
        assert title not in listed
        assert title not in steps
    assert named_items_are_listed(listed, steps) == ["DuuniExpo"]
    # the general advice stays: the start-up grant, and digital support
    assert "👉 Oma yritys: kysy kuntasi työllisyyspalveluista starttirahaa." in steps
    assert "👉 Jos netin käyttö on vaikeaa, pyydä digitukea kirjastosta tai valmentajalta." in (
        steps
    )


async def test_over_50_in_karkkila_is_sent_to_what_the_list_shows(h: Harness) -> None:
    person = await onboard(h, 2003)
    listed, steps = await plan(person, [*CAREER_PLAN_ANSWERS, "Ohita"], start="Suunnittele polkuni")
    assert listed.startswith("Nämä voisivat sopia sinulle:\n\n1. YrittäjäKaverit Karkkila\n")
    named = named_items_are_listed(listed, steps)
    assert "YrittäjäKaverit" in named
    assert "👉 Oma yritys: liity YrittäjäKaverit-ryhmään." in steps
