"""What people type, on the bundled dialogs and content: a sentence asking
for a person starts the handoff in any of the three languages; a typed button label counts as
pressed; phone numbers with a country code; and while a request waits for a coach, what the
person writes goes to the coaches with one "sent" per burst."""

from __future__ import annotations

import pytest
from aiogram.methods import SendMessage

from bot.telegram.offline import ChatClient
from db.repositories import AnswerRepository, PersonRepository, RelayRepository
from tests.features.handoff.support import (
    ANNA,
    GROUP,
    buttons,
    card_message,
    coach,
    deliver,
    latest_request,
    press,
    sends_to,
    texts_to,
)
from tests.support import Harness, buttons_of

TOPIC = {
    "fi": "Mistä asiasta haluat puhua?",
    "sv": "Vad vill du prata om?",
    "en": "What would you like to talk about?",
}
SENT = (
    "✉️ Välitin viestisi valmentajille. Kun joku heistä ottaa pyyntösi, hän vastaa sinulle täällä."
)


@pytest.fixture
def h(real: Harness) -> Harness:
    """The tests here talk to the bundled dialogs."""
    return real


LANGUAGE_BUTTON = {"fi": "Suomi", "sv": "Svenska", "en": "English"}
AGREE = {
    "fi": "Kyllä, tallenna vastaukseni",
    "sv": "Ja, spara mina svar",
    "en": "Yes, save my answers",
}


async def start(h: Harness, language: str = "fi", user_id: int = 1001) -> ChatClient:
    person = h.person(user_id, first_name="Sara")
    await person.send("/start")
    await person.click(LANGUAGE_BUTTON[language])
    await person.click(AGREE[language])
    return person


async def answers(h: Harness, user_id: int) -> dict[str, object]:
    async with h.app.db.read() as session:
        person = await PersonRepository(session).by_telegram_id(user_id)
        assert person is not None
        return await AnswerRepository(session).for_person(person.id)


@pytest.mark.parametrize(
    ("language", "typed"),
    [
        ("fi", "haluan puhua ihmisen kanssa"),
        ("fi", "Voisinko jutella valmentajan kanssa?"),
        ("sv", "jag vill prata med en människa"),
        ("en", "can I talk to a person"),
        ("en", "Can I talk to a human, please?"),
    ],
)
async def test_a_sentence_asking_for_a_person_starts_the_handoff(
    h: Harness, language: str, typed: str
) -> None:
    person = await start(h, language)
    calls = await person.send(typed)
    [message] = [c for c in calls if isinstance(c, SendMessage)]
    assert message.text.endswith(TOPIC[language])


async def test_inside_a_question_too_but_not_as_a_typed_answer(h: Harness) -> None:
    person = await start(h)
    await person.click("Suunnittele polkuni")
    # at a choice: a sentence asking for a person is not an answer, so it asks for a coach
    calls = await person.send("en tiedä, haluan puhua ihmisen kanssa")
    assert texts_to(calls, 1001)[-1].endswith(TOPIC["fi"])
    # the handoff's own question written out is an answer, not a new start
    calls = await person.send("työnhaku")
    assert "Kerro halutessasi lyhyesti" in texts_to(calls, 1001)[-1]
    # typed into a question that waits for text, the words are the answer
    calls = await person.send("Haluan, että valmentaja soittaa ihmisten kanssa tehtävistä töistä")
    assert texts_to(calls, 1001)[-1] == "Miten valmentaja voi ottaa sinuun yhteyttä?"
    assert str((await answers(h, 1001))["handoff_details"]).startswith("Haluan, että")


async def test_a_typed_button_label_counts_as_pressed(h: Harness) -> None:
    person = await start(h)
    await person.click("Suunnittele polkuni")
    calls = await person.send("  OLEN TYÖTÖN ")
    assert texts_to(calls, 1001) == ["Kuinka kauan olet ollut työttömänä?"]
    await person.send("yli vuoden")
    await person.send("50 vuotta tai yli")
    await person.send("Lohja")
    await person.click("Peruskoulu")
    await person.click("Rakentaminen")
    await person.click("Valmis ✅")
    await person.click("Oma yritys")
    await person.click("Valmis ✅")
    await person.click("Minulla on idea")
    # a multi-choice: the typed label ticks the box, in a new copy of the question
    calls = await person.send("kasvokkain")
    [question] = [c for c in calls if isinstance(c, SendMessage)]
    assert question.text == (
        "Miten haluat mieluiten saada apua? Voit valita monta. Paina lopuksi Valmis."
    )
    assert next(label for label, _ in buttons_of(question)) == "✅ Kasvokkain"
    # "valmis" typed without the emoji is the done button
    calls = await person.send("valmis")
    assert texts_to(calls, 1001)[-1].startswith("Miten sujuu tietokoneen")
    assert (await answers(h, 1001))["preferred_form"] == ["in_person"]
    # and "takaisin" typed without the arrow goes back, like the button
    calls = await person.send("Takaisin")
    assert texts_to(calls, 1001)[-1].startswith("Miten haluat mieluiten saada apua?")


async def test_a_foreign_phone_number_with_its_country_code(h: Harness) -> None:
    person = await start(h, "en")
    await person.click("Talk to a coach")
    await person.click("Job search")
    await person.click("Skip")
    await person.click("By phone call")
    await person.click("Yes, you may")
    calls = await person.send("+44 12")
    assert texts_to(calls, 1001) == [
        "That does not look like a phone number. Please type it like this: 040 123 4567, or a "
        "number from another country with its country code, for example +44 7700 900123."
    ]
    calls = await person.send("+44 7700 900123")
    assert texts_to(calls, 1001)[0].startswith("✅ Your request is saved.")
    req = await latest_request(h, 1001)
    assert req.phone == "+447700900123"


async def test_a_finnish_number_still_works(h: Harness) -> None:
    person = await start(h)
    await person.click("Puhu valmentajan kanssa")
    await person.click("Työnhaku")
    await person.click("Ohita")
    await person.click("Soittamalla")
    await person.click("Kyllä, saa tallentaa")
    calls = await person.send("040-123 4567")
    assert texts_to(calls, 1001)[0].startswith("✅ Pyyntösi on tallennettu.")
    assert (await latest_request(h, 1001)).phone == "+358401234567"


async def relays(h: Harness, request_id: int) -> list[dict[str, object]]:
    async with h.app.db.read() as session:
        return await RelayRepository(session).for_request(request_id)


async def test_while_the_request_waits_what_the_person_writes_goes_to_the_coaches(
    h: Harness,
) -> None:
    person = await start(h)
    await person.click("Puhu valmentajan kanssa")
    await person.click("Työnhaku")
    await person.click("Ohita")
    await person.click("Viestillä tässä chatissa")
    await deliver(h)
    req = await latest_request(h, 1001)
    card = card_message(h, req)

    # at the menu, a message the bot does not take as an answer: to the coaches, and "sent"
    calls = await person.send("Lisäksi: olen vapaa vain aamupäivisin")
    assert texts_to(calls, 1001) == [SENT]
    start_at = len(h.session.calls)
    await deliver(h)
    [relayed] = sends_to(h.session.calls[start_at:], GROUP)
    assert relayed.text.endswith("\nLisäksi: olen vapaa vain aamupäivisin")
    assert relayed.reply_parameters.message_id == card.message_id  # under the request's card

    # more in the same burst: passed on without another "sent"
    h.app.clock.advance(minutes=3)  # type: ignore[attr-defined]
    calls = await person.send("ja puhun myös englantia")
    assert texts_to(calls, 1001) == []
    # a menu button's label is still a press, not a message for the coach
    calls = await person.send("Omat tietoni")
    assert texts_to(calls, 1001) != []
    assert SENT not in texts_to(calls, 1001)
    # the coach keyword alone: "you already have a request"
    calls = await person.send("ihminen")
    assert texts_to(calls, 1001)[0].startswith("Sinulla on jo avoin pyyntö.")
    assert [r["text"] for r in await relays(h, req.id)] == [
        "Lisäksi: olen vapaa vain aamupäivisin",
        "ja puhun myös englantia",
    ]

    # after a quiet spell, the next message is a new burst: "sent" again
    h.app.clock.advance(minutes=15)  # type: ignore[attr-defined]
    calls = await person.send("Unohdin vielä yhden asian")
    assert texts_to(calls, 1001) == [SENT]

    # once a coach has it, the relay goes on as before (no "sent")
    await deliver(h)
    anna = coach(h, ANNA, "Anna")
    await press(anna, card_message(h, req), buttons(card_message(h, req))[0])
    calls = await person.send("Kiitos!")
    assert texts_to(calls, 1001) == []
    assert len(await relays(h, req.id)) == 4
