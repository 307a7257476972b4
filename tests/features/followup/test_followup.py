"""Follow-ups through the real dispatcher with the offline session and a clock moved by hand:
scheduled when a coach closes a request, sent once per round when the person is idle, put off
while they are busy, skipped without consent, when blocked, or after erasure; answers saved
and counted anonymously; "still looking" offers suggestions and a coach."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.methods import SendMessage
from sqlalchemy import select

from bot.app import App
from bot.factory import build_scheduler
from bot.features import build_registry
from bot.features.followup.jobs import BUSY_RETRY, send_followups
from bot.features.followup.schedule import FOLLOWUP_JOB
from db.models import Event
from db.repositories import (
    SOURCE_ATTENDED,
    SOURCE_REQUEST,
    AnswerRepository,
    CoachRepository,
    FollowupInfo,
    FollowupRepository,
    PersonRepository,
)
from tests.features.handoff.support import (
    ADMIN,
    ANNA,
    GROUP,
    MONDAY_10,
    PERSON,
    Clock,
    ask_for_coach,
    card_message,
    coach,
    deliver,
    handoff_content,
    latest_request,
    onboard,
    press,
)
from tests.support import ROOT, Harness, buttons_of, make_app, make_harness, make_settings

HELLO = (
    "👋 Hei! Olit jokin aika sitten mukana palveluissamme. Saanko kysyä kaksi lyhyttä kysymystä?"
)
YES, NOT_NOW = "Kyllä, kysy", "Ei nyt"
HOW = "Mitä sinulle kuuluu nyt?"
OUTCOMES = [
    "Kokoaikatyössä",
    "Osa-aikatyössä",
    "Palkkatukityössä",
    "Työkokeilussa",
    "Opiskelen",
    "Oma yritys",
    "Muissa palveluissa",
    "Etsin yhä työtä",
]
HELPED = "Auttoivatko palvelumme sinua? 1 = ei yhtään, 5 = paljon."
THANKS = "Kiitos! Vastauksesi auttaa meitä kehittämään palveluja. 🌱"


async def make_followup_app(tmp_path: Path) -> App:
    """The handoff test app (fixture dialogs, a coach group, Anna and Ben) plus the real
    follow-up dialog and texts."""
    dialogs, content = handoff_content(tmp_path)
    shutil.copy(ROOT / "dialogs" / "followup.yaml", dialogs)
    for path in (ROOT / "content" / "texts").glob("followup.*.yaml"):
        shutil.copy(path, content / "texts")
    settings = make_settings(
        tmp_path,
        dialogs_dir=dialogs,
        content_dir=content,
        coach_chat_id=GROUP,
        admin_ids=[ADMIN],
    )
    app = await make_app(settings)
    app.clock = Clock(MONDAY_10)
    async with app.db.transaction() as session:
        await CoachRepository(session).add(ANNA, "Anna")
    return app


@pytest.fixture
async def followup_app(tmp_path: Path) -> AsyncIterator[App]:
    app = await make_followup_app(tmp_path)
    yield app
    await app.db.dispose()


@pytest.fixture
def h(followup_app: App) -> Harness:
    return make_harness(followup_app)


def clock(h: Harness) -> Clock:
    assert isinstance(h.app.clock, Clock)
    return h.app.clock


async def run_job(h: Harness) -> tuple[int, list[Any]]:
    start = len(h.session.calls)
    done = await send_followups(
        h.app, h.bot, storage=h.dispatcher.storage, isolation=h.dispatcher.fsm.events_isolation
    )
    return done, h.session.calls[start:]


def sent_to(calls: list[Any], chat_id: int) -> list[SendMessage]:
    return [c for c in calls if isinstance(c, SendMessage) and int(c.chat_id) == chat_id]


async def followups(h: Harness, telegram_id: int = PERSON) -> list[FollowupInfo]:
    async with h.app.db.read() as session:
        person = await PersonRepository(session).by_telegram_id(telegram_id)
        if person is None:
            return []
        return await FollowupRepository(session).for_person(person.id)


async def schedule_now(h: Harness, telegram_id: int, source_id: int = 1) -> None:
    """A follow-up due right now (as if an event had been attended 14 days ago)."""
    now = h.app.clock()
    async with h.app.db.transaction() as session:
        person = await PersonRepository(session).by_telegram_id(telegram_id)
        assert person is not None
        await FollowupRepository(session).schedule(
            person.id, SOURCE_ATTENDED, source_id, {14: now}, now=now
        )


async def stat_dims(h: Harness, name: str) -> list[dict[str, Any]]:
    async with h.app.db.read() as session:
        rows = await session.scalars(select(Event.dims).where(Event.name == name))
        return list(rows)


# -- the whole way: a closed request, two rounds ------------------------------------------


async def test_closing_a_request_schedules_both_rounds_sent_once_each(h: Harness) -> None:
    person = await onboard(h)
    anna = coach(h, ANNA, "Anna")
    await ask_for_coach(person)
    await deliver(h)
    await press(anna, card_message(h, await latest_request(h)), "🙋 Otan tämän")
    req = await latest_request(h)
    await press(anna, card_message(h, req), "✅ Sulje")
    await press(anna, card_message(h, req), "Työllistyi")
    await deliver(h)
    closed_at = clock(h).now

    rows = await followups(h)
    assert [(f.source_kind, f.source_id, f.days, f.due_at, f.status) for f in rows] == [
        (SOURCE_REQUEST, req.id, 14, closed_at + timedelta(days=14), "pending"),
        (SOURCE_REQUEST, req.id, 90, closed_at + timedelta(days=90), "pending"),
    ]

    # not due yet: nothing happens
    clock(h).advance(days=13, hours=23)
    assert await run_job(h) == (0, [])

    # due: the dialog starts in the person's chat, through the scheduler's registered job
    clock(h).advance(hours=1)
    scheduler = build_scheduler(h.app, h.bot, h.dispatcher)
    start = len(h.session.calls)
    assert await scheduler.run_once(FOLLOWUP_JOB) == 1
    [hello] = sent_to(h.session.calls[start:], PERSON)
    assert hello.text == HELLO
    # started by the bot, from nowhere: its "back" leads to the menu
    assert [label for label, _ in buttons_of(hello)] == [YES, NOT_NOW, "◀ Takaisin"]
    assert [f.status for f in await followups(h)] == ["sent", "pending"]

    # a second pass sends nothing more
    assert await run_job(h) == (0, [])

    # the person answers: saved as answers of the dialog `followup`, counted anonymously
    calls = await person.click(YES)
    [question] = sent_to(calls, PERSON)
    assert question.text == HOW
    assert [label for label, _ in buttons_of(question)] == [*OUTCOMES, "◀ Takaisin"]
    calls = await person.click("Kokoaikatyössä")
    assert [c.text for c in sent_to(calls, PERSON)] == [HELPED]
    calls = await person.click("5")
    texts = [c.text for c in sent_to(calls, PERSON)]
    assert texts == [f"{THANKS}\n\nMitä haluat tehdä?"]  # the thanks and the menu
    async with h.app.db.read() as session:
        p = await PersonRepository(session).by_telegram_id(PERSON)
        assert p is not None
        answers = await AnswerRepository(session).for_person(p.id)
    assert (answers["followup_outcome"], answers["followup_helped"]) == ("employed_full_time", "5")
    assert await stat_dims(h, "followup_answered") == [
        {
            "outcome": "employed_full_time",
            "helped": 5,
            "source": "request",
            "days": 14,
            "language": "fi",
            "municipality": None,
            "age_group": None,
        }
    ]
    assert [f.status for f in await followups(h)] == ["answered", "pending"]

    # the 90-day round, once
    clock(h).advance(days=76)
    done, calls = await run_job(h)
    assert done == 1
    assert [c.text for c in sent_to(calls, PERSON)] == [HELLO]
    assert await run_job(h) == (0, [])
    assert [f.status for f in await followups(h)] == ["answered", "sent"]
    assert len(await stat_dims(h, "followup_sent")) == 2

    # "not now": a kind word and the menu; nothing stored or counted
    calls = await person.click(NOT_NOW)
    assert [c.text for c in sent_to(calls, PERSON)] == [
        "Selvä, ei haittaa. 🙂\n\nMitä haluat tehdä?"
    ]
    assert len(await stat_dims(h, "followup_answered")) == 1
    async with h.app.db.read() as session:
        p = await PersonRepository(session).by_telegram_id(PERSON)
        assert p is not None
        assert await AnswerRepository(session).for_person(p.id) == answers
    assert [f.status for f in await followups(h)] == ["answered", "sent"]


async def test_scheduling_the_same_round_twice_keeps_one_row(h: Harness) -> None:
    await onboard(h)
    await schedule_now(h, PERSON)
    await schedule_now(h, PERSON)
    assert len(await followups(h)) == 1


# -- skipping ------------------------------------------------------------------------------


async def test_no_consent_blocked_and_erased_people_are_skipped(h: Harness) -> None:
    anonymous = h.person(2002)
    await anonymous.send("/start")
    await anonymous.click("Suomi")
    await anonymous.click("Ei")
    blocked = await onboard(h, 2003)
    await onboard(h, 2004)
    for telegram_id in (2002, 2003, 2004):
        await schedule_now(h, telegram_id, source_id=telegram_id)
    async with h.app.db.transaction() as session:
        await PersonRepository(session).mark_blocked(blocked.user_id)
        await PersonRepository(session).delete_by_telegram_id(2004)
    clock(h).advance(hours=1)

    assert await run_job(h) == (0, [])
    assert [(f.status, f.last_error) for f in await followups(h, 2002)] == [
        ("skipped", "no consent")
    ]
    assert [(f.status, f.last_error) for f in await followups(h, 2003)] == [("skipped", "blocked")]
    # erasure took the person's follow-ups with them
    async with h.app.db.read() as session:
        assert await FollowupRepository(session).due(clock(h).now, limit=10) == []


async def test_a_person_who_blocked_the_bot_is_marked_and_the_round_failed(h: Harness) -> None:
    from aiogram.exceptions import TelegramForbiddenError

    await onboard(h)
    await schedule_now(h, PERSON)
    clock(h).advance(hours=1)
    h.session.fail_next(
        SendMessage, lambda m: TelegramForbiddenError(method=m, message="Forbidden: blocked")
    )
    assert (await run_job(h))[0] == 0
    assert [(f.status, f.last_error) for f in await followups(h)] == [("failed", "403")]
    async with h.app.db.read() as session:
        person = await PersonRepository(session).by_telegram_id(PERSON)
    assert person is not None
    assert person.blocked


async def test_busy_people_are_asked_later_never_mid_dialog(h: Harness) -> None:
    person = await onboard(h)
    await person.click("Demo")  # in the middle of the demo dialog
    await schedule_now(h, PERSON)
    clock(h).advance(hours=1)

    assert await run_job(h) == (0, [])
    [row] = await followups(h)
    assert (row.status, row.due_at, row.last_error) == (
        "pending",
        clock(h).now + BUSY_RETRY,
        "busy",
    )

    # back at the menu, but just now: still not disturbed
    await person.send("/menu")
    clock(h).advance(hours=3)
    await person.send("/menu")
    clock(h).advance(minutes=10)
    assert await run_job(h) == (0, [])
    assert (await followups(h))[0].status == "pending"

    # idle at the menu and quiet for long enough: sent
    clock(h).advance(hours=3)
    done, calls = await run_job(h)
    assert done == 1
    assert [c.text for c in sent_to(calls, PERSON)] == [HELLO]


async def test_not_while_a_request_to_a_coach_is_open(h: Harness) -> None:
    person = await onboard(h)
    await ask_for_coach(person)
    await schedule_now(h, PERSON)
    clock(h).advance(hours=1)
    assert await run_job(h) == (0, [])
    assert [(f.status, f.last_error) for f in await followups(h)] == [("pending", "busy")]


async def test_a_busy_person_is_skipped_after_two_weeks_of_tries(h: Harness) -> None:
    person = await onboard(h)
    await person.click("Demo")
    await schedule_now(h, PERSON)
    clock(h).advance(days=14)
    assert await run_job(h) == (0, [])
    assert [(f.status, f.last_error) for f in await followups(h)] == [("skipped", "busy")]


async def test_only_one_follow_up_a_week(h: Harness) -> None:
    await onboard(h)
    await schedule_now(h, PERSON, source_id=1)
    await schedule_now(h, PERSON, source_id=2)
    clock(h).advance(hours=1)
    done, calls = await run_job(h)
    assert done == 1
    assert [c.text for c in sent_to(calls, PERSON)] == [HELLO]
    assert [(f.status, f.last_error) for f in await followups(h)] == [
        ("sent", None),
        ("skipped", "spaced"),
    ]


# -- "still looking", on the bundled dialogs -----------------------------------------------


@pytest.fixture
async def bundled_followup(tmp_path: Path) -> AsyncIterator[Harness]:
    app = await make_app(make_settings(tmp_path, bundled=True), build_registry())
    app.clock = Clock(MONDAY_10)
    yield make_harness(app)
    await app.db.dispose()


async def test_still_looking_offers_suggestions_and_a_coach(bundled_followup: Harness) -> None:
    h = bundled_followup
    person = h.person(PERSON)
    await person.send("/start")
    await person.click("Suomi")
    await person.click("Kyllä, tallenna vastaukseni")
    await schedule_now(h, PERSON)
    clock(h).advance(hours=1)
    assert (await run_job(h))[0] == 1

    await person.click(YES)
    await person.click("Etsin yhä työtä")
    calls = await person.click("2")
    # the word, what the `recommend` action found (nothing fits today), and the coach: all
    # text, so one message
    [message] = sent_to(calls, PERSON)
    assert message.text.split("\n\n") == [
        "Kiitos! Katsotaan yhdessä, mikä voisi auttaa nyt.",
        "Juuri nyt en löytänyt sinulle sopivaa tapahtumaa tai koulutusta. "
        "Valmentaja voi auttaa löytämään sopivan.",
        "Haluatko jutella valmentajan kanssa? Valmentaja on oikea ihminen.",
    ]
    # the answers are counted: "back" leads to the menu, not to them
    assert [label for label, _ in buttons_of(message)] == [
        "Kyllä, valmentajalle",
        "Ei nyt",
        "↩ Takaisin",
    ]
    # no item suggested, no counter of one
    assert await stat_dims(h, "recommendation_shown") == []
    [dims] = await stat_dims(h, "followup_answered")
    assert (dims["outcome"], dims["helped"], dims["source"]) == ("still_looking", 2, "attended")

    calls = await person.click("Kyllä, valmentajalle")
    assert sent_to(calls, PERSON)[0].text.startswith("🙋 Yhdistän sinut valmentajaan.")


def test_followup_days_setting() -> None:
    from pydantic import ValidationError

    from bot.config import Settings

    def days(value: object) -> list[int]:
        return Settings(_env_file=None, followup_days=value).followup_days

    assert Settings(_env_file=None).followup_days == [14, 90]
    assert days("90, 14") == [14, 90]
    assert days("30") == [30]
    assert days("") == []
    for wrong in ("0", "two weeks", "14,-1"):
        with pytest.raises(ValidationError):
            days(wrong)
