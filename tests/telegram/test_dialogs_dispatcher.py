"""Every step kind and every bad input, through the real Dispatcher and an offline Bot API.

Assertions are on the exact Bot API calls the bot makes."""

from __future__ import annotations

from aiogram.exceptions import TelegramForbiddenError
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage
from aiogram.types import Chat, Message, Update, User

from bot.engine.runner import question_tag
from bot.engine.state import ConversationState
from db.repositories import AnswerRepository, PersonRepository, StateRepository
from tests.support import Harness, buttons_of, make_harness, onboard, texts_of


def sent(calls: list[object]) -> list[SendMessage]:
    return [c for c in calls if isinstance(c, SendMessage)]


async def answers_of(h: Harness, telegram_id: int) -> dict[str, object]:
    async with h.app.db.read() as session:
        person = await PersonRepository(session).by_telegram_id(telegram_id)
        assert person is not None
        return await AnswerRepository(session).for_person(person.id)


async def test_start_asks_language_with_compact_buttons(harness: Harness) -> None:
    person = harness.person()
    calls = await person.send("/start")
    [message] = sent(calls)
    assert message.chat_id == person.user_id
    assert message.text == "Kieli? · Språk? · Language?"
    buttons = buttons_of(message)
    assert [label for label, _ in buttons] == ["Suomi", "Svenska", "English"]
    state = ConversationState.from_data(await _state_data(harness, person.user_id))
    assert state.position is not None
    tag = question_tag(*state.position)
    assert [data for _, data in buttons] == [f"q:{tag}:fi", f"q:{tag}:sv", f"q:{tag}:en"]
    assert all(len(data.encode()) <= 64 for _, data in buttons if data)


async def _state_data(h: Harness, user_id: int) -> dict[str, object]:
    async with h.app.db.read() as session:
        key = f"{h.bot.id}:{user_id}:{user_id}:0:default"
        found = await StateRepository(session).get(key)
    return found[1] if found else {}


async def test_choice_edits_question_in_place_and_switches_language(harness: Harness) -> None:
    person = harness.person()
    await person.send("/start")
    calls = await person.click("Svenska")
    assert isinstance(calls[0], AnswerCallbackQuery)
    edit = next(c for c in calls if isinstance(c, EditMessageText))
    assert edit.text == "Kieli? · Språk? · Language?\n\n✔ Svenska"
    assert edit.reply_markup is None
    assert texts_of(sent(calls)) == ["Får jag spara dina svar?"]
    assert [label for label, _ in buttons_of(sent(calls)[0])] == ["Ja", "Nej", "◀ Tillbaka"]


async def test_full_demo_dialog_every_step_kind(harness: Harness) -> None:
    person = await onboard(harness)
    assert person.last_text == "CONSENT-YES-fi\n\nMitä haluat tehdä?"
    calls = await person.click("Demo")
    # message step (with the person's first name) and the choice, in one message
    assert texts_of(sent(calls)) == ["Hei Testi!\n\nIkäryhmä?"]

    # free text where a button is expected: a one-line hint with the buttons again
    calls = await person.send("jotain ihan muuta")
    assert texts_of(sent(calls)) == ["Valitse alla olevista napeista.\n\nIkäryhmä?"]
    assert [b for b, _ in buttons_of(sent(calls)[0])][:2] == ["Alle 30", "Yli 50"]

    # condition: over 50 goes to the number question
    calls = await person.click("Yli 50")
    assert texts_of(sent(calls)) == ["Montako vuotta olet ollut töissä?"]
    for wrong in ("paljon", "75", "-1"):
        calls = await person.send(wrong)
        assert texts_of(sent(calls)) == ["Kirjoita luku 0–60."]
    calls = await person.send("25")
    assert texts_of(sent(calls)) == ["Mitkä alat kiinnostavat?"]

    # multi-choice: ticks are edited in place, "done" needs at least one
    calls = await person.click("Valmis")
    assert [c.text for c in calls if isinstance(c, AnswerCallbackQuery)] == ["min 1"]
    calls = await person.click("Rakentaminen")
    [edit] = [c for c in calls if isinstance(c, EditMessageText)]
    assert [b for b, _ in buttons_of(edit)][:3] == [
        "✅ Rakentaminen",
        "Logistiikka",
        "Toimisto ja IT",
    ]
    await person.click("Logistiikka")
    calls = await person.click("✅ Rakentaminen")  # untick
    [edit] = [c for c in calls if isinstance(c, EditMessageText)]
    assert [b for b, _ in buttons_of(edit)][:2] == ["Rakentaminen", "✅ Logistiikka"]
    calls = await person.click("Valmis")
    edit = next(c for c in calls if isinstance(c, EditMessageText))
    assert edit.text.endswith("✔ Logistiikka")
    assert texts_of(sent(calls)) == ["Muuta kerrottavaa?"]

    # skippable input, then the action (with an outcome), summary and end -> main menu
    calls = await person.click("Ohita")
    # all text, so one message with the menu
    [text] = texts_of(sent(calls))
    assert text.split("\n\n") == [
        "ECHO 4 fi",  # language, age_group, work_years, interests
        "SUMMARY-fi\n• Ikä: Yli 50\n• Työvuodet: 25\n• Alat: Logistiikka",
        "Valmis!",
        "Mitä haluat tehdä?",
    ]

    stored = await answers_of(harness, person.user_id)
    assert stored == {
        "language": "fi",
        "age_group": "50_plus",
        "work_years": 25,
        "interests": ["logistics"],
    }


async def test_back_button_returns_to_previous_question(harness: Harness) -> None:
    person = await onboard(harness)
    await person.click("Demo")
    await person.click("Yli 50")
    calls = await person.click("Takaisin")
    assert texts_of(sent(calls)) == ["Ikäryhmä?"]
    calls = await person.click("Alle 30")
    assert texts_of(sent(calls)) == ["Mitkä alat kiinnostavat?"]


async def test_stale_and_forged_buttons_never_save_anything(harness: Harness) -> None:
    person = harness.person()
    await person.send("/start")
    old_language_message = person.keyboard_message()
    await person.click("Suomi")
    await person.click("Kyllä")
    await person.click("Demo")
    before = await answers_of(harness, person.user_id)

    # a press on an old message: "moved on" and the current question again
    calls = await person.press(
        old_language_message.reply_markup.inline_keyboard[1][0].callback_data, old_language_message
    )
    assert [c.text for c in calls if isinstance(c, AnswerCallbackQuery)] == [
        "Tuo kysymys on jo mennyt. Tässä nykyinen:"
    ]
    assert texts_of(sent(calls)) == ["Tuo kysymys on jo mennyt. Tässä nykyinen:\n\nIkäryhmä?"]

    state = ConversationState.from_data(await _state_data(harness, person.user_id))
    tag = question_tag("demo", "age")
    forged_presses = (
        f"q:{tag}:no_such_option",
        f"q:{question_tag('demo', 'interests')}:50_plus",  # another question's tag
        f"q:{tag}:>",  # "done" on a single choice
        f"q:{tag}:~",  # "skip" on a choice
        f"q:{tag[:7]}:50_plus",
        f"s:{state.seq}:no_such_option",  # the buttons' earlier form
        f"s:{state.seq + 1}:50_plus",
        f"s:{state.seq}:>",
        "s:abc:def",
        "x" * 64,
        "",
        "zz:ev_lohja:1",  # a prefix no router owns
    )
    # just told where we are: each gets the short notice only, no message
    for forged in forged_presses:
        calls = await person.press(forged)
        assert [(type(c).__name__, c.text) for c in calls] == [
            ("AnswerCallbackQuery", "Tuo kysymys on jo mennyt. Tässä nykyinen:")
        ], forged
    # once the person has seen anything else, a stale press shows the question again
    for forged in forged_presses:
        await person.send("/help")
        calls = await person.press(forged)
        assert texts_of(sent(calls)) == [
            "Tuo kysymys on jo mennyt. Tässä nykyinen:\n\nIkäryhmä?"
        ], forged
    assert await answers_of(harness, person.user_id) == before
    assert ConversationState.from_data(await _state_data(harness, person.user_id)).step == "age"


async def test_resume_after_restart_of_the_bot(harness: Harness) -> None:
    person = await onboard(harness)
    await person.click("Demo")
    await person.click("Yli 50")
    # A new dispatcher and bot over the same database: as after a restart (or kill -9).
    fresh = make_harness(harness.app)
    again = fresh.person(person.user_id, update_ids=harness.update_ids)
    calls = await again.send("/start")
    assert texts_of(sent(calls)) == ["WELCOME-BACK-fi Testi", "Montako vuotta olet ollut töissä?"]
    calls = await again.send("12")
    assert texts_of(sent(calls)) == ["Mitkä alat kiinnostavat?"]


async def test_menu_help_language_restart_commands(harness: Harness) -> None:
    person = await onboard(harness)
    await person.click("Demo")
    calls = await person.send("/help")
    assert texts_of(sent(calls)) == ["HELP-fi", "Ikäryhmä?"]
    calls = await person.send("apua")
    assert texts_of(sent(calls)) == ["HELP-fi", "Ikäryhmä?"]
    calls = await person.send("/menu")
    assert texts_of(sent(calls)) == ["Mitä haluat tehdä?"]
    # the demo was left unfinished: choosing it again resumes at the same question
    calls = await person.click("Demo")
    assert texts_of(sent(calls)) == ["Ikäryhmä?"]
    calls = await person.send("/language")
    assert texts_of(sent(calls)) == ["Kieli?"]
    calls = await person.click("English")
    assert texts_of(sent(calls)) == ["What would you like to do?"]
    calls = await person.send("/nonsense")
    assert texts_of(sent(calls)) == ["HELP-en", "What would you like to do?"]
    calls = await person.send("/restart")
    assert texts_of(sent(calls)) == ["RESTARTED-en", "Kieli? · Språk? · Language?"]


async def test_stickers_photos_voice_and_edits_get_kind_answers(harness: Harness) -> None:
    person = await onboard(harness)
    for action in (person.send_sticker, person.send_photo, person.send_voice):
        calls = await action()
        assert texts_of(sent(calls)) == ["MEDIA-fi", "Mitä haluat tehdä?"]
    calls = await person.edit(5, "korjattu vastaus")
    assert texts_of(sent(calls)) == ["EDITED-fi", "Mitä haluat tehdä?"]


async def test_group_chats_are_ignored(harness: Harness) -> None:
    member = harness.person(2002, chat_id=-100123)
    calls = await member.send("/start")
    assert calls == []
    calls = await member.send("hei kaikki")
    assert calls == []


async def test_same_update_twice_is_handled_once(harness: Harness) -> None:
    person = harness.person()
    message = Message(
        message_id=1,
        date=0,
        chat=Chat(id=person.user_id, type="private"),
        from_user=User(id=person.user_id, is_bot=False, first_name="Testi", language_code="fi"),
        text="/start",
    )
    update = Update(update_id=777, message=message)
    assert len(sent(await person.feed(update))) == 1
    assert await person.feed(update) == []


async def test_without_consent_nothing_is_stored(harness: Harness) -> None:
    person = await onboard(harness, consent="Ei")
    await person.click("Demo")
    await person.click("Alle 30")
    await person.click("Logistiikka")
    await person.click("Valmis")
    assert await answers_of(harness, person.user_id) == {}
    calls = await person.click("Ohita")
    [text] = texts_of(sent(calls))
    assert text.endswith("\n\nValmis!\n\nMitä haluat tehdä?")
    state = ConversationState.from_data(await _state_data(harness, person.user_id))
    assert state.answers == {"language": "fi"}  # dropped at the end of the dialog


async def test_person_who_blocked_the_bot_is_marked_and_nothing_crashes(harness: Harness) -> None:
    person = await onboard(harness)
    harness.session.fail_next(
        SendMessage,
        lambda m: TelegramForbiddenError(
            method=m, message="Forbidden: bot was blocked by the user"
        ),
    )
    await person.send("/menu")
    async with harness.app.db.read() as session:
        info = await PersonRepository(session).by_telegram_id(person.user_id)
    assert info is not None
    assert info.blocked
    calls = await person.send("/menu")  # writing again unblocks
    assert texts_of(sent(calls)) == ["Mitä haluat tehdä?"]
    async with harness.app.db.read() as session:
        info = await PersonRepository(session).by_telegram_id(person.user_id)
    assert info is not None
    assert not info.blocked


async def test_failing_action_gets_the_error_boundary(harness: Harness) -> None:
    async def broken(ctx: object) -> object:
        raise RuntimeError("boom")

    harness.app.actions._actions["echo"] = broken  # type: ignore[assignment]
    person = await onboard(harness)
    await person.click("Demo")
    await person.click("Alle 30")
    await person.click("Logistiikka")
    await person.click("Valmis")
    calls = await person.click("Ohita")
    assert texts_of(sent(calls)) == ["ERROR-fi"]
    # the conversation was not advanced by the failed turn, and goes on
    calls = await person.send("/menu")
    assert texts_of(sent(calls)) == ["Mitä haluat tehdä?"]


async def test_never_sends_an_edit_that_changes_nothing(harness: Harness) -> None:
    person = await onboard(harness)
    await person.click("Demo")
    await person.click("Alle 30")
    message = person.keyboard_message()
    data = message.reply_markup.inline_keyboard[0][0].callback_data
    await person.press(data, message)  # tick
    ticked = person.keyboard_message()
    # the same stale tick pressed on the already-updated message twice in a row would toggle;
    # the offline session raises "message is not modified" like Telegram if the bot tried.
    await person.press(data, ticked)
    await person.press(data, person.keyboard_message())
    assert all(not (isinstance(c, EditMessageText) and c.text == "") for c in harness.session.calls)
