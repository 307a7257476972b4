"""Handoff to a human coach, end to end through the real Dispatcher and an offline Bot API:
two coaches and a non-coach in the coach group, a person in a private chat.

Assertions are on the exact Bot API calls and on the database."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.methods import (
    AnswerCallbackQuery,
    CloseForumTopic,
    CopyMessage,
    DeleteForumTopic,
    DeleteMessage,
    EditMessageCaption,
    EditMessageText,
    SendMessage,
    SetMessageReaction,
)
from aiogram.types import ForceReply
from sqlalchemy import func, select

from bot.features.handoff.cards import CLAIM, CLOSE, OUTCOME, CardAction
from bot.telegram.offline import ChatClient
from db.models import OutboxMessage, RelayMessage
from db.repositories import (
    CLAIMED,
    CLOSED,
    NEW,
    HandoffRepository,
    OutboxRepository,
    PersonRepository,
    RelayRepository,
    RequestInfo,
    StatsRepository,
)
from tests.features.handoff.support import (
    ADMIN,
    ANNA,
    BEN,
    GROUP,
    OUTSIDER,
    PERSON,
    ask_for_coach,
    assert_safe_html,
    buttons,
    card_message,
    clock,
    coach,
    deliver,
    latest_request,
    onboard,
    press,
    request,
    sends_to,
    texts_to,
    toasts,
)
from tests.support import Harness

#: the main menu's question (the fixture dialogs')
MENU = "Mitä haluat tehdä?"


async def outbox_rows(h: Harness) -> list[OutboxMessage]:
    async with h.app.db.read() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


# -- the whole flow ------------------------------------------------------------------------


async def test_whole_flow_two_coaches_and_a_non_coach(h: Harness) -> None:
    anna, ben, outsider = coach(h, ANNA, "Anna"), coach(h, BEN, "Ben"), coach(h, OUTSIDER, "Olli")
    person = await onboard(h)
    # earlier answers: the demo asks the age group and more
    await person.click("Demo")
    await person.click("Yli 50")
    await person.send("25")
    await person.click("Logistiikka")
    await person.click("Valmis")
    await person.click("Ohita")

    calls = await ask_for_coach(person, details="Tarvitsen apua CV:n kanssa")
    # the promise comes in office hours, after the request exists; the card is not sent yet
    assert texts_to(calls, PERSON)[-1:] == [
        "RECEIVED #1: valmentaja vastaa WITHIN-4-H.\n\nMitä haluat tehdä?"
    ]
    assert sends_to(calls, GROUP) == []
    assert (await latest_request(h)).status == NEW

    # the card reaches the coach group once, however often the job runs
    assert await deliver(h) == 1
    assert await deliver(h) == 0
    [card_call] = sends_to(h.session.calls, GROUP)
    assert card_call.parse_mode == "HTML"
    req = await latest_request(h)
    card = card_message(h, req)
    assert card.text == (
        "🆕 <b>Pyyntö #1</b> · odottaa valmentajaa\n"
        "<b>Nimi:</b> Matti\n"
        "<b>Kieli:</b> suomi\n"
        "<b>Kunta:</b> –\n"
        "<b>Ikäryhmä:</b> Yli 50\n"
        "<b>Aihe:</b> Työnhaku\n"
        "<b>Yhteydenotto:</b> Chatissa\n"
        "<b>Omin sanoin:</b> Tarvitsen apua CV:n kanssa\n"
        "<b>Aiemmat vastaukset (jaettu):</b>\n"
        "• Työvuodet: 25\n"
        "• Alat: Logistiikka\n"
        "<b>Saapui:</b> 2.3.2026 10:00"
    )
    assert buttons(card) == ["🙋 Otan tämän"]

    # someone in the group who is not a coach: refused, nothing changes
    calls = await press(outsider, card, "🙋 Otan tämän")
    assert toasts(calls) == ["Vain valmentajat voivat tehdä tämän."]
    assert [c for c in calls if isinstance(c, EditMessageText)] == []
    assert (await latest_request(h)).status == NEW

    # Anna takes it: the card says so and gets the coach's buttons; the person is told
    calls = await press(anna, card, "🙋 Otan tämän")
    assert toasts(calls) == ["Pyyntö on nyt sinun. Matti sai tiedon."]
    req = await latest_request(h)
    assert (req.status, req.coach_name) == (CLAIMED, "Anna")
    card = card_message(h, req)
    assert card.text.startswith("🙋 <b>Pyyntö #1</b> · Anna hoitaa tätä\n")
    assert buttons(card) == ["✍️ Vastaa", "📋 Valmiit vastaukset", "🔓 Vapauta", "✅ Sulje"]
    start = len(h.session.calls)
    await deliver(h)
    assert texts_to(h.session.calls[start:], PERSON) == [
        "Hyviä uutisia: Anna työllisyyspalveluista hoitaa pyyntöäsi ja ottaa sinuun yhteyttä "
        "tässä keskustelussa."
    ]

    # Ben may not close Anna's request
    calls = await press(ben, card, "✅ Sulje")
    assert toasts(calls) == ["Tätä pyyntöä hoitaa Anna."]
    assert (await latest_request(h)).status == CLAIMED

    # Anna replies to the card: the person gets it, marked with her name
    await anna.send("Hei Matti! Katsotaan CV yhdessä.", reply_to=card)
    start = len(h.session.calls)
    await deliver(h)
    assert texts_to(h.session.calls[start:], PERSON) == [
        "💬 Anna:\nHei Matti! Katsotaan CV yhdessä."
    ]

    # the person writes: it goes to the coach, under the card; the dialog engine stays quiet
    calls = await person.send("Kiitos! Lähetän CV:n.")
    assert calls == []
    calls = await person.send_document("cv.pdf", caption="Tässä CV")
    assert calls == []
    calls = await person.send_photo(caption="Todistus")
    assert calls == []
    start = len(h.session.calls)
    assert await deliver(h) == 3
    relayed = sends_to(h.session.calls[start:], GROUP)
    assert isinstance(relayed[0], SendMessage)
    assert relayed[0].text == "✉️ Matti (#1):\nKiitos! Lähetän CV:n."
    assert relayed[0].parse_mode is None  # plain text: nothing the person typed is markup
    assert relayed[0].reply_parameters.message_id == req.card_message_id
    assert [type(c) for c in relayed[1:]] == [CopyMessage, CopyMessage]
    assert [c.caption for c in relayed[1:]] == [
        "✉️ Matti (#1):\nTässä CV",
        "✉️ Matti (#1):\nTodistus",
    ]
    assert all(c.from_chat_id == PERSON for c in relayed[1:])
    # the person sees a quiet "delivered" on each message
    assert len([c for c in h.session.calls[start:] if isinstance(c, SetMessageReaction)]) == 3

    # a sticker does not go through: the person is told what does
    calls = await person.send_sticker()
    assert texts_to(calls, PERSON) == [
        "Valmentajalle välittyvät vain tekstit, kuvat ja tiedostot. Kirjoita viestisi, kiitos."
    ]

    # /menu still works and says the coach still sees the request
    calls = await person.send("/menu")
    assert texts_to(calls, PERSON) == [
        "Pyyntösi on yhä auki: Anna näkee sen, ja mitä kirjoitat tähän, menee hänelle.",
        "Mitä haluat tehdä?",
    ]

    # the coaches' own chatter is not relayed: a plain message, a note, a non-coach's reply
    await anna.send("Kuka ehtii huomenna?")
    await anna.send("// soitin jo, ei vastannut", reply_to=card)
    await outsider.send("Minäkin haluan sanoa jotain", reply_to=card)
    start = len(h.session.calls)
    assert await deliver(h) == 0

    # a reply to a relayed message of the person also reaches them; "Reply" opens a prompt
    person_copy = h.session.messages[(GROUP, relayed[0].reply_parameters.message_id + 1)]
    calls = await press(anna, card, "✍️ Vastaa")
    [prompt] = [c for c in calls if isinstance(c, SendMessage)]
    assert isinstance(prompt.reply_markup, ForceReply)
    assert_safe_html(prompt.text)
    prompt_message = h.session.messages[
        (GROUP, max(m for c, m in h.session.messages if c == GROUP))
    ]
    await anna.send("Sain CV:n, kiitos.", reply_to=prompt_message)
    await anna.send_photo(caption="Malli", reply_to=person_copy)
    start = len(h.session.calls)
    await deliver(h)
    to_person = sends_to(h.session.calls[start:], PERSON)
    assert isinstance(to_person[0], SendMessage)
    assert to_person[0].text == "💬 Anna:\nSain CV:n, kiitos."
    assert isinstance(to_person[1], CopyMessage)
    assert (to_person[1].from_chat_id, to_person[1].caption) == (GROUP, "💬 Anna:\nMalli")

    # a saved reply with one tap, in the person's language
    calls = await press(anna, card, "📋 Valmiit vastaukset")
    card = card_message(h, req)
    assert "Kiitos, palaan pian" in buttons(card)
    await press(anna, card, "Kiitos, palaan pian")
    start = len(h.session.calls)
    await deliver(h)
    assert texts_to(h.session.calls[start:], PERSON) == [
        "💬 Anna:\nKiitos viestistäsi! Katson asiaasi ja palaan sinulle pian."
    ]
    assert buttons(card_message(h, req))[0] == "✍️ Vastaa"

    # close with an outcome: the card shows it, the person is thanked and asked for feedback
    calls = await press(anna, card_message(h, req), "✅ Sulje")
    assert toasts(calls) == ["Miten asia päättyi?"]
    assert "Työllistyi" in buttons(card_message(h, req))
    calls = await press(anna, card_message(h, req), "Työllistyi")
    assert toasts(calls) == ["Suljettu. Kiitos!"]
    req = await latest_request(h)
    assert (req.status, req.outcome) == (CLOSED, "employed")
    card = card_message(h, req)
    assert "<b>Tulos:</b> Työllistyi" in card.text
    assert buttons(card) == []
    start = len(h.session.calls)
    await deliver(h)
    [closing] = list(sends_to(h.session.calls[start:], PERSON))
    assert closing.text == (
        "Anna on merkinnyt pyyntösi hoidetuksi. Kiitos, että olit yhteydessä!\n\n"
        "Oliko tästä apua? Valitse numero: 1 = ei lainkaan, 5 = todella paljon."
    )
    assert [b.text for b in closing.reply_markup.inline_keyboard[0]] == ["1", "2", "3", "4", "5"]
    calls = await person.click("4")
    assert texts_to(calls, PERSON) == ["Kiitos vastauksestasi!"]
    assert (await latest_request(h)).feedback == 4
    assert "<b>Palaute:</b> 4/5" in card_message(h, req).text
    # the feedback is stored once: another score pressed later changes nothing, thanks no one
    calls = await person.press(closing.reply_markup.inline_keyboard[0][0].callback_data)
    assert (await latest_request(h)).feedback == 4
    assert texts_to(calls, PERSON) == []
    assert [c.text for c in calls if type(c).__name__ == "AnswerCallbackQuery"] == [
        "Tuo kysymys on jo mennyt. Tässä nykyinen:"
    ]

    # after closing, what the person writes goes to the dialog engine again
    calls = await person.send("hei")
    assert texts_to(calls, PERSON) == ["Valitse alla olevista napeista.\n\n" + MENU]
    assert sends_to(calls, GROUP) == []

    # every relayed message is logged: who, when, which way
    async with h.app.db.read() as session:
        log = await RelayRepository(session).for_request(req.id)
        assert await StatsRepository(session).count("handoff_closed") == 1
    directions = [(m["direction"], m["kind"], m["status"]) for m in log]
    assert directions == [
        ("to_person", "text", "sent"),
        ("to_coach", "text", "sent"),
        ("to_coach", "document", "sent"),
        ("to_coach", "photo", "sent"),
        ("to_person", "text", "sent"),
        ("to_person", "photo", "sent"),
        ("to_person", "saved_reply", "sent"),
    ]
    assert log[1]["text"] == "Kiitos! Lähetän CV:n."
    assert all(m["at"] is not None for m in log)


async def test_request_is_committed_before_the_person_is_told(h: Harness, tmp_path: Path) -> None:
    """At the moment the promise is sent, the request is already in the database."""
    person = await onboard(h)
    seen: list[tuple[str, list[tuple[str, int]]]] = []

    def look(method: Any, _result: Any) -> None:
        if isinstance(method, SendMessage) and method.text.startswith("RECEIVED"):
            with sqlite3.connect(tmp_path / "test.sqlite3") as raw:
                requests = raw.execute("select status, id from handoff_requests").fetchall()
                cards = raw.execute("select key from outbox").fetchall()
            seen.append((method.text, [*requests, *cards]))

    h.session.listeners.append(look)
    await ask_for_coach(person)
    assert seen == [
        (
            "RECEIVED #1: valmentaja vastaa WITHIN-4-H.\n\nMitä haluat tehdä?",
            [("new", 1), ("card:1",)],
        )
    ]


async def test_person_blocked_before_the_promise_still_has_the_request(h: Harness) -> None:
    person = await onboard(h)
    await person.send("ihminen")
    await person.click("Työnhaku")
    await person.click("Ohita")
    await person.click("Chatissa")
    h.session.fail_next(SendMessage, lambda m: TelegramForbiddenError(method=m, message="blocked"))
    await person.click("Ei näe")
    assert (await latest_request(h)).status == NEW
    assert await deliver(h) == 1


async def test_card_escapes_everything_a_person_wrote(h: Harness) -> None:
    person = await onboard(h, first_name="<b>Matti</b> & <a href='x'>co</a>")
    await ask_for_coach(
        person,
        details="<script>alert(1)</script> & <i>kursiivi</i>",
        contact="Puhelimella",
        phone="040 123 4567",
    )
    await deliver(h)
    req = await latest_request(h)
    assert req.phone == "+358401234567"
    card = card_message(h, req)
    assert_safe_html(card.text)
    assert "&lt;b&gt;Matti&lt;/b&gt; &amp; &lt;a href=&#x27;x&#x27;&gt;co&lt;/a&gt;" in card.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;i&gt;kursiivi&lt;/i&gt;" in card.text
    assert "<b>Yhteydenotto:</b> Puhelimella: +358401234567" in card.text
    # the forum topic name and relayed messages are plain text: nothing to escape there
    anna = coach(h, ANNA, "Anna")
    await press(anna, card, "🙋 Otan tämän")
    await person.send("<b>tärkeä</b>")
    start = len(h.session.calls)
    await deliver(h)
    [relayed] = sends_to(h.session.calls[start:], GROUP)
    assert relayed.parse_mode is None
    assert relayed.text.endswith("\n<b>tärkeä</b>")


async def test_a_second_request_while_one_is_open(h: Harness) -> None:
    person = await onboard(h)
    await ask_for_coach(person)
    # the coach keyword again: answered at once, no questions for nothing
    calls = await person.send("ihminen")
    assert texts_to(calls, PERSON) == ["ALREADY-OPEN #1", "Mitä haluat tehdä?"]
    # other words go to the dialogs as usual while the request waits for a coach
    calls = await person.click("Demo")
    assert texts_to(calls, PERSON) == ["Hei Matti!\n\nIkäryhmä?"]
    async with h.app.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


async def test_a_corrected_message_goes_to_the_coach_marked_as_edited(h: Harness) -> None:
    anna = coach(h, ANNA, "Anna")
    person = await onboard(h)
    await ask_for_coach(person)
    await deliver(h)
    await press(anna, card_message(h, await latest_request(h)), "🙋 Otan tämän")
    await person.send("Soita huomena")
    calls = await person.edit(10_999, "Soita huomenna")
    assert calls == []  # the dialogs stay quiet
    start = len(h.session.calls)
    await deliver(h)
    assert texts_to(h.session.calls[start:], GROUP)[-2:] == [
        "✉️ Matti (#1):\nSoita huomena",
        "✉️ Matti (#1): (muokattu)\nSoita huomenna",
    ]


async def test_promise_outside_office_hours_is_the_next_working_day(h: Harness) -> None:
    clock(h).set_local(2026, 3, 6, 17, 30)  # Friday evening
    person = await onboard(h)
    calls = await ask_for_coach(person)
    assert texts_to(calls, PERSON) == ["RECEIVED #1: valmentaja vastaa NEXT-DAY.\n\n" + MENU]
    clock(h).set_local(2026, 3, 9, 7, 0)  # Monday, before the office opens: hours again
    other = await onboard(h, 1002, "Maija")
    calls = await ask_for_coach(other)
    assert texts_to(calls, 1002) == ["RECEIVED #2: valmentaja vastaa WITHIN-4-H.\n\n" + MENU]
    clock(h).set_local(2026, 4, 6, 10, 0)  # Easter Monday: a holiday
    third = await onboard(h, 1003, "Pekka")
    calls = await ask_for_coach(third)
    assert texts_to(calls, 1003) == ["RECEIVED #3: valmentaja vastaa NEXT-DAY.\n\n" + MENU]


# -- claims ------------------------------------------------------------------------------


async def test_concurrent_claims_first_wins(h: Harness) -> None:
    """Two coaches press "take it" at the same moment, ten times over, on a file database."""
    assert h.app.db.url.startswith("sqlite")
    assert not h.app.db.url.endswith(":memory:")
    anna, ben = coach(h, ANNA, "Anna"), coach(h, BEN, "Ben")
    people = [await onboard(h, 2000 + i, f"P{i}") for i in range(10)]
    for person in people:
        await ask_for_coach(person, details=None)
    assert await deliver(h) == 10
    for person in people:
        req = await latest_request(h, person.user_id)
        card = card_message(h, req)
        data = CardAction(op=CLAIM, rid=req.id).pack()
        results = await asyncio.gather(anna.press(data, card), ben.press(data, card))
        # the two feeds ran at once, so each saw the other's calls too: one toast per press
        answers = {
            c.callback_query_id: c.text
            for calls in results
            for c in calls
            if isinstance(c, AnswerCallbackQuery)
        }
        said = sorted(t for t in answers.values() if t)
        req = await latest_request(h, person.user_id)
        assert req.status == CLAIMED
        winner = req.coach_name
        loser = "Ben" if winner == "Anna" else "Anna"
        assert said == sorted(
            [
                "Pyyntö on nyt sinun. " + person.first_name + " sai tiedon.",
                f"{winner} ehti ottaa tämän pyynnön ensin.",
            ]
        ), (winner, loser, said)
    # exactly one "a coach has your request" per person
    rows = await outbox_rows(h)
    claimed_notes = [r for r in rows if r.kind == "to_person"]
    assert len(claimed_notes) == 10
    assert len({r.telegram_chat_id for r in claimed_notes}) == 10


async def test_forged_callback_data_naming_another_request(h: Harness) -> None:
    anna, ben = coach(h, ANNA, "Anna"), coach(h, BEN, "Ben")
    first, second = await onboard(h, 3001, "Eka"), await onboard(h, 3002, "Toka")
    await ask_for_coach(first)
    await ask_for_coach(second)
    await deliver(h)
    one, two = await latest_request(h, 3001), await latest_request(h, 3002)
    await press(ben, card_message(h, two), "🙋 Otan tämän")
    await deliver(h)
    card_one = card_message(h, one)
    before = [len(h.session.calls), await request(h, two.id)]

    forged = [
        CardAction(op=CLAIM, rid=two.id).pack(),  # claim #2 from #1's card
        CardAction(op=CLOSE, rid=two.id).pack(),
        CardAction(op=OUTCOME, rid=two.id, arg="employed").pack(),  # close Ben's request
        CardAction(op=OUTCOME, rid=one.id, arg="no_such_outcome").pack(),
        CardAction(op="z", rid=one.id).pack(),
        "h:c:abc:",
        "h:" + "x" * 60,
    ]
    for data in forged:
        calls = await anna.press(data, card_one)
        assert len(toasts(calls)) == 1, data
        # at most the card is shown again as it is; it never changes
        assert card_message(h, one) == card_one, data
    assert await request(h, two.id) == before[1]
    assert (await request(h, one.id)).status == NEW
    # a card button pressed in a private chat is just an old button there
    calls = await first.press(CardAction(op=CLAIM, rid=one.id).pack())
    assert texts_to(calls, 3001)[0].startswith("Tuo kysymys on jo mennyt. Tässä nykyinen:\n\n")
    assert (await request(h, one.id)).status == NEW
    # releasing hands it back, and anyone may take it again
    await press(ben, card_message(h, two), "🔓 Vapauta")
    assert (await request(h, two.id)).status == NEW
    calls = await press(anna, card_message(h, two), "🙋 Otan tämän")
    assert (await request(h, two.id)).coach_name == "Anna"
    start = len(h.session.calls)
    await deliver(h)
    released, claimed = texts_to(h.session.calls[start:], 3002)
    assert released.startswith("Pyyntösi palasi jonoon")
    assert claimed.startswith("Hyviä uutisia: Anna")


async def test_admins_are_coaches_and_may_handle_every_request(h: Harness) -> None:
    anna, admin = coach(h, ANNA, "Anna"), coach(h, 9001, "Aino")
    person = await onboard(h)
    await ask_for_coach(person)
    await deliver(h)
    await press(anna, card_message(h, await latest_request(h)), "🙋 Otan tämän")
    req = await latest_request(h)
    await press(admin, card_message(h, req), "✅ Sulje")
    calls = await press(admin, card_message(h, req), "Ei enää tarvetta")
    assert toasts(calls) == ["Suljettu. Kiitos!"]
    assert (await latest_request(h)).outcome == "no_longer_needed"


# -- relay edge cases ----------------------------------------------------------------------


async def test_person_blocked_the_bot_the_coach_is_told(h: Harness) -> None:
    anna = coach(h, ANNA, "Anna")
    person = await onboard(h)
    await ask_for_coach(person)
    await deliver(h)
    card = card_message(h, await latest_request(h))
    await press(anna, card, "🙋 Otan tämän")
    await deliver(h)
    await anna.send("Oletko paikalla?", reply_to=card)
    await anna.send("Soitan huomenna.", reply_to=card)
    h.session.fail_next(
        SendMessage,
        lambda m: TelegramForbiddenError(method=m, message="Forbidden: bot was blocked"),
    )
    start = len(h.session.calls)
    await deliver(h)  # the first fails: the second is not tried; the coach gets a notice
    await deliver(h)
    assert texts_to(h.session.calls[start:], GROUP) == [
        "⚠️ Matti (#1) on estänyt botin: viesti ei mennyt perille."
    ]
    assert len(sends_to(h.session.calls[start:], PERSON)) == 1
    async with h.app.db.read() as session:
        blocked = await PersonRepository(session).by_telegram_id(PERSON)
        log = await RelayRepository(session).for_request(1)
    assert blocked is not None
    assert blocked.blocked
    assert [m["status"] for m in log] == ["blocked", "blocked"]


async def test_coach_replies_before_claiming_and_on_closed_requests_are_refused(h: Harness) -> None:
    anna = coach(h, ANNA, "Anna")
    person = await onboard(h)
    await ask_for_coach(person)
    await deliver(h)
    card = card_message(h, await latest_request(h))
    calls = await anna.send("Hei!", reply_to=card)
    assert texts_to(calls, GROUP) == ["Ota pyyntö ensin itsellesi (🙋 kortissa)."]
    await press(anna, card, "🙋 Otan tämän")
    calls = await anna.send_sticker()  # not a reply: nothing happens
    assert calls == []


# -- the outbox ----------------------------------------------------------------------------


async def test_outbox_retries_after_429_and_500_and_sends_once(h: Harness) -> None:
    from aiogram.exceptions import TelegramRetryAfter, TelegramServerError

    person = await onboard(h)
    await ask_for_coach(person)
    h.session.fail_next(
        SendMessage,
        lambda m: TelegramRetryAfter(method=m, message="Too Many Requests", retry_after=7),
    )
    assert await deliver(h) == 0
    [row] = await outbox_rows(h)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "429")
    assert row.next_attempt_at == clock(h).now + timedelta(seconds=8)
    assert await deliver(h) == 0  # not due yet
    clock(h).advance(seconds=8)
    h.session.fail_next(
        SendMessage, lambda m: TelegramServerError(method=m, message="Internal Server Error")
    )
    assert await deliver(h) == 0
    [row] = await outbox_rows(h)
    assert (row.status, row.attempts, row.last_error) == ("pending", 2, "5xx")
    clock(h).advance(seconds=10)
    assert await deliver(h) == 1
    assert await deliver(h) == 0
    clock(h).advance(hours=1)
    assert await deliver(h) == 0
    # three tries, one card: no retry happened behind the outbox's back
    assert len(sends_to(h.session.calls, GROUP)) == 3
    [row] = await outbox_rows(h)
    req = await latest_request(h)
    assert (row.status, row.attempts, row.telegram_message_id) == ("sent", 3, req.card_message_id)
    assert req.card_message_id is not None


async def test_unknown_outcome_is_never_resent_automatically(h: Harness) -> None:
    from aiogram.exceptions import TelegramNetworkError

    person = await onboard(h)
    await ask_for_coach(person)
    h.session.fail_next(
        SendMessage, lambda m: TelegramNetworkError(method=m, message="Request timeout error")
    )
    start = len(h.session.calls)
    assert await deliver(h) == 0
    [row] = await outbox_rows(h)
    assert row.status == "unknown"
    [alert] = [
        c for c in h.session.calls[start:] if isinstance(c, SendMessage) and c.chat_id == 9001
    ]
    assert alert.text.startswith("⚠️ Telegram ei vahvistanut, menikö pyynnön #1 kortti perille.")
    clock(h).advance(days=2)
    assert await deliver(h) == 0
    assert len(sends_to(h.session.calls, GROUP)) == 1
    # the request is still in the queue for the coaches
    anna = coach(h, ANNA, "Anna")
    calls = await anna.send("/queue")
    [queue] = texts_to(calls, GROUP)
    assert "#1" in queue
    assert "odottaa" in queue
    # an admin looked and decides: send it again (once)
    admin = h.person(9001, first_name="Aino")
    calls = await admin.press(alert.reply_markup.inline_keyboard[0][0].callback_data)
    assert toasts(calls) == ["Jonossa uudelleen."]
    calls = await admin.press(alert.reply_markup.inline_keyboard[0][0].callback_data)
    assert toasts(calls) == ["Tämä on jo hoidettu."]
    assert await deliver(h) == 1
    assert await deliver(h) == 0
    cards = [c for c in sends_to(h.session.calls, GROUP) if c.text.startswith("🆕")]
    assert len(cards) == 2


async def test_cannot_connect_is_retried_a_crash_mid_send_is_unknown(h: Harness) -> None:
    from aiogram.exceptions import TelegramNetworkError

    person = await onboard(h)
    await ask_for_coach(person)
    h.session.fail_next(
        SendMessage,
        lambda m: TelegramNetworkError(method=m, message="ClientConnectorError: Cannot connect"),
    )
    assert await deliver(h) == 0
    [row] = await outbox_rows(h)
    assert (row.status, row.last_error) == ("pending", "connect")
    # a worker claims the row and dies before it can record anything
    async with h.app.db.transaction() as session:
        from bot.features.handoff.outbox import LEASE

        clock(h).advance(seconds=10)
        assert await OutboxRepository(session).claim(row.id, now=clock(h).now, lease=LEASE)
    assert await deliver(h) == 0  # still leased: nobody touches it
    clock(h).advance(minutes=6)
    assert await deliver(h) == 0
    [row] = await outbox_rows(h)
    assert (row.status, row.last_error) == ("unknown", "lease expired")
    assert len(sends_to(h.session.calls, GROUP)) == 1


async def test_coach_group_refuses_the_row_is_held_admins_told_once(h: Harness) -> None:
    person = await onboard(h)
    await ask_for_coach(person)

    def kicked() -> None:
        h.session.fail_next(
            SendMessage,
            lambda m: TelegramForbiddenError(method=m, message="Forbidden: bot was kicked"),
        )

    kicked()
    start = len(h.session.calls)
    assert await deliver(h) == 0
    [row] = await outbox_rows(h)
    assert row.status == "held"
    clock(h).advance(minutes=59)
    assert await deliver(h) == 0
    clock(h).advance(minutes=2)
    kicked()
    assert await deliver(h) == 0  # refused again: still held, no second alert
    alerts = [
        c for c in h.session.calls[start:] if isinstance(c, SendMessage) and c.chat_id == 9001
    ]
    assert len(alerts) == 1
    assert "(403 Forbidden: bot was kicked)" in alerts[0].text
    clock(h).advance(hours=1, minutes=1)
    assert await deliver(h) == 1
    assert (await outbox_rows(h))[0].status == "sent"


async def test_forum_group_gets_a_topic_per_request(h: Harness) -> None:
    h.session.forums.add(GROUP)
    anna = coach(h, ANNA, "Anna")
    person = await onboard(h)
    await ask_for_coach(person)
    await deliver(h)
    req = await latest_request(h)
    assert req.topic_thread_id is not None
    assert h.session.topics[(GROUP, req.topic_thread_id)] == "#1 Matti – Työnhaku"
    [card_call] = sends_to(h.session.calls, GROUP)
    assert card_call.message_thread_id == req.topic_thread_id
    await press(anna, card_message(h, req), "🙋 Otan tämän")
    # the coach just writes in the topic; the person's answer lands there too
    await anna.send("Hei Matti, täällä Anna.", thread_id=req.topic_thread_id)
    await person.send("Hei Anna!")
    start = len(h.session.calls)
    await deliver(h)
    assert texts_to(h.session.calls[start:], PERSON)[-1] == "💬 Anna:\nHei Matti, täällä Anna."
    [relayed] = sends_to(h.session.calls[start:], GROUP)
    assert relayed.message_thread_id == req.topic_thread_id
    assert relayed.reply_parameters is None
    await press(anna, card_message(h, req), "✅ Sulje")
    calls = await press(anna, card_message(h, req), "Koulutus tai opiskelu")
    assert [c.message_thread_id for c in calls if isinstance(c, CloseForumTopic)] == [
        req.topic_thread_id
    ]


# -- queue, timers -------------------------------------------------------------------------


async def test_queue_and_mine(h: Harness) -> None:
    anna, outsider = coach(h, ANNA, "Anna"), coach(h, OUTSIDER, "Olli")
    for i in range(3):
        await ask_for_coach(await onboard(h, 4000 + i, f"H{i}"), details=None)
        clock(h).advance(minutes=30)
    await deliver(h)
    await press(anna, card_message(h, await latest_request(h, 4000)), "🙋 Otan tämän")
    calls = await anna.send("/queue")
    [text] = texts_to(calls, GROUP)
    assert_safe_html(text)
    lines = text.splitlines()
    assert lines[0] == "<b>Avoimet pyynnöt (3)</b>"
    # unclaimed first, oldest first; then the taken one
    assert [line.split(" · ")[0] for line in lines[1:]] == ["• #2", "• #3", "• #1"]
    assert "https://t.me/c/1234567890/" in lines[1]
    calls = await anna.send("/mine")
    [text] = texts_to(calls, GROUP)
    assert text.splitlines()[0] == "<b>Sinun pyyntösi (1)</b>"
    assert "#1" in text
    # someone who is not a coach: refused before anything (bot/features/handoff/roster.py)
    await h.dispatcher["coach_roster"].refresh()
    assert await outsider.send("/queue") == []


async def test_reannounce_remind_and_digest(h: Harness) -> None:
    from bot.features.handoff.jobs import handoff_timers

    anna = coach(h, ANNA, "Anna")
    clock(h).set_local(2026, 3, 6, 13, 0)  # Friday: that day's digest
    assert await handoff_timers(h.app, h.bot) == 1
    clock(h).set_local(2026, 3, 6, 14, 0)  # Friday 14:00; the office closes at 15
    waiting = await onboard(h, 5001, "Odottaja")
    await ask_for_coach(waiting)
    taken = await onboard(h, 5002, "Hiljainen")
    await ask_for_coach(taken)
    await deliver(h)
    await press(anna, card_message(h, await latest_request(h, 5002)), "🙋 Otan tämän")
    assert await handoff_timers(h.app, h.bot) == 0

    # two working hours later is Monday 9:00 (Friday 14-15, Monday 8-9)
    clock(h).set_local(2026, 3, 9, 8, 0)
    assert await handoff_timers(h.app, h.bot) == 0
    clock(h).set_local(2026, 3, 9, 8, 20)  # ... and the morning digest is due
    assert await handoff_timers(h.app, h.bot) == 1
    assert await handoff_timers(h.app, h.bot) == 0  # once a day
    clock(h).set_local(2026, 3, 9, 9, 1)
    assert await handoff_timers(h.app, h.bot) == 1
    assert await handoff_timers(h.app, h.bot) == 0
    start = len(h.session.calls)
    await deliver(h)
    # cards first: the re-announcement (a card) goes ahead of the digest queued before it
    reannounced, digest = sends_to(h.session.calls[start:], GROUP)
    assert digest.text.splitlines()[:4] == [
        "<b>☀️ Huomenta! Yhteydenottopyynnöt 9.3.2026</b>",
        "Uusia edellisen koosteen jälkeen: 2",
        "Odottaa valmentajaa: 1",
        "Myöhässä: 0",
    ]
    assert reannounced.text.startswith("⏰ Odottaa yhä valmentajaa (2 pv)\n🆕 <b>Pyyntö #1</b>")
    assert buttons(h.session.messages[(GROUP, (await outbox_rows(h))[-1].telegram_message_id)]) == [
        "🙋 Otan tämän"
    ]
    # the re-announcement is a card: taking it from there works
    [row] = [r for r in await outbox_rows(h) if r.kind == "reannounce"]
    await press(anna, h.session.messages[(GROUP, row.telegram_message_id)], "🙋 Otan tämän")
    assert (await latest_request(h, 5001)).status == CLAIMED

    # #2 has been quiet since Friday: three working days later (Wednesday), Anna is reminded
    clock(h).set_local(2026, 3, 10, 10, 0)
    assert await handoff_timers(h.app, h.bot) == 1  # Tuesday: the digest only
    clock(h).set_local(2026, 3, 11, 10, 0)
    assert await handoff_timers(h.app, h.bot) == 2  # Wednesday: the digest and the reminder
    clock(h).set_local(2026, 3, 11, 10, 5)
    assert await handoff_timers(h.app, h.bot) == 0  # reminded once, until something happens
    start = len(h.session.calls)
    await deliver(h)
    texts = texts_to(h.session.calls[start:], GROUP)
    [reminder] = [t for t in texts if t.startswith("⏰")]
    assert reminder == (
        '⏰ <a href="tg://user?id=501">Anna</a>, pyynnössä #2 on ollut hiljaista 3 työpäivää. '
        "Onko jotain tehtävää, vai voiko pyynnön sulkea?"
    )
    # days later, the next digest forgets what delivered messages said (the rows stay)
    clock(h).set_local(2026, 3, 16, 9, 0)
    await handoff_timers(h.app, h.bot)
    rows = {r.key: r for r in await outbox_rows(h)}
    cutoff = clock(h).now - timedelta(days=2)
    old = [r for r in rows.values() if r.created_at < cutoff and r.kind != "card"]
    assert {r.kind for r in old} == {"digest", "group_text", "reannounce", "to_person"}
    assert [r.payload for r in old if r.kind != "reannounce"] == [{}] * (len(old) - 1)
    assert rows["digest:2026-03-16"].payload["html"].startswith("<b>☀️")


async def test_anonymising_a_person_keeps_the_counts(h: Harness) -> None:
    anna = coach(h, ANNA, "Anna")
    person = await onboard(h)
    await ask_for_coach(person, details="Salainen asia")
    await deliver(h)
    await press(anna, card_message(h, await latest_request(h)), "🙋 Otan tämän")
    await person.send("Yksityinen viesti")
    await deliver(h)
    await person.send("Toinen viesti")
    req = await latest_request(h)
    async with h.app.db.transaction() as session:
        assert await HandoffRepository(session).anonymise_person(req.person_id) == 1
        assert await PersonRepository(session).delete_by_telegram_id(PERSON)
    async with h.app.db.read() as session:
        gone = await HandoffRepository(session).get(req.id)
        texts = list(await session.scalars(select(RelayMessage.text)))
        relays = (
            await session.execute(
                select(OutboxMessage.status, OutboxMessage.payload).where(
                    OutboxMessage.kind == "relay_in"
                )
            )
        ).all()
    assert gone is not None
    assert (gone.person_id, gone.first_name, gone.details, gone.status) == (
        None,
        None,
        None,
        CLOSED,
    )
    assert gone.topic == "job_search"
    assert texts == [None, None]
    assert [tuple(r) for r in relays] == [("sent", {}), ("skipped", {})]
    assert await deliver(h) == 0


# -- the person's data deleted: their messages leave the coach chat --------------------------


async def erase(h: Harness, telegram_id: int = PERSON) -> None:
    """What /delete (or the retention purge) does, in its own transaction."""
    from bot.features.privacy.service import erase_person
    from db.repositories import Subject

    async with h.app.db.transaction() as session:
        person = await PersonRepository(session).by_telegram_id(telegram_id)
        assert person is not None
        await erase_person(
            session, h.app, Subject(person.id, telegram_id), now=h.app.clock(), reason="request"
        )


def group_texts(h: Harness) -> list[str]:
    return [
        f"{m.text or ''}{m.caption or ''}"
        for (chat, _), m in sorted(h.session.messages.items())
        if chat == GROUP
    ]


async def taken_request(h: Harness) -> tuple[ChatClient, RequestInfo]:
    """Matti's request, its card in the coach chat, taken by Anna."""
    person = await onboard(h)
    await ask_for_coach(person)
    await deliver(h)
    req = await latest_request(h)
    await press(coach(h, ANNA, "Anna"), card_message(h, req), "🙋 Otan tämän")
    return person, req


async def test_erasure_deletes_the_requests_forum_topic(h: Harness) -> None:
    h.session.forums.add(GROUP)
    person, req = await taken_request(h)
    await person.send("Hei Anna!")
    await deliver(h)
    assert any("Hei Anna!" in text for text in group_texts(h))

    await erase(h)
    start = len(h.session.calls)
    assert await deliver(h) == 1
    assert [type(c) for c in h.session.calls[start:]] == [DeleteForumTopic]
    assert (GROUP, req.topic_thread_id) not in h.session.topics
    assert not any("Matti" in text or "Hei Anna!" in text for text in group_texts(h))
    assert await deliver(h) == 0  # once


async def test_erasure_in_a_plain_group_edits_what_is_too_old_to_delete(h: Harness) -> None:
    person, _ = await taken_request(h)
    await person.send("Kiitos! Lähetän CV:n.")
    await person.send_photo(caption="Todistus")
    await person.send("Vielä yksi asia")
    await deliver(h)
    assert sum("Matti" in text for text in group_texts(h)) >= 4  # the card, three messages

    await erase(h)
    too_old = "Bad Request: message can't be deleted"
    for _ in range(3):  # the three relayed messages are too old to delete
        h.session.fail_next(DeleteMessage, lambda m: TelegramBadRequest(method=m, message=too_old))
    h.session.fail_next(  # and the photo's caption cannot be changed either
        EditMessageCaption, lambda m: TelegramBadRequest(method=m, message="Bad Request: no")
    )
    start = len(h.session.calls)
    assert await deliver(h) == 1
    assert group_texts(h) == [
        "🗑 Pyyntö #1: henkilö pyysi poistamaan tietonsa, joten tämän pyynnön viestit on "
        "poistettu ryhmästä.",
        "🗑 Poistettu henkilön pyynnöstä.",
        "✉️ Matti (#1):\nTodistus",
        "🗑 Poistettu henkilön pyynnöstä.",
    ]
    # what could not be removed is the admins' to do, by hand
    assert texts_to(h.session.calls[start:], ADMIN) == [
        "⚠️ Pyynnön #1 henkilö pyysi poistamaan tietonsa, mutta 1 viesti jäi valmentajaryhmään: "
        "Telegram ei anna botin enää poistaa tai muuttaa sitä. Poista se ryhmästä käsin."
    ]
