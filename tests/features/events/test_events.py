"""Events and trainings in the bot, on the bundled dialogs, content and catalogue: suggestions
at the end of the career plan, the browser, cards, sign-ups with calendar files, capacity under
concurrent sign-ups, the waiting list, reminders, "not for me", poster links and stale buttons.

The clock is fixed (Tuesday 5 January 2027, 10:00 in Helsinki), so every date is known.
Assertions are on the exact Bot API calls the bot makes."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.exceptions import TelegramForbiddenError
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendDocument, SendMessage
from sqlalchemy import select

from bot.app import App
from bot.catalogue import HELSINKI
from bot.engine.state import ConversationState
from bot.features import build_registry
from bot.features.events import callbacks as cb
from bot.features.events.jobs import find_moved, send_notices
from bot.telegram.offline import ChatClient
from db.models import EventNotice, EventSignup
from db.repositories import (
    SEATED,
    AnswerRepository,
    EventRepository,
    PersonRepository,
    StateRepository,
    StatsRepository,
)
from tests.support import (
    CAREER_PLAN_ANSWERS,
    ROOT,
    Clock,
    Harness,
    buttons_of,
    make_app,
    make_harness,
    make_settings,
    onboard,
    texts_of,
)

NOW = datetime(2027, 1, 5, 10, 0, tzinfo=HELSINKI)  # a Tuesday
#: YrittäjäKaverit Karkkila: a course run of 6 meetings from Tuesday 19 January 2027, 9:00;
#: 12 places, sign-up in the bot
YK = "yrittajakaverit-karkkila"
YK_START = datetime(2027, 1, 19, 9, 0, tzinfo=HELSINKI)
YK_WHEN = "tiistai 19.1.2027 klo 9.00–13.00 (kerta 1/6)"
#: the line of every item nobody has confirmed with its organiser (all bundled items so far)
UNCONFIRMED = "❔ Tiedot vahvistamatta – kysy valmentajalta"
#: a place the catalogue has no street address for
KARKKILA_TOWN_HALL = "📍 Karkkilan kaupungintalo, Karkkila (osoite vahvistamatta)"
YK_CARD = (
    "YrittäjäKaverit Karkkila\n"
    "Yrittäjyysvalmennus · Luksia, Länsi-Uudenmaan koulutuskuntayhtymä\n"
    "\n"
    "Kolmen viikon ryhmä sinulle, joka mietit omaa yritystä. Liikeidea, rahoitus ja "
    "ensimmäiset asiakkaat.\n"
    "\n"
    f"{UNCONFIRMED}\n"
    "\n"
    f"🗓 {YK_WHEN}\n"
    "🔁 19.1.2027–4.2.2027, tiistai ja torstai klo 9.00; "
    "13.4.2027–29.4.2027, tiistai ja torstai klo 9.00\n"
    f"{KARKKILA_TOWN_HALL}\n"
    "👥 Kenelle: yli 50-vuotiaille\n"
    "🗣 suomi"
)
#: the choice of the first run of YrittäjäKaverit Karkkila (the course is held twice)
YK_RUN = "19.1.2027 klo 9.00"
YK_CHOOSE = (
    "YrittäjäKaverit Karkkila\n\n"
    "Kurssi järjestetään useamman kerran. Mihin niistä haluat osallistua?"
)
OSM_KARKKILA = "https://www.openstreetmap.org/?mlat=60.53460&mlon=24.20940#map=16/60.53460/24.20940"
MOVED_ON = "Tämä on ehtinyt muuttua. Tässä tilanne nyt."
BROWSER = "🗓 Tapahtumat ja koulutukset. Mitä haluat katsoa?"


def clock(h: Harness) -> Clock:
    assert isinstance(h.app.clock, Clock)
    return h.app.clock


# -- helpers -----------------------------------------------------------------------------------


async def take(person: ChatClient) -> list[Any]:
    """On the card of YrittäjäKaverit Karkkila: "Sign me up", and the first run."""
    await person.click("✍️ Ilmoittaudu")
    return await person.click(YK_RUN)


def sent(calls: list[Any]) -> list[SendMessage]:
    return [c for c in calls if isinstance(c, SendMessage)]


def edits(calls: list[Any]) -> list[EditMessageText]:
    return [c for c in calls if isinstance(c, EditMessageText)]


def toasts(calls: list[Any]) -> list[str | None]:
    return [c.text for c in calls if isinstance(c, AnswerCallbackQuery)]


def labels(call: Any) -> list[str]:
    return [label for label, _ in buttons_of(call)]


def data_of(call: Any, label: str) -> str:
    [data] = [d for text, d in buttons_of(call) if text == label]
    assert data is not None
    return data


async def person_id(h: Harness, telegram_id: int) -> int:
    async with h.app.db.read() as session:
        person = await PersonRepository(session).by_telegram_id(telegram_id)
    assert person is not None
    return person.id


async def signups(h: Harness, item_id: str = YK) -> list[tuple[int, str]]:
    """(telegram id, status) of everyone signed up for the item, in sign-up order."""
    from db.models import Person

    async with h.app.db.read() as session:
        rows = await session.execute(
            select(Person.telegram_id, EventSignup.status)
            .join(Person, Person.id == EventSignup.person_id)
            .where(EventSignup.item_id == item_id)
            .order_by(EventSignup.id)
        )
        return [(int(t), str(s)) for t, s in rows]


async def fill(h: Harness, seats: int, *, item_id: str = YK, start: datetime = YK_START) -> None:
    """``seats`` other people take seats."""
    async with h.app.db.transaction() as session:
        for n in range(seats):
            person, _ = await PersonRepository(session).ensure(80_000 + n, "fi")
            result = await EventRepository(session).take_seat(
                person.id, item_id, start, 12, now=NOW
            )
            assert result.outcome == SEATED


async def notices(h: Harness) -> list[tuple[str, str]]:
    async with h.app.db.read() as session:
        rows = await session.execute(
            select(EventNotice.kind, EventNotice.status).order_by(EventNotice.id)
        )
        return [(str(k), str(s)) for k, s in rows]


# -- suggestions at the end of the career plan ---------------------------------------------------


async def test_career_plan_ends_with_suggestions_and_reasons(h: Harness) -> None:
    person = await onboard(h, 1001)
    await person.click("Suunnittele polkuni")
    for answer in CAREER_PLAN_ANSWERS:
        await person.click(answer)
    calls = await person.click("Ohita")
    texts = [c.text for c in sent(calls)]
    assert texts[0].startswith("📝 Yhteenveto vastauksistasi:")
    suggestions = sent(calls)[1]
    assert suggestions.text.startswith(
        "Nämä voisivat sopia sinulle:\n\n"
        "1. YrittäjäKaverit Karkkila\n"
        f"{YK_WHEN}\n"
        f"{UNCONFIRMED}\n"
        "Paikkoja jäljellä: 12\n"
        "Koska haluat perustaa yrityksen ja olet yli 50-vuotias.\n\n"
        "2. Työturvallisuuskortti Lohja\n"
    )
    # five suggestions, each with its reasons, and the dialog's question below them
    assert suggestions.text.count("\n\n") == 6
    assert suggestions.text.endswith("\n\nMitä haluat tehdä nyt?")
    assert len(texts) == 2  # the next steps are behind a button
    assert buttons_of(suggestions)[0] == ("1. YrittäjäKaverit Karkkila", f"e:c:{YK}:r:0:0:0")
    # no paging inside the dialog: the dialog's own buttons follow the items
    assert labels(suggestions)[5:] == [
        "Seuraavat askeleet",
        "Puhu tästä valmentajalle",
        "Näytä suunnitelmani",
        "Aloita suunnitelma alusta",
        "Takaisin valikkoon",  # the plan is done: no "↩ Takaisin"
    ]

    # a suggestion opens its card in place; "back" shows the suggestions again
    calls = await person.press(f"e:c:{YK}:r:0:0:0", person.messages()[-1])
    [card] = edits(calls)
    assert card.text == f"{YK_CARD}\n🎟 Paikkoja jäljellä: 12"
    calls = await person.press(data_of(card, "↩ Takaisin"), person.messages()[-1])
    [back] = edits(calls)
    assert [type(c).__name__ for c in calls] == ["AnswerCallbackQuery", "EditMessageText"]
    # the suggestions and the dialog's question below them, as they were first shown
    assert back.text == suggestions.text
    assert buttons_of(back) == buttons_of(suggestions)
    # and the question's buttons work
    calls = await person.click("Seuraavat askeleet")
    assert any(t.startswith("🧭 Tässä ovat seuraavat askeleesi.") for t in texts_of(calls))


# -- the browser ---------------------------------------------------------------------------------


async def test_browser_from_the_menu_and_back(h: Harness) -> None:
    person = await onboard(h, 1001)
    calls = await person.click("Tapahtumat ja koulutukset")
    browser = sent(calls)[-1]
    assert browser.text == BROWSER
    assert buttons_of(browser) == [
        ("⭐ Sinulle sopivat", "e:l::r:0:0:0"),
        ("📚 Tyypin mukaan", "e:k:::0:0:0"),
        ("📍 Paikkakunnan mukaan", "e:m:::0:0:0"),
        ("📅 Tällä viikolla", "e:l::w:0:0:0"),
        ("💻 Verkossa", "e:l::o:0:0:0"),
        ("🎟 Omat ilmoittautumiset", "e:l::s:0:0:0"),
        ("↩ Päävalikkoon", "e:b:::0:0:0"),
    ]
    # the person has left the dialogs: the browser has the conversation
    state = await conversation_state(h, 1001)
    assert state.position is None
    calls = await person.click("↩ Päävalikkoon")
    assert [c.text for c in sent(calls)] == ["Mitä haluat tehdä?"]


async def conversation_state(h: Harness, user_id: int) -> ConversationState:
    async with h.app.db.read() as session:
        found = await StateRepository(session).get(f"{h.bot.id}:{user_id}:{user_id}:0:default")
    return ConversationState.from_data(found[1] if found else None)


async def test_lists_by_kind_page_in_place(h: Harness) -> None:
    person = await onboard(h, 1001)
    await person.click("Tapahtumat ja koulutukset")
    calls = await person.click("📚 Tyypin mukaan")
    [kinds] = edits(calls)
    assert kinds.text == "📚 Millaista tapahtumaa etsit?"
    assert "Korttikoulutus" in labels(kinds)

    calls = await person.click("Korttikoulutus")
    [page1] = edits(calls)
    assert page1.text.startswith(
        "📚 Korttikoulutus\n\n"
        "1. Työturvallisuuskortti Lohja\n"
        "torstai 21.1.2027 klo 8.30–16.30\n"
        f"{UNCONFIRMED}\n"
        "Paikkoja jäljellä: 20\n\n"
        "2. "
    )
    assert page1.text.endswith("Sivu 1/2")
    assert labels(page1)[-2:] == ["Seuraavat ▶", "↩ Takaisin"]
    assert data_of(page1, "Seuraavat ▶") == f"e:l::k{8}:1:0:0"  # card_training is kind 8

    calls = await person.click("Seuraavat ▶")
    assert not sent(calls)  # paged in place
    [page2] = edits(calls)
    assert page2.message_id == page1.message_id
    assert page2.text.startswith("📚 Korttikoulutus\n\n6. ")
    assert page2.text.endswith("Sivu 2/2")
    assert labels(page2)[-2:] == ["◀ Edelliset", "↩ Takaisin"]

    # the same page again: nothing changes, so no edit is sent at all
    calls = await person.press(data_of(page1, "Seuraavat ▶"))
    assert [type(c) for c in calls] == [AnswerCallbackQuery]

    calls = await person.click("◀ Edelliset")
    assert edits(calls)[0].text == page1.text
    calls = await person.click("↩ Takaisin")
    assert edits(calls)[0].text == "📚 Millaista tapahtumaa etsit?"
    calls = await person.click("↩ Takaisin")
    assert edits(calls)[0].text == BROWSER


async def test_lists_by_place_this_week_and_online(h: Harness) -> None:
    person = await onboard(h, 1001)
    await person.click("Tapahtumat ja koulutukset")
    await person.click("📍 Paikkakunnan mukaan")
    calls = await person.click("Karkkila")
    [karkkila] = edits(calls)
    assert karkkila.text.startswith(
        "📍 Karkkila\n\n1. DuuniExpo Karkkila\nperjantai 8.1.2027 klo 10.00–14.00\n"
        f"{UNCONFIRMED}\n\n2. "
    )
    assert "verkossa" not in karkkila.text.casefold()  # held there, not online
    await person.click("↩ Takaisin")
    await person.click("↩ Takaisin")

    calls = await person.click("📅 Tällä viikolla")
    [week] = edits(calls)
    assert week.text.startswith("📅 Seuraavan 7 päivän aikana\n\n1. ")
    dates = [line for line in week.text.split("\n") if " klo " in line]
    assert dates
    assert all(d.split()[1] in {f"{n}.1.2027" for n in range(5, 13)} for d in dates)
    await person.click("↩ Takaisin")

    calls = await person.click("💻 Verkossa")
    [online] = edits(calls)
    assert online.text.startswith("💻 Verkossa: osallistu kotoa käsin\n\n1. ")
    opened = [data for _, data in buttons_of(online) if data and data.startswith("e:c:")]
    catalogue = h.app.content.catalogue
    assert opened
    assert all(catalogue.get(d.split(":")[2]).online for d in opened)


async def test_card_of_an_item_without_sign_up(h: Harness) -> None:
    person = await onboard(h, 1001)
    calls = await person.send("/start ev_duuniexpo-karkkila")
    [card] = sent(calls)
    assert card.text.endswith(
        f"🔁 joka perjantai klo 10.00\n{KARKKILA_TOWN_HALL}\n"
        "👥 Kenelle: kaikille\n🗣 suomi\n🎟 Ei ilmoittautumista, tule paikalle"
    )
    assert labels(card) == [
        "🗺 Kartta",
        "📅 Kalenteritiedosto",
        "🙅 Ei minulle",
        "💬 Kysy valmentajalta",
        "↩ Takaisin",
    ]
    # from a card straight to a coach: the handoff dialog starts
    calls = await person.click("💬 Kysy valmentajalta")
    assert [c.text for c in sent(calls)][-1].startswith("🙋 Yhdistän sinut valmentajaan.")


# -- cards and sign-ups ------------------------------------------------------------------------


async def test_card_sign_up_calendar_file_and_my_signups(h: Harness) -> None:
    person = await onboard(h, 1001)
    calls = await person.send(f"/start ev_{YK}")
    [card] = sent(calls)
    assert card.text == f"{YK_CARD}\n🎟 Paikkoja jäljellä: 12"
    start = cb.minutes(YK_START)
    assert buttons_of(card) == [
        ("✍️ Ilmoittaudu", f"e:u:{YK}::0:0:0"),
        ("🗺 Kartta", None),
        ("📅 Kalenteritiedosto", f"e:f:{YK}::0:0:0"),
        ("🙅 Ei minulle", f"e:n:{YK}::0:0:0"),
        ("💬 Kysy valmentajalta", "e:t:::0:0:0"),
        ("↩ Takaisin", "e:h:::0:0:0"),
    ]
    assert card.reply_markup.inline_keyboard[1][0].url == OSM_KARKKILA

    # the course is held twice: which run?
    calls = await person.click("✍️ Ilmoittaudu")
    [choose] = edits(calls)
    assert choose.text == YK_CHOOSE
    later = cb.minutes(datetime(2027, 4, 13, 9, 0, tzinfo=HELSINKI))
    assert buttons_of(choose) == [
        (YK_RUN, f"e:s:{YK}::0:{start}:0"),
        ("13.4.2027 klo 9.00", f"e:s:{YK}::0:{later}:0"),
        ("↩ Takaisin", f"e:c:{YK}::0:0:0"),
    ]
    assert await signups(h) == []
    calls = await person.click(YK_RUN)
    assert [type(c) for c in calls] == [AnswerCallbackQuery, EditMessageText, SendDocument]
    [edit] = edits(calls)
    assert edit.text == f"{YK_CARD}\n✅ Sinulla on paikka."
    assert labels(edit)[0] == "❌ Peru paikkani"
    document = calls[2]
    # the file is explained in its caption, not in a message of its own
    assert document.caption == (
        "✅ Sinulla on paikka. Tässä on kalenteritiedosto: avaa se, niin tapahtuma tallentuu "
        "puhelimesi kalenteriin."
    )
    [file] = h.session.files
    assert file.filename == f"{YK}-20270119.ics"
    check_ics(file.content, events=6)  # every meeting of the course run
    assert "DTSTART;TZID=Europe/Helsinki:20270119T090000" in unfold(file.content)
    assert await signups(h) == [(1001, "active")]
    assert await notices(h) == [("day_before", "pending"), ("hour_before", "pending")]

    # a second press (an old card, a double tap) takes no second seat
    calls = await person.press(f"e:s:{YK}::0:{start}:0")
    assert toasts(calls) == ["Sinulla on jo paikka."]
    assert await signups(h) == [(1001, "active")]

    calls = await person.send("/mysignups")
    [mine] = sent(calls)
    assert (
        mine.text == f"🎟 Omat ilmoittautumisesi\n\n1. YrittäjäKaverit Karkkila\n{YK_WHEN}\n"
        f"{UNCONFIRMED}\n✅ Sinulla on paikka"
    )
    calls = await person.click("1. YrittäjäKaverit Karkkila")
    assert edits(calls)[0].text == f"{YK_CARD}\n✅ Sinulla on paikka."

    # cancel, after one more question
    calls = await person.click("❌ Peru paikkani")
    assert edits(calls)[0].text == "Haluatko perua paikkasi? YrittäjäKaverit Karkkila"
    assert labels(edits(calls)[0]) == ["Kyllä, peru", "Ei, pidän paikan"]
    calls = await person.click("Kyllä, peru")
    assert toasts(calls) == ["Paikkasi on peruttu."]
    assert edits(calls)[0].text == f"{YK_CARD}\n🎟 Paikkoja jäljellä: 12"
    assert await signups(h) == [(1001, "cancelled")]
    assert await notices(h) == [("day_before", "skipped"), ("hour_before", "skipped")]
    async with h.app.db.read() as session:  # anonymous counters for the reports
        stats = StatsRepository(session)
        assert (await stats.count("event_signup"), await stats.count("event_cancelled")) == (1, 1)
    calls = await person.send("/mysignups")
    assert sent(calls)[0].text == (
        "Sinulla ei ole vielä ilmoittautumisia. Etsi tapahtuma ja paina Ilmoittaudu."
    )


def unfold(content: bytes) -> str:
    return content.decode("utf-8").replace("\r\n ", "")


def check_ics(content: bytes, *, events: int) -> None:
    """A well-formed RFC 5545 file: CRLF everywhere, lines ≤ 75 octets, balanced blocks."""
    assert content.startswith(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert content.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in content.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in content.split(b"\r\n"))
    text = unfold(content)
    assert "TZID:Europe/Helsinki" in text
    assert text.count("BEGIN:VEVENT") == text.count("END:VEVENT") == events
    in_event = False
    for line in text.split("\r\n"):
        in_event = (in_event or line == "BEGIN:VEVENT") and line != "END:VEVENT"
        if in_event and line.startswith(("DTSTART", "DTEND")):
            assert line.startswith(("DTSTART;TZID=Europe/Helsinki:", "DTEND;TZID=Europe/Helsinki:"))


async def test_calendar_file_without_signing_up(h: Harness) -> None:
    person = await onboard(h, 1001, consent=False)
    await person.send("/start ev_duuniexpo-karkkila")
    calls = await person.click("📅 Kalenteritiedosto")
    assert [type(c) for c in calls] == [AnswerCallbackQuery, SendDocument]
    assert calls[1].caption == (
        "📅 Tässä on kalenteritiedosto: avaa se, niin tapahtuma tallentuu puhelimesi kalenteriin."
    )
    [file] = h.session.files
    assert file.filename == "duuniexpo-karkkila-20270108.ics"
    check_ics(file.content, events=1)
    assert "DTSTART;TZID=Europe/Helsinki:20270108T100000" in unfold(file.content)
    assert await signups(h, "duuniexpo-karkkila") == []


async def test_sign_up_needs_consent_first(h: Harness) -> None:
    person = await onboard(h, 1001, consent=False)
    await person.send("/start ev_duuniexpo-karkkila")
    await person.click("🙅 Ei minulle")
    await person.click("Paikka ei sovi")  # kept in the conversation only, for now
    await person.send(f"/start ev_{YK}")
    calls = await take(person)
    [ask] = edits(calls)
    assert ask.text.startswith("Jotta voin ilmoittaa sinut, minun täytyy tallentaa")
    assert labels(ask) == ["✅ Kyllä, sopii", "↩ Takaisin"]
    assert await signups(h) == []

    calls = await person.click("✅ Kyllä, sopii")
    assert [type(c) for c in calls] == [
        AnswerCallbackQuery,
        EditMessageText,
        SendMessage,
        SendDocument,
    ]
    assert sent(calls)[0].text == "✅ Kiitos. Vastauksesi tallennetaan."
    assert edits(calls)[0].text.endswith("✅ Sinulla on paikka.")
    assert await signups(h) == [(1001, "active")]
    async with h.app.db.read() as session:
        person_info = await PersonRepository(session).by_telegram_id(1001)
    assert person_info is not None
    assert person_info.has_consent
    async with h.app.db.read() as session:  # what they said before is kept from now on
        dismissed = await EventRepository(session).dismissed(person_info.id)
    assert dismissed == {"duuniexpo-karkkila": "wrong_place"}
    assert (await conversation_state(h, 1001)).features == {"events": {}}


async def test_link_sign_up_offered_without_consent(tmp_path: Path) -> None:
    """An item signed up for on the organiser's site: a link button, nothing stored here.

    No bundled item signs up on a web page today (the links were home pages), so this runs on
    a copy of the bundled content where Digiapu links to a sign-up page."""
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    online = content / "catalogue" / "online.yaml"
    text = online.read_text(encoding="utf-8")
    assert text.count("signup: {mode: bot}") >= 1
    head, _, tail = text.partition("  - id: digiapu-verkko")
    tail = tail.replace(
        "signup: {mode: bot}", 'signup: {mode: link, url: "https://example.org/ilmoittaudu"}', 1
    )
    online.write_text(head + "  - id: digiapu-verkko" + tail, encoding="utf-8")
    app = await make_app(
        make_settings(tmp_path, bundled=True, content_dir=content), build_registry()
    )
    app.clock = Clock(NOW)
    try:
        person = await onboard(make_harness(app), 1001, consent=False)
        calls = await person.send("/start ev_digiapu-verkko")
        [card] = sent(calls)
        assert labels(card)[0] == "Ilmoittaudu verkkosivulla"
        assert card.reply_markup.inline_keyboard[0][0].url == "https://example.org/ilmoittaudu"
    finally:
        await app.db.dispose()


# -- capacity ----------------------------------------------------------------------------------


async def test_two_people_take_the_last_seat_at_once(h: Harness) -> None:
    await fill(h, 11)
    anna = await onboard(h, 1001)
    ben = await onboard(h, 1002)
    await anna.send(f"/start ev_{YK}")
    await ben.send(f"/start ev_{YK}")
    assert anna.last_text.endswith("🎟 Paikkoja jäljellä: 1")
    assert ben.last_text.endswith("🎟 Paikkoja jäljellä: 1")

    start = len(h.session.calls)
    await anna.click("✍️ Ilmoittaudu")
    await ben.click("✍️ Ilmoittaudu")
    start = len(h.session.calls)
    await asyncio.gather(anna.click(YK_RUN), ben.click(YK_RUN))
    calls = h.session.calls[start:]  # both people's, interleaved
    documents = [c for c in calls if isinstance(c, SendDocument)]
    assert len(documents) == 1  # one got the seat and the calendar file
    winner, loser = (anna, ben) if documents[0].chat_id == anna.user_id else (ben, anna)
    assert sorted(map(str, toasts(calls))) == ["None", "Valitettavasti kaikki paikat on varattu."]
    [told] = [e for e in edits(calls) if e.chat_id == loser.user_id]
    assert told.text.startswith("😕 Valitettavasti viimeinen paikka meni juuri.\n\n")
    assert told.text.endswith("🎟 Täynnä")
    assert labels(told)[0] == "✍️ Ilmoittaudu"  # another run, or the line of this one
    [choose] = edits(await loser.click("✍️ Ilmoittaudu"))
    assert labels(choose) == [
        f"{YK_RUN} (täynnä)",
        "13.4.2027 klo 9.00",
        "↩ Takaisin",
    ]
    statuses = await signups(h)
    assert sum(1 for _, s in statuses if s == "active") == 12
    assert (winner.user_id, "active") in statuses
    assert loser.user_id not in [t for t, _ in statuses]


async def test_waiting_list_and_a_freed_seat_goes_to_the_first_in_line(h: Harness) -> None:
    await fill(h, 11)
    anna = await onboard(h, 1001)
    await anna.send(f"/start ev_{YK}")
    await take(anna)
    waiting = []
    for user_id in (1002, 1003):
        person = await onboard(h, user_id)
        calls = await person.send(f"/start ev_{YK}")
        assert sent(calls)[0].text.endswith("🎟 Täynnä")
        await person.click("✍️ Ilmoittaudu")
        calls = await person.click(f"{YK_RUN} (täynnä)")
        assert toasts(calls) == [f"⏳ Olet jonossa sijalla {user_id - 1001}."]
        assert edits(calls)[0].text.endswith(
            f"⏳ Olet jonossa sijalla {user_id - 1001}. Kerron sinulle, jos paikka vapautuu."
        )
        assert labels(edits(calls)[0])[0] == "❌ Poistu jonosta"
        waiting.append(person)

    clock(h).now = NOW + timedelta(hours=1)
    await anna.click("❌ Peru paikkani")
    calls = await anna.click("Kyllä, peru")
    assert toasts(calls) == ["Paikkasi on peruttu."]
    assert edits(calls)[0].text.endswith("🎟 Täynnä")  # the seat went on at once
    assert (await signups(h))[-3:] == [(1001, "cancelled"), (1002, "active"), (1003, "waiting")]

    # the first in line is told (by the notices job, after the commit), exactly once
    start = len(h.session.calls)
    assert await send_notices(h.app, h.bot) == 1
    [told] = sent(h.session.calls[start:])
    assert told.chat_id == 1002
    assert told.text == (
        f"🎉 Hyviä uutisia! Paikka vapautui, ja se on sinun: YrittäjäKaverit Karkkila\n🗓 {YK_WHEN}"
    )
    assert labels(told) == ["🔎 Näytä tapahtuma", "📅 Kalenteritiedosto"]
    assert await send_notices(h.app, h.bot) == 0

    # ... and their card and list say so; the second in line moved up
    calls = await waiting[0].click("🔎 Näytä tapahtuma")
    assert edits(calls)[0].text.endswith("✅ Sinulla on paikka.")
    calls = await waiting[1].send("/mysignups")
    assert sent(calls)[0].text.endswith(f"{UNCONFIRMED}\n⏳ Jonossa: sija 1")
    calls = await waiting[1].click("1. YrittäjäKaverit Karkkila")
    calls = await waiting[1].click("❌ Poistu jonosta")
    assert toasts(calls) == ["Poistuit jonosta."]
    assert (await signups(h))[-1] == (1003, "cancelled")


# -- reminders -----------------------------------------------------------------------------------


async def signed_up(h: Harness, user_id: int) -> ChatClient:
    person = await onboard(h, user_id)
    await person.send(f"/start ev_{YK}")
    await take(person)
    return person


REMINDER_DAY = (
    f"⏰ Muistutus: sinulla on paikka. YrittäjäKaverit Karkkila\n🗓 {YK_WHEN}\n{KARKKILA_TOWN_HALL}"
)
REMINDER_HOUR = (
    f"⏰ Tunnin päästä alkaa: YrittäjäKaverit Karkkila\n🗓 {YK_WHEN}\n{KARKKILA_TOWN_HALL}"
)


async def test_reminders_are_sent_once_and_survive_a_restart(h: Harness) -> None:
    await signed_up(h, 1001)
    cancelled = await signed_up(h, 1002)
    await cancelled.click("❌ Peru paikkani")
    await cancelled.click("Kyllä, peru")

    assert await send_notices(h.app, h.bot) == 0  # nothing due yet
    clock(h).now = datetime(2027, 1, 18, 9, 59, tzinfo=HELSINKI)
    assert await send_notices(h.app, h.bot) == 0
    clock(h).now = datetime(2027, 1, 18, 10, 0, tzinfo=HELSINKI)  # the day before, 10:00
    start = len(h.session.calls)
    assert await send_notices(h.app, h.bot) == 1
    assert await send_notices(h.app, h.bot) == 0  # a second pass sends nothing
    [reminder] = sent(h.session.calls[start:])
    assert (reminder.chat_id, reminder.text) == (1001, REMINDER_DAY)
    assert buttons_of(reminder) == [("🔎 Näytä tapahtuma", f"e:c:{YK}::0:0:0")]

    # a restart: a new app over the same database sends nothing again
    restarted = await make_app(h.app.settings, build_registry())
    restarted.clock = Clock(datetime(2027, 1, 18, 12, 0, tzinfo=HELSINKI))
    other = make_harness(restarted)
    try:
        assert await send_notices(restarted, other.bot) == 0
        restarted.clock = Clock(datetime(2027, 1, 19, 8, 0, tzinfo=HELSINKI))  # an hour before
        assert await send_notices(restarted, other.bot) == 1
        assert await send_notices(restarted, other.bot) == 0
        [hour] = sent(other.session.calls)
        assert (hour.chat_id, hour.text) == (1001, REMINDER_HOUR)
    finally:
        await restarted.db.dispose()
    assert await notices(h) == [
        ("day_before", "sent"),
        ("hour_before", "sent"),
        ("day_before", "skipped"),  # cancelled
        ("hour_before", "skipped"),
    ]


async def test_reminders_skip_blocked_people_and_a_403_marks_them_blocked(h: Harness) -> None:
    await signed_up(h, 1001)
    await signed_up(h, 1002)
    async with h.app.db.transaction() as session:
        await PersonRepository(session).mark_blocked(1002, now=NOW)
    clock(h).now = datetime(2027, 1, 18, 10, 5, tzinfo=HELSINKI)
    h.session.fail_next(
        SendMessage,
        lambda m: TelegramForbiddenError(
            method=m, message="Forbidden: bot was blocked by the user"
        ),
    )
    start = len(h.session.calls)
    assert await send_notices(h.app, h.bot) == 0
    assert [c.chat_id for c in sent(h.session.calls[start:])] == [1001]  # the 403, not 1002
    async with h.app.db.read() as session:
        anna = await PersonRepository(session).by_telegram_id(1001)
    assert anna is not None
    assert anna.blocked
    assert await notices(h) == [
        ("day_before", "failed"),
        ("hour_before", "pending"),
        ("day_before", "skipped"),
        ("hour_before", "pending"),
    ]
    # blocked people get nothing more
    clock(h).now = datetime(2027, 1, 19, 8, 0, tzinfo=HELSINKI)
    start = len(h.session.calls)
    assert await send_notices(h.app, h.bot) == 0
    assert sent(h.session.calls[start:]) == []
    assert [s for _, s in await notices(h)] == ["failed", "skipped", "skipped", "skipped"]


async def test_a_late_day_before_reminder_is_left_to_the_hour_before(h: Harness) -> None:
    await signed_up(h, 1001)
    clock(h).now = datetime(2027, 1, 19, 8, 30, tzinfo=HELSINKI)  # the bot was down all night
    start = len(h.session.calls)
    assert await send_notices(h.app, h.bot) == 1
    [only] = sent(h.session.calls[start:])
    assert only.text == REMINDER_HOUR
    assert await notices(h) == [("day_before", "skipped"), ("hour_before", "sent")]


async def test_no_reminder_that_is_already_due_at_sign_up(h: Harness) -> None:
    clock(h).now = datetime(2027, 1, 18, 15, 0, tzinfo=HELSINKI)  # after 10:00 the day before
    await signed_up(h, 1001)
    assert await notices(h) == [("hour_before", "pending")]


async def test_coach_group_hears_of_sign_ups(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, bundled=True, coach_chat_id=-100123)
    app = await make_app(settings, build_registry())
    app.clock = Clock(NOW)
    h = make_harness(app)
    try:
        await signed_up(h, 1001)
        start = len(h.session.calls)
        assert await send_notices(app, h.bot) == 1
        [note] = sent(h.session.calls[start:])
        assert note.chat_id == -100123
        assert note.text == (
            f"🎟 Uusi ilmoittautuminen: YrittäjäKaverit Karkkila, {YK_WHEN}. Paikkoja varattu 1/12."
        )
    finally:
        await app.db.dispose()


# -- not for me ----------------------------------------------------------------------------------


async def karkkila_business_person(h: Harness, user_id: int) -> ChatClient:
    person = await onboard(h, user_id)
    pid = await person_id(h, user_id)
    async with h.app.db.transaction() as session:
        answers = AnswerRepository(session)
        for key, value in (
            ("municipality", "karkkila"),
            ("age_group", "50_plus"),
            ("help_wanted", ["own_business"]),
            ("interests", ["construction"]),
        ):
            await answers.save(pid, "career_plan", key, value, now=NOW)
    return person


async def test_not_for_me_is_stored_and_lowers_similar_items(h: Harness) -> None:
    person = await karkkila_business_person(h, 1001)
    await person.click("Tapahtumat ja koulutukset")
    calls = await person.click("⭐ Sinulle sopivat")
    before = edits(calls)[0]
    assert labels(before) == [
        "1. YrittäjäKaverit Karkkila",
        "2. Työturvallisuuskortti Lohja",
        "3. Tulityökortti Vihti",
        "4. VerkkoAgentti",
        "5. DuuniExpo Karkkila",
        "↩ Takaisin",
    ]
    await person.click("2. Työturvallisuuskortti Lohja")
    calls = await person.click("🙅 Ei minulle")
    [question] = edits(calls)
    assert question.text == (
        "Työturvallisuuskortti Lohja\n\nMiksi tämä ei sovi sinulle? Yksi napautus riittää."
    )
    assert labels(question) == [
        "Paikka ei sovi",
        "Aika ei sovi",
        "Ei minun alaani",
        "Olen jo käynyt",
        "↩ Takaisin",
    ]
    calls = await person.click("Olen jo käynyt")
    assert toasts(calls) == ["Kiitos! Ehdotan vähemmän tällaisia."]
    [after] = edits(calls)
    async with h.app.db.read() as session:
        stored = await EventRepository(session).dismissed(await person_id(h, 1001))
    assert stored == {"tyoturvallisuuskortti-lohja": "already_done"}
    # gone, and the other work-card course (same kind and topic) went down with it
    assert "Työturvallisuuskortti Lohja" not in after.text
    assert labels(after)[:4] == [
        "1. YrittäjäKaverit Karkkila",
        "2. Tulityökortti Vihti",
        "3. VerkkoAgentti",
        "4. DuuniExpo Karkkila",
    ]
    # 30 lower: still second, as nothing else answers what this person asked for
    assert "Koska sinua kiinnostaa rakentaminen ja saat tulityökortin." in after.text


async def test_not_for_me_without_consent_stays_in_the_conversation(h: Harness) -> None:
    person = await onboard(h, 1001, consent=False)
    await person.click("Tapahtumat ja koulutukset")
    calls = await person.click("⭐ Sinulle sopivat")
    suggested = edits(calls)[0]
    first, item_id = buttons_of(suggested)[0]
    title = first.removeprefix("1. ")
    assert item_id is not None
    await person.click(first)
    await person.click("🙅 Ei minulle")
    calls = await person.click("Aika ei sovi")
    assert title not in edits(calls)[0].text
    state = await conversation_state(h, 1001)
    dismissed = {item_id.split(":")[2]: "wrong_time"}
    assert state.features == {"events": {"dismissed": dismissed}}
    async with h.app.db.read() as session:
        assert await EventRepository(session).dismissed(await person_id(h, 1001)) == {}
    # browsing by list is not filtered: it is still there
    await person.click("↩ Takaisin")
    calls = await person.click("💻 Verkossa")
    assert title in edits(calls)[0].text


# -- poster links --------------------------------------------------------------------------------


async def test_poster_link_for_a_new_person_opens_the_card_after_onboarding(h: Harness) -> None:
    person = h.person(1001)
    calls = await person.send(f"/start ev_{YK}")
    assert [c.text for c in sent(calls)] == ["Valitse kieli · Välj språk · Choose language"]
    async with h.app.db.read() as session:
        from db.models import EventLink

        assert await session.scalar(select(EventLink.item_id)) == YK
    await person.click("Suomi")
    calls = await person.click("Jatka tallentamatta")
    texts = [c.text for c in sent(calls)]
    assert texts[0].startswith("Selvä. Vastauksiasi ei tallenneta.")
    assert texts[-1] == f"{YK_CARD}\n🎟 Paikkoja jäljellä: 12"
    assert "Mitä haluat tehdä?" not in texts  # the card instead of the menu
    async with h.app.db.read() as session:
        assert await session.scalar(select(EventLink.item_id)) is None  # shown once
    state = await conversation_state(h, 1001)
    assert state.position is None
    calls = await person.click("↩ Takaisin")
    assert edits(calls)[0].text == BROWSER


async def test_poster_link_mid_onboarding_and_for_a_known_person(h: Harness) -> None:
    person = h.person(1001)
    await person.send("/start")
    calls = await person.send(f"/start ev_{YK}")  # still choosing a language
    assert [c.text for c in sent(calls)] == ["Valitse kieli · Välj språk · Choose language"]
    await person.click("Suomi")
    calls = await person.click("Kyllä, tallenna vastaukseni")
    assert sent(calls)[-1].text.startswith("YrittäjäKaverit Karkkila\n")

    # a known person sees the card at once, whatever they were doing
    calls = await person.send("/start ev_verkkoagentti")
    [card] = sent(calls)
    assert card.text.startswith("VerkkoAgentti\nVerkkokurssi · ")
    # a link to something no longer in the catalogue
    calls = await person.send("/start ev_vanha-tapahtuma")
    assert [c.text for c in sent(calls)] == ["Tätä tapahtumaa ei ole enää listalla.", BROWSER]


async def test_poster_link_with_an_unknown_item_for_a_new_person(h: Harness) -> None:
    person = h.person(1001)
    await person.send("/start ev_ei-ole")
    await person.click("Suomi")
    calls = await person.click("Kyllä, tallenna vastaukseni")
    # just the menu, with the word that the answer was saved
    assert [c.text for c in sent(calls)] == [
        "✅ Kiitos. Vastauksesi tallennetaan.\n\nMitä haluat tehdä?"
    ]


# -- stale and forged buttons -----------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "e:zz:::0:0:0",  # no such action
        "e:c:ei-ole-olemassa::0:0:0",  # no such item
        "e:c:BAD ID::0:0:0",  # not an item id at all
        "e:l::k99:0:0:0",  # no such kind
        "e:l::q:0:0:0",  # no such list
        "e:l::w:40:0:0",  # a page that is not there (any more)
        "e:l:::0:0:0",  # a list without a list
        "e:d:duuniexpo-karkkila::0:0:9",  # no such reason
        "e:c:duuniexpo-karkkila::0:-5:0",  # no such time
    ],
)
async def test_forged_or_stale_buttons_show_the_browser_again(h: Harness, data: str) -> None:
    person = await onboard(h, 1001)
    await person.click("Tapahtumat ja koulutukset")
    await person.click("📅 Tällä viikolla")
    calls = await person.press(data)
    assert toasts(calls) == [MOVED_ON]
    assert [type(c) for c in calls] == [AnswerCallbackQuery, EditMessageText]
    assert edits(calls)[0].text == BROWSER  # the browser again, in place
    async with h.app.db.read() as session:
        assert await EventRepository(session).dismissed(await person_id(h, 1001)) == {}


@pytest.mark.parametrize(
    "data",
    [
        "e:c:duuniexpo-karkkila::x:0:0",  # not a number
        "e:c",  # too short
        "e:ev_lohja:1",
        "e:" + "x" * 62,  # garbage
    ],
)
async def test_data_not_of_the_browser_shape_is_left_to_the_dialogs(h: Harness, data: str) -> None:
    person = await onboard(h, 1001)
    await person.click("Tapahtumat ja koulutukset")
    calls = await person.press(data)
    assert [c.text for c in sent(calls)] == [
        "Tämä kysymys on jo ohi. Jatketaan tästä:\n\nMitä haluat tehdä?"
    ]
    assert not edits(calls)  # the browser's message is left as it was


async def test_a_sign_up_button_for_a_date_that_has_passed_signs_up_for_nothing(
    h: Harness,
) -> None:
    person = await onboard(h, 1001)
    calls = await person.send("/start ev_duuniexpo-karkkila")  # weekly, Fridays 10:00
    # an old card: the sign-up of yesterday's occurrence (forged onto a bot-sign-up item)
    old = cb.minutes(datetime(2027, 1, 4, 9, 0, tzinfo=HELSINKI))
    calls = await person.press(f"e:s:{YK}::0:{old}:0")
    assert toasts(calls) == [MOVED_ON]
    assert edits(calls)[0].text == f"{YK_CARD}\n🎟 Paikkoja jäljellä: 12"
    assert await signups(h) == []
    # a sign-up button of an item that is signed up for elsewhere
    start = cb.minutes(datetime(2027, 1, 8, 10, 0, tzinfo=HELSINKI))
    calls = await person.press(f"e:s:duuniexpo-karkkila::0:{start}:0")
    assert toasts(calls) == [MOVED_ON]
    assert await signups(h, "duuniexpo-karkkila") == []


async def test_a_card_opened_after_its_course_began_offers_the_next_run(h: Harness) -> None:
    person = await onboard(h, 1001)
    await person.send(f"/start ev_{YK}")
    shown = person.messages()[-1]
    clock(h).now = datetime(2027, 1, 20, 12, 0, tzinfo=HELSINKI)  # the first run has begun
    calls = await person.click("✍️ Ilmoittaudu")
    assert toasts(calls) == [MOVED_ON]
    [card] = edits(calls)
    assert "🗓 tiistai 13.4.2027 klo 9.00–13.00 (kerta 1/6)" in card.text
    assert await signups(h) == []
    # the fresh button signs up for the run that is shown
    calls = await person.click("✍️ Ilmoittaudu")
    assert edits(calls)[0].text.endswith("✅ Sinulla on paikka.")
    async with h.app.db.read() as session:
        [row] = (await session.scalars(select(EventSignup))).all()
    assert row.starts_at == datetime(2027, 4, 13, 6, 0, tzinfo=UTC)
    assert shown.message_id == card.message_id


async def test_every_button_fits_in_64_bytes_and_30_characters(h: Harness) -> None:
    catalogue = h.app.content.catalogue
    longest = "x" * 32
    view = cb.View(cb.BY_PLACE, "rovaniemi")
    for action in cb.ACTIONS:
        data = cb.pack(action, longest, view, cb.MAX_PAGE, datetime(2099, 12, 31, tzinfo=UTC), 3)
        assert len(data.encode()) <= 64
        assert cb.parse(data) is not None or action not in cb.ITEM_ACTIONS
    assert all(len(item.id) <= 32 for item in catalogue)
    from bot.content.snapshot import LANGUAGES

    for language in LANGUAGES:
        table = h.app.content.texts.texts[language]
        for key, text in table.items():
            if key.startswith(("events.button.", "events.menu.")) and key != "events.menu.text":
                assert len(text) <= 30, (language, key)


async def test_a_button_on_a_message_too_old_to_edit_answers_with_a_new_one(h: Harness) -> None:
    from aiogram.types import Chat, InaccessibleMessage

    person = await onboard(h, 1001)
    old = InaccessibleMessage(chat=Chat(id=1001, type="private"), message_id=3, date=0)
    calls = await person.press("e:l::o:0:0:0", old)  # type: ignore[arg-type]
    assert [type(c) for c in calls] == [AnswerCallbackQuery, SendMessage]
    assert sent(calls)[0].text.startswith("💻 Verkossa: osallistu kotoa käsin\n\n1. ")


async def test_reminders_go_through_the_outgoing_rate_limiter(h: Harness) -> None:
    from bot.factory import create_bot
    from bot.telegram.limits.local import OutgoingLimiter
    from bot.telegram.offline import OfflineSession
    from tests.support import TEST_TOKEN

    class Recording(OutgoingLimiter):
        def __init__(self) -> None:
            super().__init__()
            self.chats: list[int | str] = []

        async def acquire(self, chat_id: int | str) -> None:
            self.chats.append(chat_id)
            self.delay_for(chat_id)

    for user_id in (1001, 1002, 1003):
        await signed_up(h, user_id)
    limiter = Recording()
    bot = create_bot(h.app.settings, session=OfflineSession(), token=TEST_TOKEN, limiter=limiter)
    clock(h).now = datetime(2027, 1, 18, 10, 0, tzinfo=HELSINKI)
    assert await send_notices(h.app, bot) == 3
    assert limiter.chats == [1001, 1002, 1003]  # every send waited for its slot


# -- an editor moves or removes a date ------------------------------------------------------------


def edit_catalogue(h: Harness, change: Any) -> None:
    """Serve the bundled catalogue with ``change(item)`` applied to YrittäjäKaverit Karkkila
    (``None`` removes the item), as a reload of an edited file would."""
    from dataclasses import replace

    from bot.catalogue.schema import Catalogue

    catalogue = h.app.content.catalogue
    items = []
    for item in catalogue:
        changed = change(item) if item.id == YK else item
        if changed is not None:
            items.append(changed)
    edited = Catalogue(tuple(items), catalogue.sources)
    h.app.replace_content(replace(h.app.content, catalogue=edited))


def first_run_a_week_later(item: Any) -> Any:
    first, *others = item.schedule.range
    moved = first.model_copy(update={"start": first.start + timedelta(days=7)})
    schedule = item.schedule.model_copy(update={"range": (moved, *others)})
    return item.model_copy(update={"schedule": schedule})


MOVED = (
    "📅 Aika on muuttunut: YrittäjäKaverit Karkkila\n"
    "Ilmoittauduit aikaan tiistai 19.1.2027 klo 9.00. Sitä aikaa ei enää ole.\n"
    "Katso uusi aika ja ilmoittaudu uudelleen, jos se sopii sinulle."
)
REMOVED = (
    "📅 Peruttu: tapahtumaa, johon ilmoittauduit (tiistai 19.1.2027 klo 9.00), ei enää "
    "järjestetä.\nPahoittelut! Voit katsoa muita tapahtumia."
)


async def test_a_moved_date_is_told_once_to_seats_and_the_waiting_list(h: Harness) -> None:
    await fill(h, 11)
    await signed_up(h, 1001)  # the last seat
    waiting = await onboard(h, 1002)
    await waiting.send(f"/start ev_{YK}")
    await waiting.click("✍️ Ilmoittaudu")
    await waiting.click(f"{YK_RUN} (täynnä)")
    cancelled = await onboard(h, 1003)
    await cancelled.send(f"/start ev_{YK}")
    await cancelled.click("✍️ Ilmoittaudu")
    await cancelled.click(f"{YK_RUN} (täynnä)")
    await cancelled.click("❌ Poistu jonosta")

    assert await find_moved(h.app, h.bot) == 0  # nothing has changed
    edit_catalogue(h, first_run_a_week_later)
    assert await find_moved(h.app, h.bot) == 13  # 12 seats and one place in line
    assert await find_moved(h.app, h.bot) == 0  # once

    start = len(h.session.calls)
    assert await send_notices(h.app, h.bot) == 13
    told = {m.chat_id: m for m in sent(h.session.calls[start:])}
    assert set(told) == {*range(80_000, 80_011), 1001, 1002}
    assert told[1001].text == MOVED
    assert buttons_of(told[1002]) == [("🔎 Näytä tapahtuma", f"e:c:{YK}::0:0:0")]
    # the card the button opens has the new date, and the sign-up button for it
    calls = await h.person(1001).click("🔎 Näytä tapahtuma")
    [card] = sent(calls) + edits(calls)
    assert "🗓 tiistai 26.1.2027 klo 9.00–13.00 (kerta 1/4)" in card.text
    assert labels(card)[0] == "✍️ Ilmoittaudu"
    # the reminders of the old date are not sent
    clock(h).now = datetime(2027, 1, 18, 10, 0, tzinfo=HELSINKI)
    assert await send_notices(h.app, h.bot) == 0
    assert await find_moved(h.app, h.bot) == 0


async def test_someone_who_blocked_the_bot_is_told_of_a_move_once_they_are_back(
    h: Harness,
) -> None:
    person = await signed_up(h, 1001)
    async with h.app.db.transaction() as session:
        await PersonRepository(session).mark_blocked(1001, now=NOW)
    edit_catalogue(h, first_run_a_week_later)
    for _ in range(3):  # not queued again and again while blocked
        assert await find_moved(h.app, h.bot) == 0
    assert ("moved", "pending") not in await notices(h)
    await person.send("/menu")  # writing again unblocks
    assert await find_moved(h.app, h.bot) == 1
    start = len(h.session.calls)
    assert await send_notices(h.app, h.bot) == 1
    assert [m.text for m in sent(h.session.calls[start:])] == [MOVED]


async def test_a_removed_item_and_a_date_put_back_in_time(h: Harness) -> None:
    await signed_up(h, 1001)
    bundled = h.app.content
    edit_catalogue(h, lambda item: None)
    assert await find_moved(h.app, h.bot) == 1
    h.app.replace_content(bundled)  # the editor undoes the removal before the notice goes out
    start = len(h.session.calls)
    assert await send_notices(h.app, h.bot) == 0
    assert sent(h.session.calls[start:]) == []
    assert ("moved", "skipped") in await notices(h)

    # removed for good: told (queued again, as the skipped notice no longer counts)
    edit_catalogue(h, lambda item: None)
    assert await find_moved(h.app, h.bot) == 1
    assert await send_notices(h.app, h.bot) == 1
    [told] = sent(h.session.calls[start:])
    assert (told.chat_id, told.text) == (1001, REMOVED)
    assert buttons_of(told) == [("🗓 Tapahtumat ja koulutukset", "e:h:::0:0:0")]
    calls = await h.person(1001).click("🗓 Tapahtumat ja koulutukset")
    assert [m.text for m in sent(calls) + edits(calls)] == [BROWSER]


async def test_a_missing_or_empty_catalogue_is_not_read_as_everything_removed(h: Harness) -> None:
    from dataclasses import replace

    from bot.catalogue.schema import Catalogue

    await signed_up(h, 1001)
    h.app.replace_content(replace(h.app.content, catalogue=Catalogue()))
    assert await find_moved(h.app, h.bot) == 0
    h.app.replace_content(replace(h.app.content, catalogue=None))
    assert await find_moved(h.app, h.bot) == 0
    assert [kind for kind, _ in await notices(h)] == ["day_before", "hour_before"]


async def test_in_english_the_plan_asks_for_languages_and_suggests_finnish_events_too(
    h: Harness,
) -> None:
    person = h.person(1001, language_code="en")
    await person.send("/start")
    await person.click("English")
    await person.click("Yes, save my answers")
    await person.click("Plan my path")
    for answer in (
        "I am unemployed",
        "More than a year",
        "50 or older",
        "Karkkila",
        "Vocational qualification",
        "Construction",
        "Done ✅",
        "My own business",
        "Done ✅",
        "I have an idea",
        "In a group with others",
        "Done ✅",
    ):
        calls = await person.click(answer)
    [question] = sent(calls)
    assert question.text == (
        "In which languages can you take part in events? You can choose several. Then press Done."
    )
    assert labels(question)[:3] == ["Finnish", "Swedish", "English"]
    await person.click("Finnish")
    await person.click("English")
    await person.click("Done ✅")
    await person.click("Well")
    calls = await person.click("Skip")
    summary, suggestions = sent(calls)[:2]
    assert "• Languages: Finnish, English" in summary.text
    # YrittäjäKaverit is held in Finnish only: suggested now, as for a Finnish speaker
    assert suggestions.text.startswith("These might suit you:\n\n1. YrittäjäKaverit Karkkila\n")
    async with h.app.db.read() as session:
        answers = await AnswerRepository(session).for_person(await person_id(h, 1001))
    assert answers["languages_read"] == ["fi", "en"]


async def test_one_reminder_that_fails_unexpectedly_does_not_stop_the_others(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from aiogram.exceptions import ClientDecodeError

    from bot.features.events import jobs

    await signed_up(h, 1001)
    await signed_up(h, 1002)
    await signed_up(h, 1003)
    message = jobs._message

    async def broken_for_1001(app: App, notice: Any, *args: Any) -> Any:
        if notice.telegram_id == 1001:
            raise KeyError("nobody expected this")
        return await message(app, notice, *args)

    monkeypatch.setattr(jobs, "_message", broken_for_1001)
    # and Telegram's answer to 1002's reminder cannot be read: it may have gone out
    h.session.fail_next(
        SendMessage,
        lambda m: ClientDecodeError("Failed to deserialize object", ValueError(), {}),
        when=lambda m: m.chat_id == 1002,
    )
    clock(h).now = datetime(2027, 1, 18, 10, 0, tzinfo=HELSINKI)
    start = len(h.session.calls)
    assert await send_notices(h.app, h.bot) == 1
    assert [c.chat_id for c in sent(h.session.calls[start:])] == [1002, 1003]
    day_before = [s for k, s in await notices(h) if k == "day_before"]
    assert day_before == ["pending", "failed", "sent"]  # 1001 again later; 1002 never twice
    assert "failed, try 1: KeyError at" in caplog.text
    async with h.app.db.read() as session:
        first = await session.scalar(select(EventNotice).order_by(EventNotice.id))
    assert first is not None
    assert (first.attempts, first.last_error) == (1, "unexpected KeyError")

    # tried again with growing delays, and given up after MAX_ATTEMPTS tries
    for attempt in range(2, jobs.MAX_ATTEMPTS + 1):
        clock(h).now += timedelta(seconds=60 * (attempt - 1))
        assert await send_notices(h.app, h.bot) == 0
    assert [s for k, s in await notices(h) if k == "day_before"] == ["failed", "failed", "sent"]


# -- audience, languages and one-to-one slots ------------------------------------------------------


async def aged(h: Harness, user_id: int, age_group: str, *, language: str = "Suomi") -> ChatClient:
    person = await onboard(h, user_id, language=language)
    async with h.app.db.transaction() as session:
        answers = AnswerRepository(session)
        pid = await person_id(h, user_id)
        await answers.save(pid, "career_plan", "age_group", age_group, now=NOW)
        await answers.save(pid, "career_plan", "municipality", "karkkila", now=NOW)
    return person


async def test_an_item_meant_for_others_is_marked_and_sign_up_asks_once(h: Harness) -> None:
    person = await aged(h, 1001, "30_49")
    # never suggested to them
    await person.click("Tapahtumat ja koulutukset")
    calls = await person.click("⭐ Sinulle sopivat")
    assert "YrittäjäKaverit" not in edits(calls)[0].text
    # browsing shows it, marked plainly
    await person.click("↩ Takaisin")
    await person.click("📍 Paikkakunnan mukaan")
    calls = await person.click("Karkkila")
    [listed] = edits(calls)
    assert (
        "YrittäjäKaverit Karkkila\n"
        f"{YK_WHEN}\n"
        f"{UNCONFIRMED}\n"
        "👥 Tarkoitettu: yli 50-vuotiaat\n"
        "Paikkoja jäljellä: 12"
    ) in listed.text
    # for all: no marking
    assert f"DuuniExpo Karkkila\nperjantai 8.1.2027 klo 10.00–14.00\n{UNCONFIRMED}\n\n" in (
        listed.text
    )
    calls = await person.send(f"/start ev_{YK}")
    [card] = sent(calls)
    assert card.text.startswith(
        "YrittäjäKaverit Karkkila\n"
        "Yrittäjyysvalmennus · Luksia, Länsi-Uudenmaan koulutuskuntayhtymä\n"
        "👥 Tarkoitettu: yli 50-vuotiaat\n\n"
    )
    await person.click("✍️ Ilmoittaudu")
    calls = await person.click(YK_RUN)
    [ask] = edits(calls)
    assert ask.text == (
        "YrittäjäKaverit Karkkila\n\n👥 Tarkoitettu: yli 50-vuotiaat\n\nHaluatko silti ilmoittautua?"
    )
    assert labels(ask) == ["✍️ Kyllä, ilmoittaudun", "↩ Takaisin"]
    assert await signups(h) == []
    calls = await person.click("✍️ Kyllä, ilmoittaudun")
    assert edits(calls)[0].text.endswith("✅ Sinulla on paikka.")
    assert await signups(h) == [(1001, "active")]


async def test_someone_over_50_is_not_asked_and_sees_no_marking(h: Harness) -> None:
    person = await aged(h, 1001, "50_plus")
    calls = await person.send(f"/start ev_{YK}")
    assert "Tarkoitettu" not in sent(calls)[0].text
    calls = await take(person)
    assert edits(calls)[0].text.endswith("✅ Sinulla on paikka.")


async def test_a_list_line_says_the_language_when_it_is_not_the_persons(h: Harness) -> None:
    person = await aged(h, 1001, "50_plus", language="English")
    await person.click("Events and training")
    await person.click("📍 By place")
    calls = await person.click("Karkkila")
    [listed] = edits(calls)
    assert (
        "1. DuuniExpo Karkkila\nFriday 8 January 2027, 10:00–14:00\n"
        "❔ To be confirmed – ask a coach\n🗣 In Finnish\n\n"
    ) in listed.text


DA = "duuniagentti"


async def test_a_one_to_one_time_holds_one_person(h: Harness) -> None:
    anna = await onboard(h, 1001)
    calls = await anna.send(f"/start ev_{DA}")
    [card] = sent(calls)
    assert card.text.endswith("🎟 Paikkoja jäljellä: 1")
    calls = await anna.click("✍️ Ilmoittaudu")
    [choose] = edits(calls)
    assert choose.text == (
        "DuuniAgentti – piilotyöpaikat\n\n"
        "Mikä aika sopii sinulle? Jokainen aika on yhdelle ihmiselle."
    )
    # Wednesday 6 January is a holiday in the schedule: Monday 11 January is the first time
    assert labels(choose) == [
        "11.1.2027 klo 9.00",
        "13.1.2027 klo 9.00",
        "18.1.2027 klo 9.00",
        "20.1.2027 klo 9.00",
        "↩ Takaisin",
    ]
    calls = await anna.click("11.1.2027 klo 9.00")
    assert edits(calls)[0].text.endswith("✅ Sinulla on paikka.")

    ben = await onboard(h, 1002)
    await ben.send(f"/start ev_{DA}")
    [choose] = edits(await ben.click("✍️ Ilmoittaudu"))
    assert labels(choose)[:2] == ["11.1.2027 klo 9.00 (täynnä)", "13.1.2027 klo 9.00"]
    calls = await ben.click("11.1.2027 klo 9.00 (täynnä)")
    assert toasts(calls) == ["⏳ Olet jonossa sijalla 1."]
    await ben.click("❌ Poistu jonosta")
    await ben.click("✍️ Ilmoittaudu")
    calls = await ben.click("13.1.2027 klo 9.00")
    assert edits(calls)[0].text.endswith("✅ Sinulla on paikka.")
    assert await signups(h, DA) == [(1001, "active"), (1002, "cancelled"), (1002, "active")]
