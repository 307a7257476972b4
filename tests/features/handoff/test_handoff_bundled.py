"""The handoff on the bundled dialogs and content (dialogs/, content/): the menu entry, the
real dialog's answer keys and texts, a card, a claim and a reply — in Swedish this time."""

from __future__ import annotations

from tests.features.handoff.support import (
    ANNA,
    buttons,
    card_message,
    coach,
    deliver,
    latest_request,
    press,
    texts_to,
)
from tests.support import Harness


async def test_from_the_menu_to_a_coach_in_swedish(real: Harness) -> None:
    h = real
    person = h.person(1001, first_name="Sara", language_code="sv")
    await person.send("/start")
    await person.click("Svenska")
    await person.click("Ja, spara mina svar")
    await person.click("Prata med en coach")
    await person.click("Jobbsökning")
    await person.send("Jag behöver hjälp med mitt CV")
    await person.click("Per telefon")
    await person.click("Ja, det får du")
    calls = await person.send("+358 40 123 4567")
    assert texts_to(calls, 1001) == [
        "✅ Ditt ärende har sparats. En coach svarar dig inom 4 arbetstimmar.\n\nVad vill du göra?"
    ]

    # the menu entry again while the request waits: "already open" at once, no questions
    calls = await person.click("Prata med en coach")
    already = "Du har redan ett öppet ärende. Coachen ser det och kontaktar dig."
    assert texts_to(calls, 1001) == [f"{already}\n\nVad vill du göra?"]
    menu = next(c for c in calls if getattr(c, "text", None) == f"{already}\n\nVad vill du göra?")
    assert "Prata med en coach" in [
        b.text for row in menu.reply_markup.inline_keyboard for b in row
    ]
    await deliver(h)
    req = await latest_request(h, 1001)
    assert (req.topic, req.contact_method, req.phone, req.language) == (
        "job_search",
        "phone",
        "+358401234567",
        "sv",
    )
    card = card_message(h, req)
    # the coach group reads Finnish (DEFAULT_LANGUAGE) whatever the person's language
    assert "<b>Kieli:</b> ruotsi" in card.text
    assert "<b>Aihe:</b> Työnhaku" in card.text
    assert "<b>Yhteydenotto:</b> Soittamalla: +358401234567" in card.text
    anna = coach(h, ANNA, "Anna")
    await press(anna, card, buttons(card)[0])
    await anna.send("Hej Sara! Jag ringer i morgon kl. 10.", reply_to=card_message(h, req))
    start = len(h.session.calls)
    await deliver(h)
    assert texts_to(h.session.calls[start:], 1001) == [
        "Goda nyheter: Anna från sysselsättningstjänsterna har tagit ditt ärende och kontaktar "
        "dig per telefon.",
        "💬 Anna:\nHej Sara! Jag ringer i morgon kl. 10.",
    ]
    # /menu while the coach has the request
    calls = await person.send("/menu")
    assert texts_to(calls, 1001)[0].startswith("Ditt ärende är fortfarande öppet: Anna")
