"""Consent, wherever it is given: in the onboarding, while signing up for an event, or from
"my data". Whatever the way, the answers the person gave in this conversation are kept from
then on the same way — choices readable (counted in the funder's report), what they typed
encrypted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path

import pytest
from aiogram.methods import EditMessageText
from sqlalchemy import select

from bot.app import App
from bot.catalogue import HELSINKI
from bot.features import build_registry
from bot.features.reports.report import build_report
from bot.telegram.offline import ChatClient
from db.models import Answer, Person
from tests.support import (
    CAREER_PLAN_ANSWERS,
    Harness,
    buttons_of,
    make_app,
    make_harness,
    make_settings,
)

NOW = datetime(2027, 1, 5, 10, 0, tzinfo=HELSINKI)
YK = "yrittajakaverit-karkkila"


@pytest.fixture
async def consent_app(tmp_path: Path) -> AsyncIterator[App]:
    app = await make_app(make_settings(tmp_path, bundled=True), build_registry())
    app.clock = lambda: NOW
    yield app
    await app.db.dispose()


@pytest.fixture
def h(consent_app: App) -> Harness:
    return make_harness(consent_app)


async def plan_without_consent(h: Harness, user_id: int) -> ChatClient:
    """Someone who said no to saving, then walked the career plan (its answers are in the
    conversation only)."""
    person = h.person(user_id)
    await person.send("/start")
    await person.click("Suomi")
    await person.click("Jatka tallentamatta")
    await person.click("Suunnittele polkuni")
    for answer in CAREER_PLAN_ANSWERS:
        await person.click(answer)
    await person.click("Ohita")
    return person


async def sign_up_from_the_suggestions(person: ChatClient) -> None:
    """The first suggestion (YrittäjäKaverit Karkkila): its card, "sign up", the first of its
    two runs, "yes, fine"."""
    [message] = [m for m in person.messages() if (m.text or "").startswith("Nämä voisivat")]
    calls = await person.press(f"e:c:{YK}:r:0:0:0", message)
    for label in ("✍️ Ilmoittaudu", "19.1.2027 klo 9.00", "✅ Kyllä, sopii"):
        [edit] = [c for c in calls if isinstance(c, EditMessageText)]
        [data] = [d for text, d in buttons_of(edit) if text == label]
        assert data is not None
        calls = await person.press(data, message)


async def stored_answers(h: Harness, telegram_id: int) -> dict[str, str | None]:
    """The person's answers as the report's SQL sees them (None: encrypted)."""
    async with h.app.db.read() as session:
        rows = await session.execute(
            select(Answer.key, Answer.value)
            .join(Person, Person.id == Answer.person_id)
            .where(Person.telegram_id == telegram_id)
        )
        return {str(k): (v if v is None or v.startswith('"') else None) for k, v in rows}


async def test_consent_while_signing_up_counts_the_person_in_the_report(h: Harness) -> None:
    person = await plan_without_consent(h, 1001)
    await sign_up_from_the_suggestions(person)

    answers = await stored_answers(h, 1001)
    assert answers["municipality"] == '"karkkila"'  # a choice: readable
    assert answers["age_group"] == '"50_plus"'

    report = await build_report(h.app, date(2027, 1, 1), date(2027, 1, 31), language="fi")
    figures = {f.key: f.value for s in report.sections for f in s.figures}
    assert figures["municipality.karkkila"] == 1
    assert figures["age_group.50_plus"] == 1
    assert figures["participants.participants"] == 1
    assert figures["participants.over_50"] == 1
    assert figures["participants.long_term_unemployed"] == 1


async def test_consent_in_the_onboarding_and_while_signing_up_store_alike(h: Harness) -> None:
    """The same walk with consent given at the start stores the same readable answers."""
    early = h.person(1002)
    await early.send("/start")
    await early.click("Suomi")
    await early.click("Kyllä, tallenna vastaukseni")
    await early.click("Suunnittele polkuni")
    for answer in CAREER_PLAN_ANSWERS:
        await early.click(answer)
    await early.click("Ohita")
    late = await plan_without_consent(h, 1003)
    await sign_up_from_the_suggestions(late)

    stored_early = await stored_answers(h, 1002)
    stored_late = await stored_answers(h, 1003)
    for key in ("situation", "unemployment_duration", "age_group", "municipality"):
        assert stored_late[key] == stored_early[key] is not None
