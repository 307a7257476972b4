"""Plain Finnish (fi-selko) is content only: chosen like any language (its button says what it
is), its texts override the dialogs' inline Finnish, and it is offered to a Finnish reader the
bot did not understand twice in a row."""

from __future__ import annotations

from aiogram.methods import SendMessage

from db.repositories import PersonRepository
from tests.support import Harness


def sent_texts(calls: list[object]) -> list[str]:
    return [c.text for c in calls if isinstance(c, SendMessage)]


async def test_choosing_plain_finnish(bundled: Harness) -> None:
    person = bundled.person(3101)
    calls = await person.send("/start")
    assert "Selkosuomi – helpompi suomi" in person.buttons
    calls = await person.click("Selkosuomi")
    # the welcome and the consent question in one message
    [welcome] = sent_texts(calls)
    paragraphs = welcome.split("\n\n")
    assert paragraphs[0] == "👋 Hei Testi! Olen Urapolku."
    assert paragraphs[1].startswith("Olen botti.")
    assert any(p.startswith("Voit aina puhua myös ihmisen kanssa.") for p in paragraphs)
    # the consent in two short sentences
    assert welcome.endswith(
        "\n\nSaanko tallentaa vastauksesi? Voit poistaa ne milloin vain kohdasta Minun tietoni."
    )
    async with bundled.app.db.read() as session:
        stored = await PersonRepository(session).by_telegram_id(3101)
    assert stored is not None
    assert stored.language == "fi-selko"

    calls = await person.click("Kyllä, tallenna")
    assert "Tee suunnitelma" in person.buttons
    calls = await person.click("Tee suunnitelma")
    [plan] = sent_texts(calls)  # the plan's intro and its first question in one message
    assert plan.startswith("🧭 Tehdään yhdessä suunnitelma.\n\nKysyn sinulta noin 10")
    assert plan.endswith("\n\nMikä on tilanteesi nyt?")
    assert person.buttons[:2] == ["Olen työtön", "Työni loppuu pian"]
    calls = await person.click("Olen työtön")
    assert sent_texts(calls) == ["Kuinka kauan olet ollut ilman työtä?"]
    calls = await person.send("/help")
    assert sent_texts(calls)[0].startswith("Olen Urapolku. Olen botti.\nVastaa minulle")
    calls = await person.send("/restart")
    assert sent_texts(calls)[0] == "Selvä. Aloitetaan alusta."


async def test_language_command_offers_plain_finnish_and_back(bundled: Harness) -> None:
    person = bundled.person(3102)
    await person.send("/start")
    await person.click("Suomi")
    await person.click("Kyllä, tallenna")
    await person.send("/language")
    assert person.buttons[:4] == ["Suomi", "Svenska", "English", "Selkosuomi – helpompi suomi"]
    calls = await person.click("Selkosuomi")
    assert sent_texts(calls)[-1] == "Mitä haluat tehdä?"
    assert "Minun tietoni" in person.buttons
    calls = await person.click("Minun tietoni")
    [shown] = [t for t in sent_texts(calls) if t.startswith("📋")]
    assert "• Kieli: Selkosuomi" in shown
    await person.send("/language")
    await person.click("Suomi")
    assert "Omat tietoni" in person.buttons


async def test_talking_to_a_coach_in_plain_finnish(bundled: Harness) -> None:
    person = bundled.person(3103)
    await person.send("/start")
    await person.click("Selkosuomi")
    await person.click("Kyllä, tallenna")
    calls = await person.click("Puhu valmentajan kanssa")
    assert sent_texts(calls) == [
        "🙋 Voit puhua valmentajan kanssa. Valmentaja on ihminen.\n\nMistä haluat puhua?"
    ]
    assert person.buttons[:2] == ["Työn etsiminen", "Uusi ala"]
    calls = await person.click("Työn etsiminen")
    assert sent_texts(calls)[-1].startswith("Kerro lyhyesti, missä tarvitset apua.")


async def test_plain_finnish_is_offered_once_after_two_answers_not_understood(
    bundled: Harness,
) -> None:
    person = bundled.person(3104)
    await person.send("/start")
    await person.click("Suomi")
    await person.click("Kyllä")
    calls = await person.send("en ymmärrä")
    [once] = sent_texts(calls)
    assert "selkosuomeksi" not in once
    assert "Selkosuomi – helpompi suomi" not in person.buttons

    calls = await person.send("mitä tämä on")
    [twice] = sent_texts(calls)
    assert twice == (
        "Vastaa painamalla jotakin alla olevista napeista.\n\nMitä haluat tehdä?\n\n"
        "Onko tätä vaikea lukea? Voin kirjoittaa selkosuomeksi. Se on helpompaa suomea."
    )
    assert person.buttons[0] == "Suunnittele polkuni"
    assert person.buttons[-1] == "Selkosuomi – helpompi suomi"

    calls = await person.click("Selkosuomi – helpompi suomi")
    # the question stays, without its buttons; it is asked again in plain Finnish
    [asked] = sent_texts(calls)
    assert asked == "Mitä haluat tehdä?"
    assert person.buttons[:2] == ["Tee suunnitelma", "Tapahtumat ja kurssit"]
    async with bundled.app.db.read() as session:
        stored = await PersonRepository(session).by_telegram_id(3104)
    assert stored is not None
    assert stored.language == "fi-selko"

    # once: back in standard Finnish, two more misses bring no offer
    await person.send("/language")
    await person.click("Suomi")
    await person.send("en ymmärrä")
    calls = await person.send("en vieläkään")
    assert "selkosuomeksi" not in sent_texts(calls)[0]
    assert "Selkosuomi – helpompi suomi" not in person.buttons


async def test_plain_finnish_is_not_offered_to_other_readers(bundled: Harness) -> None:
    for telegram_id, language, agree in ((3105, "Svenska", "Ja"), (3106, "Selkosuomi", "Kyllä")):
        person = bundled.person(telegram_id)
        await person.send("/start")
        await person.click(language)
        await person.click(agree)
        await person.send("?")
        calls = await person.send("??")
        assert "Selkosuomi – helpompi suomi" not in person.buttons
        assert all("selkosuomeksi" not in text for text in sent_texts(calls))


async def test_the_language_question_does_not_offer_plain_finnish_twice(bundled: Harness) -> None:
    person = bundled.person(3107)
    await person.send("/start")
    await person.send("hei")
    calls = await person.send("mitä")
    assert "selkosuomeksi" not in sent_texts(calls)[0]
    assert person.buttons.count("Selkosuomi – helpompi suomi") == 1
