"""The bundled main menu as a person uses it."""

from __future__ import annotations

from aiogram.methods import SendMessage

from tests.support import Harness


async def test_my_data_shows_answers_as_the_person_saw_them(bundled: Harness) -> None:
    person = bundled.person(3001)
    await person.send("/start")
    await person.click("Suomi")
    await person.click("Kyllä, tallenna vastaukseni")
    calls = await person.click("Omat tietoni")
    [shown] = [c.text for c in calls if isinstance(c, SendMessage) and c.text.startswith("📋")]
    assert "• Kieli: Suomi" in shown
    assert "language" not in shown
    assert "/delete" not in shown  # no promise of a command that does not exist
