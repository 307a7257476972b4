"""The person's own data through the real Dispatcher, on the bundled dialogs and content: "my
data" with a download, deleting everything (and proving nothing of the person is left in ANY
table), withdrawing consent, consent asked again after a new version, /privacy, and the
handoff's note for someone who chose not to save answers.

The clock is fixed (Tuesday 5 January 2027, 10:00 in Helsinki: office hours)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    SendDocument,
    SendMessage,
    SetMyCommands,
)
from sqlalchemy import MetaData, func, select

from bot.app import App
from bot.catalogue import HELSINKI
from bot.factory import set_commands
from bot.features import build_registry, content_sections
from bot.telegram.offline import ChatClient
from db import Database
from db.models import Answer, Base, Person
from db.repositories import (
    AnswerRepository,
    CoachRepository,
    DeadLetterRepository,
    PersonRepository,
    StatsRepository,
)
from tests import support
from tests.features.handoff.support import (
    ANNA,
    GROUP,
    Clock,
    card_message,
    coach,
    deliver,
    latest_request,
    press,
)
from tests.support import Harness, app_on, buttons_of, make_harness, make_settings

NOW = datetime(2027, 1, 5, 10, 0, tzinfo=HELSINKI)  # a Tuesday, in office hours
#: a Telegram id that no other number in the database could be mistaken for
TG = 987_654_321
YK = "yrittajakaverit-karkkila"
#: what the person writes (each must be gone from every table after /delete)
FREE_TEXT = "Haluan oppia kirjanpitoa ja palata toimistotöihin"
DETAILS = "Salainen asia: minut lomautettiin marraskuussa"
PHONE = "040 765 4321"
PHONE_STORED = "+358407654321"
TO_COACH = "Yksityinen viesti Annalle kello kolmelta"
FROM_COACH = "Hei Matti, soitan huomenna kymmeneltä"
FIRST_NAME = "Matti-Ilmari"


async def _app(database: Database, tmp_path: Path, **overrides: Any) -> App:
    settings = make_settings(
        tmp_path,
        bundled=True,
        database_url=database.url,
        coach_chat_id=GROUP,
        admin_ids=[9001],
        **overrides,
    )
    app = app_on(settings, database, build_registry())
    app.clock = Clock(NOW)
    async with database.transaction() as session:
        await CoachRepository(session).add(ANNA, "Anna")
    return app


@pytest.fixture
async def h(database: Database, tmp_path: Path) -> Harness:
    """On SQLite and PostgreSQL."""
    return make_harness(await _app(database, tmp_path))


@pytest.fixture
async def hs(tmp_path: Path) -> AsyncIterator[Harness]:
    """On SQLite only (what does not depend on the database)."""
    from db.migrate import upgrade

    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'privacy.sqlite3'}")
    await upgrade(database)
    yield make_harness(await _app(database, tmp_path))
    await database.dispose()


def sent(calls: list[Any]) -> list[SendMessage]:
    return [c for c in calls if isinstance(c, SendMessage)]


def edits(calls: list[Any]) -> list[EditMessageText]:
    return [c for c in calls if isinstance(c, EditMessageText)]


def labels(call: Any) -> list[str]:
    return [label for label, _ in buttons_of(call)]


async def onboard(h: Harness, *, consent: bool = True, user_id: int = TG) -> ChatClient:
    return await support.onboard(h, user_id, consent=consent, first_name=FIRST_NAME)


async def person_row(h: Harness, telegram_id: int = TG) -> Any:
    async with h.app.db.read() as session:
        return await PersonRepository(session).by_telegram_id(telegram_id)


async def seed_everything(h: Harness) -> ChatClient:
    """A person with everything: answers (one typed), an event seat, a coach request with
    typed details and a phone number, messages both ways, outbox rows, conversation state."""
    person = await onboard(h)
    info = await person_row(h)
    async with h.app.db.transaction() as session:
        await AnswerRepository(session).save(info.id, "career_plan", "free_text", FREE_TEXT)
        # an update of theirs the bot could not read (ids and the error only)
        await DeadLetterRepository(session).record(9999, chat_id=TG, stage="decode", error="x")
    await person.send(f"/start ev_{YK}")
    await person.click("✍️ Ilmoittaudu")
    await person.click("19.1.2027 klo 9.00")  # the first of the course's two runs
    await person.click("↩ Takaisin")
    await person.click("↩ Päävalikko")
    await person.click("Puhu valmentajan kanssa")
    await person.click("Työnhaku")
    await person.send(DETAILS)
    await person.click("Soittamalla")
    await person.click("Kyllä, saa tallentaa")
    await person.send(PHONE)
    await deliver(h)
    anna = coach(h, ANNA, "Anna")
    req = await latest_request(h, TG)
    await press(anna, card_message(h, req), "🙋 Otan tämän")
    await anna.send(FROM_COACH, reply_to=card_message(h, req))
    await deliver(h)
    await person.send(TO_COACH)
    await deliver(h)
    return person


def in_coach_chat(h: Harness) -> list[str]:
    """What the person wrote or is called, wherever it still shows in the coaches' group."""
    needles = [FIRST_NAME, DETAILS, PHONE_STORED, TO_COACH]
    shown = [
        f"{m.text or ''} {m.caption or ''}"
        for (chat, _), m in h.session.messages.items()
        if chat == GROUP
    ]
    return sorted({n for n in needles for text in shown if n in text})


# -- scanning the whole database -----------------------------------------------------------------


def _hits(value: Any, needles: list[str]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, int | float) and not isinstance(value, bool):
        return ["telegram id"] if int(value) == TG else []
    text = (
        json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value
    )
    return [n for n in needles if n.casefold() in text.casefold()]


async def scan(database: Database) -> dict[str, list[str]]:
    """Every table and column of the database, read raw (reflected: also tables no model
    knows) and through the ORM (so encrypted columns are read decrypted): where does the
    person's Telegram id or anything they wrote appear?"""
    needles = [str(TG), FREE_TEXT, DETAILS, PHONE, PHONE_STORED, TO_COACH, FROM_COACH, FIRST_NAME]
    found: dict[str, list[str]] = {}
    reflected = MetaData()
    async with database.engine.connect() as connection:
        await connection.run_sync(reflected.reflect)
        for table in reflected.sorted_tables:
            for row in await connection.execute(table.select()):
                for column, value in row._mapping.items():
                    for hit in _hits(value, needles):
                        found.setdefault(f"{table.name}.{column}", []).append(hit)
    async with database.read() as session:
        for mapper in Base.registry.mappers:
            model = mapper.class_
            for obj in await session.scalars(select(model)):
                for attr in mapper.column_attrs:
                    for hit in _hits(getattr(obj, attr.key), needles):
                        found.setdefault(f"{model.__tablename__}.{attr.key} (orm)", []).append(hit)
    return {k: sorted(set(v)) for k, v in found.items()}


# -- delete everything ---------------------------------------------------------------------------


DELETE_QUESTION = (
    "Haluatko poistaa kaikki tietosi?\n\n"
    "Poistan vastauksesi, ilmoittautumisesi tapahtumiin (paikkasi annetaan muille) ja pyyntösi "
    "valmentajalle viesteineen. Tätä ei voi perua."
)


async def test_delete_everything_leaves_nothing_that_points_at_the_person(h: Harness) -> None:
    person = await seed_everything(h)
    before = await scan(h.app.db)
    # the scan sees the person where they are (so it can fail)
    for where in (
        "persons.telegram_id",
        "answers.private_value (orm)"
        if hasattr(_answer_model(), "private_value")
        else "answers.value (orm)",
        "handoff_requests.details (orm)",
        "handoff_requests.phone (orm)",
        "relay_messages.text (orm)",
        "outbox.telegram_chat_id",
        "conversation_states.key",
        "dead_letters.chat_id",
    ):
        assert where in before, (where, before)
    # ... and in the coaches' group: the card (name, details, phone) and the relayed message
    assert set(in_coach_chat(h)) == {FIRST_NAME, DETAILS, PHONE_STORED, TO_COACH}

    calls = await person.send("/delete")
    [question] = sent(calls)
    assert question.text == DELETE_QUESTION
    assert buttons_of(question) == [
        ("🗑 Kyllä, poista kaikki", "pv:del!"),
        ("Peruuta", "pv:x"),
    ]
    calls = await person.click("🗑 Kyllä, poista kaikki")
    assert [type(c) for c in calls] == [AnswerCallbackQuery, EditMessageText]
    assert edits(calls)[0].text == (
        "✅ Tietosi on poistettu.\n\n"
        "• vastauksia: 7\n"
        "• ilmoittautumisia: 1\n"
        "• pyyntöjä valmentajalle: 1\n"
        "• viestejä valmentajan kanssa: 2\n\n"
        "Jäljelle jää vain tilastoja, joista ei näe, kuka olet. Jos haluat käyttää Urapolkua "
        "uudelleen, kirjoita /start."
    )
    assert edits(calls)[0].reply_markup is None
    assert await scan(h.app.db) == {}
    # the anonymous counts stay (stat_events has no column that could point at anyone)
    async with h.app.db.read() as session:
        stats = StatsRepository(session)
        assert await stats.count("handoff_requested") == 1
        assert await stats.count("data_erased") == 1
        assert await session.scalar(select(Person.id)) is None
    assert {c.name for c in Base.metadata.tables["stat_events"].columns} == {
        "id",
        "name",
        "at",
        "dims",
    }
    # nothing is sent to them any more; their messages leave the coaches' group; the request
    # is closed and anonymous
    start = len(h.session.calls)
    assert await deliver(h) == 1  # the scrub
    assert [c for c in h.session.calls[start:] if getattr(c, "chat_id", GROUP) != GROUP] == []
    assert in_coach_chat(h) == []
    [card] = [m for (chat, _), m in h.session.messages.items() if chat == GROUP and m.text]
    assert card.text == (
        "🗑 Pyyntö #1: henkilö pyysi poistamaan tietonsa, joten tämän pyynnön viestit on "
        "poistettu ryhmästä."
    )
    assert card.reply_markup is None
    req = await _only_request(h)
    assert (req.person_id, req.first_name, req.details, req.phone, req.status) == (
        None,
        None,
        None,
        None,
        "closed",
    )
    assert req.topic == "job_search"

    # writing again starts from the beginning, as someone new
    calls = await person.send("/start")
    assert sent(calls)[0].text == "Valitse kieli · Välj språk · Choose language"


def _answer_model() -> type:
    from db.models import Answer

    return Answer


async def _only_request(h: Harness) -> Any:
    from db.models import HandoffRequest
    from db.repositories import HandoffRepository

    async with h.app.db.read() as session:
        [request_id] = list(await session.scalars(select(HandoffRequest.id)))
        return await HandoffRepository(session).get(request_id)


async def test_delete_can_be_cancelled_and_the_conversation_goes_on(hs: Harness) -> None:
    person = await onboard(hs)
    await person.send("/delete")
    calls = await person.click("Peruuta")
    assert [type(c) for c in calls] == [AnswerCallbackQuery, EditMessageText, SendMessage]
    assert edits(calls)[0].text == "Selvä. Mitään ei poistettu."
    assert sent(calls)[0].text == "Mitä haluat tehdä?"
    assert (await person_row(hs)).has_consent


# -- my data -------------------------------------------------------------------------------------


async def test_my_data_from_the_menu_shows_everything_and_downloads_it(hs: Harness) -> None:
    person = await onboard(hs)
    info = await person_row(hs)
    async with hs.app.db.transaction() as session:
        await AnswerRepository(session).save(info.id, "career_plan", "free_text", FREE_TEXT)
    await person.send(f"/start ev_{YK}")
    await person.click("✍️ Ilmoittaudu")
    await person.click("19.1.2027 klo 9.00")  # the first of the course's two runs
    await person.click("↩ Takaisin")
    await person.click("↩ Päävalikko")
    calls = await person.click("Omat tietoni")
    [shown] = sent(calls)
    assert shown.text == (
        "📋 Omat tietosi\n\n"
        "✅ Olet antanut luvan tallentaa vastauksesi (5.1.2027).\n\n"
        "Kieli: Suomi\n\n"
        "Vastauksesi:\n"
        "• Kieli: Suomi\n"
        f"• Lisätietoja: {FREE_TEXT}\n\n"
        "Ilmoittautumisesi:\n"
        "• YrittäjäKaverit Karkkila, 19.1.2027 09:00\n\n"
        "Voit ladata tiedot tiedostona tai poistaa ne."
    )
    assert buttons_of(shown) == [
        ("⬇️ Lataa tietoni", "pv:dl"),
        ("🗑 Poista kaikki tietoni", "pv:del"),
        ("✋ Peru lupa tallentaa", "pv:wd"),
        ("🔒 Tietosuojaseloste", "pv:ntc"),
        ("↩ Päävalikko", "pv:home"),
    ]
    # /mydata shows the same
    calls = await person.send("/mydata")
    assert sent(calls)[0].text == shown.text

    calls = await person.click("⬇️ Lataa tietoni")
    assert [type(c) for c in calls] == [AnswerCallbackQuery, SendDocument]
    # the file says what it holds, in its caption (no message of its own)
    assert calls[1].caption == (
        "📎 Tässä tiedostossa ovat kaikki tiedot, jotka olen sinusta tallentanut: kielesi, "
        "vastauksesi, ilmoittautumisesi ja pyyntösi valmentajalle viesteineen. Voit avata sen "
        "millä tahansa tekstiohjelmalla."
    )
    file = hs.session.files[-1]  # (the first one is the sign-up's calendar file)
    assert (file.chat_id, file.filename) == (TG, "urapolku-my-data.json")
    exported = json.loads(file.content)
    assert exported["person"]["telegram_id"] == TG
    assert exported["consent"] == {
        "given": True,
        "version": 2,
        "decided_at": NOW.isoformat().replace("+02:00", "+00:00").replace("T10", "T08"),
    }
    assert [(a["key"], a["value"]) for a in exported["answers"]] == [
        ("language", "fi"),
        ("free_text", FREE_TEXT),
    ]
    assert [(s["item_id"], s["status"]) for s in exported["event_signups"]] == [(YK, "active")]
    assert exported["coach_requests"] == []

    calls = await person.click("↩ Päävalikko")
    assert sent(calls)[0].text == "Mitä haluat tehdä?"


async def test_my_data_lists_coach_requests_and_messages(hs: Harness) -> None:
    await seed_everything(hs)
    calls = await hs.person(TG).send("/mydata")
    text = sent(calls)[0].text
    assert "Pyyntösi valmentajalle:\n• #1 Työnhaku, 5.1.2027: avoinna, 2 viestiä" in text
    await hs.person(TG).click("⬇️ Lataa tietoni")
    [request] = json.loads(hs.session.files[-1].content)["coach_requests"]
    assert (request["details"], request["phone"]) == (DETAILS, PHONE_STORED)
    assert [(m["direction"], m["text"]) for m in request["messages"]] == [
        ("to_person", FROM_COACH),
        ("to_coach", TO_COACH),
    ]


async def test_withdrawing_consent_removes_the_saved_answers(hs: Harness) -> None:
    person = await onboard(hs)
    info = await person_row(hs)
    async with hs.app.db.transaction() as session:
        await AnswerRepository(session).save(info.id, "career_plan", "free_text", FREE_TEXT)
    await person.click("Omat tietoni")
    calls = await person.click("✋ Peru lupa tallentaa")
    [question] = edits(calls)
    assert question.text == (
        "Haluatko perua luvan tallentaa vastauksesi?\n\n"
        "Tallennetut vastauksesi poistetaan. Ilmoittautumisesi ja pyyntösi valmentajalle "
        "säilyvät. Jos haluat poistaa nekin, paina Omat tietoni -kohdassa nappia Poista kaikki "
        "tietoni."
    )
    assert labels(question) == ["✋ Kyllä, peru lupa", "Peruuta"]
    calls = await person.click("✋ Kyllä, peru lupa")
    assert edits(calls)[0].text == (
        "✅ Lupa on peruttu. Poistin tallennetut vastauksesi (2). En tallenna enää vastauksiasi."
    )
    assert sent(calls)[0].text == "Mitä haluat tehdä?"
    info = await person_row(hs)
    assert (info.has_consent, info.consent_decided) == (False, True)
    async with hs.app.db.read() as session:
        assert await AnswerRepository(session).for_person(info.id) == {}
    # my data now offers to allow saving again
    calls = await person.send("/mydata")
    assert "Et ole antanut lupaa tallentaa vastauksiasi." in sent(calls)[0].text
    calls = await person.click("✅ Salli tallentaminen")
    assert sent(calls)[0].text == "✅ Kiitos. Vastauksesi tallennetaan."
    assert (await person_row(hs)).consent_version == 2


async def test_continuing_without_saving_after_a_yes_asks_and_deletes_what_was_saved(
    hs: Harness,
) -> None:
    """Issue 20's path: new person → Suomi → yes → career plan → a coach by phone, with a
    number → /restart → Suomi → continue without saving → yes, delete → nothing is kept."""
    person = hs.person(TG, first_name=FIRST_NAME)
    await person.send("/start")
    await person.click("Suomi")
    await person.click("Kyllä, tallenna vastaukseni")
    await support.walk_career_plan(person)
    await person.click("Puhu tästä valmentajalle")
    await person.click("Työnhaku")
    await person.send(DETAILS)
    await person.click("Soittamalla")
    await person.click("Kyllä, saa tallentaa")
    await person.send(PHONE)
    await person.click("Kyllä, saa nähdä")
    info = await person_row(hs)
    async with hs.app.db.read() as session:
        saved = await AnswerRepository(session).for_person(info.id)
    assert len(saved) > 10
    assert saved["phone"] == PHONE

    await person.send("/restart")
    await person.click("Suomi")
    calls = await person.click("Jatka tallentamatta")
    [asked] = sent(calls)
    assert asked.text == (
        "Annoit aiemmin luvan tallentaa vastauksesi. Poistanko ne vastaukset, jotka olen jo "
        "tallentanut?\n\nPyyntösi valmentajalle ja ilmoittautumisesi tapahtumiin säilyvät."
    )
    assert labels(asked) == ["Kyllä, poista ne", "Ei, tallenna edelleen", "↩ Takaisin"]
    # nothing has changed until the person answers
    assert (await person_row(hs)).has_consent

    calls = await person.click("Kyllä, poista ne")
    [done] = sent(calls)
    assert done.text.startswith(
        f"✅ Lupa on peruttu. Poistin tallennetut vastauksesi ({len(saved)}). "
        "En tallenna enää vastauksiasi."
    )
    assert done.text.endswith("Mitä haluat tehdä?")
    info = await person_row(hs)
    assert (info.has_consent, info.consent_decided) == (False, True)
    async with hs.app.db.read() as session:
        assert await AnswerRepository(session).for_person(info.id) == {}
        assert await session.scalar(select(func.count()).select_from(Answer)) == 0

    [shown] = sent(await person.send("/mydata"))
    assert "Et ole antanut lupaa tallentaa vastauksiasi." in shown.text
    assert "Sinusta ei ole tallennettu vastauksia." in shown.text
    assert "Vastauksesi:" not in shown.text
    assert PHONE not in shown.text
    # the request itself stays (the person asked for it; /delete removes it), and says so
    assert "Pyyntösi valmentajalle:\n• #1 Työnhaku" in shown.text


async def test_continuing_without_saving_after_a_yes_can_keep_saving(hs: Harness) -> None:
    person = await onboard(hs)
    await person.click("Suunnittele polkuni")
    await person.click("Olen työtön")
    await person.send("/restart")
    await person.click("Suomi")
    await person.click("Jatka tallentamatta")
    calls = await person.click("Ei, tallenna edelleen")
    assert sent(calls)[0].text.startswith("✅ Kiitos. Vastauksesi tallennetaan.")
    info = await person_row(hs)
    assert info.has_consent
    async with hs.app.db.read() as session:
        assert (await AnswerRepository(session).for_person(info.id))["situation"] == "unemployed"


async def test_answers_without_consent_leave_the_state_however_the_person_leaves(
    hs: Harness,
) -> None:
    """Issue 20: typed text kept without consent is gone from the conversation state as soon
    as the person leaves the dialog — by the menu, /restart or another command."""
    storage = hs.dispatcher.storage

    async def state_answers(telegram_id: int) -> dict[str, Any]:
        from bot.features.privacy.service import storage_key

        data = await storage.get_data(storage_key(hs.bot.id, telegram_id))
        return dict(data.get("answers", {}))

    leaving = {
        "menu": lambda p: p.send("/menu"),
        "restart": lambda p: p.send("/restart"),
        "language": lambda p: p.send("/language"),
        "coach word": lambda p: p.send("ihminen"),
        "mydata": lambda p: p.send("/mydata"),  # stays: /mydata only shows, see below
    }
    for n, (how, leave) in enumerate(leaving.items()):
        telegram_id = TG + 10 + n
        person = await onboard(hs, consent=False, user_id=telegram_id)
        await person.click("Puhu valmentajan kanssa")
        await person.click("Työnhaku")
        await person.send(DETAILS)
        assert (await state_answers(telegram_id))["handoff_details"] == DETAILS, how
        await leave(person)
        answers = await state_answers(telegram_id)
        if how == "mydata":
            # "my data" does not take the person out of the question they are on
            assert answers["handoff_details"] == DETAILS
            await person.click("↩ Päävalikko")
            answers = await state_answers(telegram_id)
        assert DETAILS not in json.dumps(answers, ensure_ascii=False), how
        assert set(answers) <= {"language"}, how


# -- a new version of the consent text -----------------------------------------------------------


async def test_a_new_consent_version_is_asked_before_going_on(hs: Harness) -> None:
    person = await onboard(hs)
    await person.click("Puhu valmentajan kanssa")  # in the middle of a dialog
    hs.app.settings = hs.app.settings.model_copy(update={"consent_version": 3})

    calls = await person.click("Työnhaku")
    assert [type(c) for c in calls] == [AnswerCallbackQuery, SendMessage]
    [asked] = sent(calls)
    assert asked.text == (
        "🔒 Tietosuojateksti on muuttunut. Lue se ja valitse uudelleen, niin jatketaan.\n\n"
        "Saanko tallentaa vastauksesi, jotta voin ehdottaa sinulle sopivia palveluja? Voit "
        "poistaa ne milloin vain kohdasta Omat tietoni."
    )
    assert buttons_of(asked) == [
        ("Kyllä, tallenna vastaukseni", "pv:ca"),
        ("Jatka tallentamatta", "pv:cn"),
        ("Kerro lisää", "pv:cm"),
    ]
    question = person.keyboard_message()
    assert question is not None
    # the commands for one's own data still work without answering
    assert sent(await person.send("/mydata"))[0].text.startswith("📋 Omat tietosi")
    calls = await person.press("pv:cm", question)
    assert [c.text.split("\n")[0] for c in sent(calls)] == [
        "Säilytän tietoja, kunnes poistat ne. Jos et käytä palvelua 365 päivään, poistan ne "
        "itse. Vain hankkeen valmentajat näkevät pyyntösi valmentajalle. Aiemmat vastauksesi he "
        "näkevät vain, jos annat siihen luvan.",
        "🔒 Tietosuojateksti on muuttunut. Lue se ja valitse uudelleen, niin jatketaan.",
    ]
    calls = await person.click("Kyllä, tallenna vastaukseni")
    assert [c.text for c in sent(calls)] == [
        "✅ Kiitos. Vastauksesi tallennetaan.",
        "🙋 Yhdistän sinut valmentajaan. Valmentaja on oikea ihminen.\n\n"
        "Mistä asiasta haluat puhua?",
    ]
    assert (await person_row(hs)).consent_version == 3
    # answered: the conversation goes on as before
    calls = await person.click("Työnhaku")
    assert sent(calls)[0].text.startswith("Kerro halutessasi lyhyesti")


async def test_declining_a_new_consent_version_removes_the_answers(hs: Harness) -> None:
    person = await onboard(hs)
    hs.app.settings = hs.app.settings.model_copy(update={"consent_version": 3})
    await person.send("hei")
    calls = await person.click("Jatka tallentamatta")
    assert [c.text for c in sent(calls)] == [
        "Selvä. Vastauksiasi ei tallenneta. Niitä käytetään vain tämän keskustelun aikana.",
        "Mitä haluat tehdä?",
    ]
    info = await person_row(hs)
    assert (info.consent_version, info.consent_decided) == (None, True)
    async with hs.app.db.read() as session:
        assert await AnswerRepository(session).for_person(info.id) == {}
    # someone who said no is not asked again and again
    calls = await person.click("Tapahtumat ja koulutukset")
    assert not sent(calls)[0].text.startswith("🔒")


# -- /privacy and the handoff without consent ----------------------------------------------------


async def test_privacy_command_shows_the_notice(hs: Harness) -> None:
    person = await onboard(hs)
    calls = await person.send("/privacy")
    [notice] = sent(calls)
    text = notice.text
    assert text.startswith("🔒 Tietosuojaseloste\n\nRekisterinpitäjä\n")
    assert (
        "Luksia, Länsi-Uudenmaan koulutuskuntayhtymä (DuuniAgentti-hanke)\nY-tunnus 0203167-9"
        in text
    )
    assert "Rovaniemen kaupunki, työllisyyspalvelut\nY-tunnus 1978283-1" in text
    assert "Jos et käytä palvelua 365 päivään, kaikki tietosi poistetaan." in text
    assert "poistetaan 90 päivän kuluttua" in text
    assert "Voit poistaa kaikki tietosi: /delete" in text
    assert text.endswith(
        "Kysyttävää tietosuojasta?\nLuksian tietosuojavastaava\ntietosuoja@luksia.fi\n019 36961"
    )
    assert "[" not in text
    assert len(text) < 4096
    assert [label for label, _ in buttons_of(notice)] == ["↩ Päävalikko"]  # a way back
    back = await person.click("↩ Päävalikko")
    assert "Mitä haluat tehdä?" in [c.text for c in sent(back)]
    # in English too
    await person.send("/language")
    await person.click("English")
    english = sent(await person.send("/privacy"))[0].text
    assert english.startswith("🔒 Privacy notice\n\nController\n")
    assert "If you do not use the service for 365 days, all your data is deleted." in english


async def test_the_consent_is_two_sentences_and_tell_me_more_the_rest(hs: Harness) -> None:
    person = hs.person(TG)
    await person.send("/start")
    calls = await person.click("Suomi")
    [welcome] = sent(calls)
    consent = welcome.text.split("\n\n")[-1]
    assert consent == (
        "Saanko tallentaa vastauksesi, jotta voin ehdottaa sinulle sopivia palveluja? Voit "
        "poistaa ne milloin vain kohdasta Omat tietoni."
    )
    assert consent.count(". ") + consent.count("? ") == 1  # two sentences

    calls = await person.click("Kerro lisää")
    [more] = [c.text for c in sent(calls)]  # how long, who sees, who is responsible; asked again
    assert more == (
        "Säilytän tietoja, kunnes poistat ne. Jos et käytä palvelua 365 päivään, poistan ne "
        "itse. Vain hankkeen valmentajat näkevät pyyntösi valmentajalle. Aiemmat vastauksesi he "
        "näkevät vain, jos annat siihen luvan.\n\n"
        "Tiedoista vastaa Luksia, Länsi-Uudenmaan koulutuskuntayhtymä (DuuniAgentti-hanke) ja "
        "Rovaniemen kaupunki, työllisyyspalvelut.\n\n"
        "Koko tietosuojaselosteen saat komennolla /privacy.\n\n" + consent
    )
    assert len(more.split()) < 90  # not the whole notice
    assert labels(person.keyboard_message())[:3] == [
        "Kyllä, tallenna vastaukseni",
        "Jatka tallentamatta",
        "Kerro lisää",
    ]
    # in plain Finnish: shorter still, and the names of the organisations as they are
    other = hs.person(TG + 1)
    await other.send("/start")
    await other.click("Selkosuomi")
    [plain] = [c.text for c in sent(await other.click("Kerro lisää"))]
    assert plain.startswith(
        "Säilytän tietoja, kunnes poistat ne. Jos et käytä palvelua 365 päivään, poistan ne "
        "itse.\n\nVain valmentajat näkevät pyyntösi."
    )
    assert plain.endswith(
        "Kaikki tietosuojasta: kirjoita /privacy\n\n"
        "Saanko tallentaa vastauksesi? Voit poistaa ne milloin vain kohdasta Minun tietoni."
    )


async def test_handoff_without_consent_says_what_is_saved_and_why(hs: Harness) -> None:
    person = await onboard(hs, consent=False)
    await person.click("Puhu valmentajan kanssa")
    calls = await person.click("Työnhaku")
    # the note and the question, one message
    assert [c.text.split("\n\n")[:2] for c in sent(calls)] == [
        [
            "Et ole antanut lupaa tallentaa vastauksiasi. Jotta valmentaja voi ottaa sinuun "
            "yhteyttä, tallennan tämän pyynnön: aiheen, sen mitä kirjoitat ja miten sinut "
            "tavoittaa. Vain valmentajat näkevät sen. Voit poistaa sen milloin vain kohdasta "
            "Omat tietoni.",
            "Kerro halutessasi lyhyesti, missä tarvitset apua. Tai paina Ohita.",
        ]
    ]
    # with consent there is nothing to explain
    other = await onboard(hs, user_id=TG + 1)
    await other.click("Puhu valmentajan kanssa")
    calls = await other.click("Työnhaku")
    assert [c.text.split("\n")[0] for c in sent(calls)] == [
        "Kerro halutessasi lyhyesti, missä tarvitset apua. Tai paina Ohita.",
    ]


async def test_command_menu_has_the_privacy_commands_in_every_language(hs: Harness) -> None:
    from aiogram.types import BotCommandScopeAllPrivateChats

    await set_commands(hs.bot, hs.app)
    calls = [
        c
        for c in hs.session.calls_of(SetMyCommands)
        if isinstance(c.scope, BotCommandScopeAllPrivateChats)
    ]
    assert [c.language_code for c in calls] == [None, "fi", "sv", "en"]
    menus = {c.language_code: {b.command: b.description for b in c.commands} for c in calls}
    assert {k: menus["fi"][k] for k in ("mydata", "delete", "privacy")} == {
        "mydata": "Omat tietoni",
        "delete": "Poista tietoni",
        "privacy": "Tietosuoja",
    }
    assert menus["sv"]["delete"] == "Radera mina uppgifter"
    assert menus["en"]["privacy"] == "Privacy"


# -- content/privacy.yaml is checked like every content file -------------------------------------


def test_the_bundled_privacy_notice_is_valid() -> None:
    from bot.features.privacy.notice import check_privacy_content
    from tests.support import ROOT

    content, problems = check_privacy_content(ROOT / "content", variants=("fi-selko",))
    assert problems == []
    assert content is not None
    assert content.notice is not None
    assert content.notice.controller.business_id == "0203167-9"


def test_check_finds_what_is_wrong_in_the_privacy_notice(tmp_path: Path) -> None:
    import shutil

    from bot.content.snapshot import check_content
    from bot.content.source import Severity
    from tests.support import ROOT

    shutil.copytree(ROOT / "content", tmp_path / "content")
    path = tmp_path / "content" / "privacy.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace('fi: "Toivonkatu 4, 08100 Lohja"', 'fi: "[osoite]"')
    text = text.replace('email: "tietosuoja@luksia.fi"', 'email: "tietosuoja at luksia"')
    text = text.replace(
        '  sv: "Meddelandena går via Telegram.', '  se: "Meddelandena går via Telegram.'
    )
    path.write_text(text, encoding="utf-8")
    content, problems = check_content(
        ROOT / "dialogs",
        tmp_path / "content",
        default_language="fi",
        actions=build_registry(),
        sections=content_sections(),
    )
    assert content is None
    errors = sorted(
        (p.line, p.message)
        for p in problems
        if p.severity is Severity.ERROR and p.code == "privacy"
    )

    def line_of(start: str) -> int:
        """The line of the edited file that starts (after its indent) with ``start``."""
        lines = text.splitlines()
        return next(n for n, line in enumerate(lines, 1) if line.lstrip().startswith(start))

    assert errors == [
        (line_of('fi: "[osoite]"'), "'[osoite]' is still a placeholder"),
        (
            line_of('email: "tietosuoja at luksia"'),
            "'tietosuoja at luksia' is not an email address",
        ),
        (line_of("transfers:"), "'transfers' has no text in sv"),
        (line_of("transfers:"), "unknown language se"),
    ]


def test_without_a_privacy_file_check_warns_and_privacy_still_answers(tmp_path: Path) -> None:
    from bot.content.source import Severity
    from bot.features.privacy.notice import check_privacy_content

    content, problems = check_privacy_content(tmp_path)
    assert content is not None
    assert content.notice is None
    assert [(p.severity, p.code) for p in problems] == [(Severity.WARNING, "privacy")]


async def test_the_coaches_group_and_admins_get_their_own_command_menus(hs: Harness) -> None:
    from aiogram.exceptions import TelegramBadRequest
    from aiogram.types import BotCommandScopeChat

    # the admin has never written to the bot: Telegram does not know the chat
    hs.session.fail_next(
        SetMyCommands,
        lambda m: TelegramBadRequest(method=m, message="Bad Request: chat not found"),
        when=lambda m: isinstance(m.scope, BotCommandScopeChat) and m.scope.chat_id == 9001,
    )
    start = len(hs.session.calls)
    await set_commands(hs.bot, hs.app)  # does not raise
    scoped = {
        c.scope.chat_id: [(b.command, b.description) for b in c.commands]
        for c in hs.session.calls[start:]
        if isinstance(c, SetMyCommands) and isinstance(c.scope, BotCommandScopeChat)
    }
    assert scoped[GROUP] == [
        ("queue", "Avoimet pyynnöt"),
        ("mine", "Omat pyyntöni"),
        ("event", "Tapahtuman ilmoittautuneet: /event tunnus"),
    ]
    assert [command for command, _ in scoped[9001]][-4:] == ["coach", "report", "status", "reload"]
