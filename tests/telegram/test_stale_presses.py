"""Presses on old copies of a question, and presses queued while the bot restarted, through the
real Dispatcher: a button of the question the person is on is that answer, whatever copy it is
on; really stale presses in a burst get one "let's continue here", not one each."""

from __future__ import annotations

from typing import Any

from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage
from aiogram.types import InlineKeyboardMarkup, Message

from bot.engine.runner import question_tag
from db.repositories import AnswerRepository, PersonRepository, StateRepository
from tests.support import Harness, make_harness, onboard, texts_of

MOVED_ON = "Tuo kysymys on jo mennyt. Tässä nykyinen:"


def sent(calls: list[Any]) -> list[SendMessage]:
    return [c for c in calls if isinstance(c, SendMessage)]


def data_of(message: Message, label: str) -> str:
    assert isinstance(message.reply_markup, InlineKeyboardMarkup)
    [data] = [
        b.callback_data
        for row in message.reply_markup.inline_keyboard
        for b in row
        if b.text == label
    ]
    assert data is not None
    return data


async def answers_of(h: Harness, telegram_id: int) -> dict[str, object]:
    async with h.app.db.read() as session:
        person = await PersonRepository(session).by_telegram_id(telegram_id)
        assert person is not None
        return await AnswerRepository(session).for_person(person.id)


async def test_a_button_on_an_older_copy_of_the_current_question_is_the_answer(
    harness: Harness,
) -> None:
    person = await onboard(harness)
    await person.click("Demo")
    older = person.keyboard_message()
    assert older is not None
    assert older.text == "Hei Testi!\n\nIkäryhmä?"
    # away to the menu and back: the same question is asked again, in a new message
    await person.send("/menu")
    calls = await person.click("Demo")
    assert texts_of(sent(calls)) == ["Ikäryhmä?"]
    newer = person.keyboard_message()
    assert newer is not None
    assert newer.message_id > older.message_id
    assert data_of(newer, "Yli 50") == data_of(older, "Yli 50")

    calls = await person.press(data_of(older, "Yli 50"), older)
    assert [(type(c).__name__, c.text) for c in calls] == [
        ("AnswerCallbackQuery", None),
        # the echo is built from the current copy, which has no greeting above the question
        ("EditMessageText", "Ikäryhmä?\n\n✔ Yli 50"),
        ("SendMessage", "Montako vuotta olet ollut töissä?"),
    ]
    [edit] = [c for c in calls if isinstance(c, EditMessageText)]
    assert edit.message_id == older.message_id  # the copy pressed shows the answer
    assert (await answers_of(harness, person.user_id))["age_group"] == "50_plus"


async def test_a_tick_on_an_older_copy_of_a_multi_choice_counts(harness: Harness) -> None:
    person = await onboard(harness)
    await person.click("Demo")
    await person.click("Alle 30")
    older = person.keyboard_message()
    assert older is not None
    assert older.text == "Mitkä alat kiinnostavat?"
    await person.send("/help")  # the question again, in a new message
    calls = await person.press(data_of(older, "Logistiikka"), older)
    [edit] = [c for c in calls if isinstance(c, EditMessageText)]
    assert edit.message_id == older.message_id
    assert MOVED_ON not in texts_of(calls)
    calls = await person.click("Valmis")
    assert texts_of(sent(calls)) == ["Muuta kerrottavaa?"]
    assert (await answers_of(harness, person.user_id))["interests"] == ["logistics"]


async def test_a_button_in_the_earlier_form_counts_on_the_current_turn_only(
    harness: Harness,
) -> None:
    """Buttons sent before the question tags ("s:<turn>:<option>") still work where they are
    the newest copy: a new version of the bot does not make everyone's question stale."""
    person = await onboard(harness)
    await person.click("Demo")
    state = await person_state(harness, person.user_id)
    calls = await person.press(f"s:{state['seq'] - 1}:50_plus")
    assert texts_of(sent(calls)) == [MOVED_ON + "\n\nIkäryhmä?"]
    calls = await person.press(f"s:{state['seq']}:50_plus")
    assert texts_of(sent(calls)) == ["Montako vuotta olet ollut töissä?"]


async def person_state(h: Harness, telegram_id: int) -> dict[str, Any]:
    async with h.app.db.read() as session:
        found = await StateRepository(session).get(
            f"{h.bot.id}:{telegram_id}:{telegram_id}:0:default"
        )
    assert found is not None
    return found[1]


async def test_presses_queued_during_a_restart_get_one_lets_continue(harness: Harness) -> None:
    person = await onboard(harness)
    await person.click("Demo")
    question = person.keyboard_message()
    assert question is not None
    await person.send("/menu")
    menu = person.keyboard_message()
    assert menu is not None
    await person.click("Demo")
    # The bot is down. The person taps "Yli 50" on the question four times, then (scrolling)
    # the menu's "Demo" and the question's "Alle 30" once each.
    queued = [
        *[(data_of(question, "Yli 50"), question)] * 4,
        (data_of(menu, "Demo"), menu),
        (data_of(question, "Alle 30"), question),
    ]
    # A new dispatcher and bot over the same database, as after a restart; the queued
    # presses arrive one after another.
    fresh = make_harness(harness.app)
    again = fresh.person(person.user_id, update_ids=harness.update_ids)
    calls = [call for data, message in queued for call in await again.press(data, message)]

    assert texts_of(sent(calls)) == [
        "Montako vuotta olet ollut töissä?",  # the first press is the answer
        MOVED_ON + "\n\nMontako vuotta olet ollut töissä?",  # the second: once, where we are
    ]
    # every press was answered; those after "let's continue" with the short notice only
    assert [c.text for c in calls if isinstance(c, AnswerCallbackQuery)] == [None] + [MOVED_ON] * 5
    assert (await answers_of(harness, person.user_id))["age_group"] == "50_plus"
    # the person answers: the next stale press is told again
    await again.send("12")
    calls = await again.press(data_of(question, "Yli 50"), question)
    assert texts_of(sent(calls)) == [MOVED_ON + "\n\nMitkä alat kiinnostavat?"]


async def test_button_data_names_the_question_and_fits_telegrams_64_bytes() -> None:
    longest = "x" * 32
    data = f"q:{question_tag(longest, longest)}:{longest}"
    assert len(data.encode()) <= 64
    assert question_tag("demo", "age") != question_tag("demo", "fields")
    assert question_tag("demo", "age") == question_tag("demo", "age")
