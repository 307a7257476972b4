"""What the catalogue says is confirmed, as people see it: the "to be confirmed" line on cards
and lists in the reader's language, the Swedish town names, a place without a street address,
and no such line once an editor has confirmed the item. On the bundled dialogs and content,
with the clock fixed at Tuesday 5 January 2027, 10:00 in Helsinki."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram.methods import EditMessageText, SendMessage

from bot.app import App
from bot.catalogue import HELSINKI
from bot.features import build_registry
from tests.support import ROOT, Clock, Harness, make_app, make_harness, make_settings, onboard

NOW = datetime(2027, 1, 5, 10, 0, tzinfo=HELSINKI)


def sent(calls: list[Any]) -> list[SendMessage]:
    return [c for c in calls if isinstance(c, SendMessage)]


def edits(calls: list[Any]) -> list[EditMessageText]:
    return [c for c in calls if isinstance(c, EditMessageText)]


async def harness(tmp_path: Path, content: Path) -> AsyncIterator[Harness]:
    app: App = await make_app(
        make_settings(tmp_path, bundled=True, content_dir=content), build_registry()
    )
    app.clock = Clock(NOW)
    yield make_harness(app)
    await app.db.dispose()


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async for made in harness(tmp_path, ROOT / "content"):
        yield made


async def test_a_swedish_reader_sees_ekenas_and_that_nothing_is_confirmed(h: Harness) -> None:
    person = await onboard(h, 1001, language="Svenska")
    calls = await person.send("/start ev_duuniexpo-raasepori")
    [card] = sent(calls)
    lines = card.text.split("\n")
    assert "❔ Uppgifterna är inte bekräftade – fråga en coach" in lines
    assert "📍 Raseborgs stadshus, Ekenäs (adressen är inte bekräftad)" in lines
    assert "Tammisaari" not in card.text


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("Suomi", "👥 Kenelle: yli 50-vuotiaille, työttömille ja niille, joiden työ on loppumassa"),
        (
            "Svenska",
            "👥 För: personer över 50 år, arbetslösa och personer vars arbete håller på att ta slut",
        ),
        ("English", "👥 For: people over 50, people out of work and people whose job is ending"),
    ],
)
async def test_a_card_says_whom_it_is_for_as_a_sentence(
    h: Harness, language: str, line: str
) -> None:
    person = await onboard(h, 1001, language=language)
    calls = await person.send("/start ev_duunikaverit-raasepori")
    [card] = sent(calls)
    assert line in card.text.split("\n")


async def test_an_english_list_marks_every_unconfirmed_line(h: Harness) -> None:
    person = await onboard(h, 1001, language="English")
    await person.click("Events and training")
    await person.click("📍 By place")
    calls = await person.click("Lohja")
    [page] = edits(calls)
    entries = page.text.split("\n\n")[1:-1]  # between the heading and the page number
    assert entries
    for entry in entries:
        assert entry.split("\n")[2] == "❔ To be confirmed – ask a coach", entry
    assert entries[0].startswith("1. ")


async def test_a_confirmed_item_has_no_such_line(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    path = content / "catalogue" / "western_uusimaa.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("items:\n", "confirmed: {by: Test Editor, on: 2027-01-04}\nitems:\n", 1),
        encoding="utf-8",
    )
    async for h in harness(tmp_path, content):
        person = await onboard(h, 1001)
        calls = await person.send("/start ev_duuniexpo-karkkila")
        [card] = sent(calls)
        assert "vahvistamatta – kysy valmentajalta" not in card.text
        assert card.text.endswith(
            "🗣 suomi\n✔ Tiedot tarkistettu järjestäjältä 4.1.2027\n"
            "🎟 Ei ilmoittautumista, tule paikalle"
        )
        # a card of another file is still marked
        calls = await person.send("/start ev_ohjaamo-rovaniemi")
        [other] = sent(calls)
        assert "❔ Tiedot vahvistamatta – kysy valmentajalta" in other.text.split("\n")
