"""How many new messages a turn costs, counted from the recorded Bot API calls: from /start
through the whole career plan to the suggestions, with the bundled content. A new message is
a sendMessage, sendDocument or sendPhoto; edits and answers to presses are not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram.methods import EditMessageText, SendDocument, SendMessage, SendPhoto

from bot.app import App
from bot.catalogue.schedule import HELSINKI
from bot.factory import build_registry
from tests.support import (
    CAREER_PLAN_ANSWERS,
    Clock,
    Harness,
    buttons_of,
    make_app,
    make_harness,
    make_settings,
    walk_career_plan,
)

#: a Tuesday on which the bundled catalogue has suggestions for the walk below
NOW = datetime(2027, 1, 5, 10, 0, tzinfo=HELSINKI)
NEW = (SendMessage, SendDocument, SendPhoto)


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    app: App = await make_app(make_settings(tmp_path, bundled=True), build_registry())
    app.clock = Clock(NOW)
    yield make_harness(app)
    await app.db.dispose()


def new_messages(calls: list[Any]) -> int:
    return sum(isinstance(call, NEW) for call in calls)


async def test_from_start_to_the_suggestions_a_turn_costs_one_new_message(h: Harness) -> None:
    person = h.person(1001)
    turns = [await person.send("/start")]
    for label in ("Suomi", "Kyllä", "Suunnittele polkuni", *CAREER_PLAN_ANSWERS, "Ohita"):
        turns.append(await person.click(label))
    counts = [new_messages(calls) for calls in turns]

    assert len(turns) == 18
    assert max(counts) <= 2
    assert sum(counts) / len(turns) <= 1.1
    # ticking a box of a multi-choice question only edits it; the suggestions take two
    assert counts == [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 2]
    assert sum(isinstance(call, EditMessageText) for calls in turns for call in calls) == 17


async def test_first_contact_is_one_welcome_and_consent_message(h: Harness) -> None:
    person = h.person(1001)
    await person.send("/start")
    calls = await person.click("Suomi")
    edit, welcome = [c for c in calls if isinstance(c, EditMessageText | SendMessage)]
    assert isinstance(edit, EditMessageText)
    assert edit.text == "Valitse kieli · Välj språk · Choose language\n\n✔ Suomi"
    assert isinstance(welcome, SendMessage)
    paragraphs = welcome.text.split("\n\n")
    assert paragraphs[0].startswith("👋 Hei Testi! Olen Urapolku.")
    assert paragraphs[2].startswith("Voit milloin vain pyytää yhteyttä oikeaan ihmiseen")
    # the consent: two short sentences, the last paragraph
    assert paragraphs[3:] == [
        "Saanko tallentaa vastauksesi, jotta voin ehdottaa sinulle sopivia palveluja? Voit "
        "poistaa ne milloin vain kohdasta Omat tietoni."
    ]
    assert [label for label, _ in buttons_of(welcome)] == [
        "Kyllä, tallenna vastaukseni",
        "Jatka tallentamatta",
        "Kerro lisää",
        "↩ Takaisin",
    ]

    # the answer is marked in the same message, the welcome kept above it
    calls = await person.click("Kyllä")
    [echo] = [c for c in calls if isinstance(c, EditMessageText)]
    assert echo.text == welcome.text + "\n\n✔ Kyllä, tallenna vastaukseni"
    assert echo.reply_markup is None
    [menu] = [c for c in calls if isinstance(c, SendMessage)]
    assert menu.text == "✅ Kiitos. Vastauksesi tallennetaan.\n\nMitä haluat tehdä?"


async def test_the_suggestions_are_a_summary_and_a_list_with_the_way_on(h: Harness) -> None:
    person = h.person(1001)
    await person.send("/start")
    await person.click("Suomi")
    await person.click("Kyllä")
    calls = await walk_career_plan(person)
    summary, suggestions = [c for c in calls if isinstance(c, SendMessage)]
    assert summary.text.startswith("📝 Yhteenveto vastauksistasi:")
    assert summary.reply_markup is None
    assert suggestions.text.startswith("Nämä voisivat sopia sinulle:\n\n1. YrittäjäKaverit")
    assert suggestions.text.endswith("\n\nMitä haluat tehdä nyt?")
    labels = [label for label, _ in buttons_of(suggestions)]
    assert labels[5:] == [
        "Seuraavat askeleet",
        "Puhu tästä valmentajalle",
        "Näytä suunnitelmani",
        "Aloita suunnitelma alusta",
        "Takaisin valikkoon",  # the plan is done: no "↩ Takaisin"
    ]
    items = buttons_of(suggestions)[:5]
    assert all(data.startswith("e:c:") for _, data in items if data)

    # the next steps are behind a button: one message, and the list keeps its item buttons
    calls = await person.click("Seuraavat askeleet")
    [echo] = [c for c in calls if isinstance(c, EditMessageText)]
    assert echo.text == suggestions.text + "\n\n✔ Seuraavat askeleet"
    assert buttons_of(echo) == items
    [steps] = [c for c in calls if isinstance(c, SendMessage)]
    assert steps.text.startswith("🧭 Tässä ovat seuraavat askeleesi.")
    assert steps.text.count("👉") == 4
    assert steps.text.endswith("\n\nMitä haluat tehdä nyt?")
    # below the steps, the same question without "Next steps" again
    assert [label for label, _ in buttons_of(steps)] == [
        "Puhu tästä valmentajalle",
        "Näytä suunnitelmani",
        "Aloita suunnitelma alusta",
        "Takaisin valikkoon",
    ]
    await person.click("Takaisin valikkoon")
    assert person.last_text.endswith("Mitä haluat tehdä?")
