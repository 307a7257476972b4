"""The bot speaks the current Bot API: no parameter Telegram deprecated, in any call of a whole
day's conversation on the bundled content (onboarding, the career plan, events, my data, a coach
request with a claim and replies, reminders), and link previews turned off the current way."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram.methods import EditMessageText, SendMessage, TelegramMethod
from aiohttp import BytesPayload

from bot.app import App
from bot.catalogue import HELSINKI
from bot.factory import create_bot
from bot.features import build_registry
from bot.features.events.jobs import send_notices
from bot.features.handoff.outbox import deliver_outbox
from bot.telegram.offline import deprecated_parameters
from bot.telegram.session import JsonBodySession
from db.repositories import CoachRepository, HandoffRepository
from tests.support import (
    TEST_TOKEN,
    Clock,
    Harness,
    make_app,
    make_harness,
    make_settings,
    onboard,
    walk_career_plan,
)

GROUP = -1001234567890
ANNA = 501
#: deprecated parameters the calls of this conversation could carry; the test checks every
#: parameter aiogram marks deprecated, these must be among them (or the check checks nothing)
EXPECTED_CHECKED = {
    "disable_web_page_preview",  # link_preview_options.is_disabled
    "reply_to_message_id",  # reply_parameters.message_id
    "allow_sending_without_reply",  # reply_parameters.allow_sending_without_reply
}


@pytest.fixture
async def day_app(tmp_path: Path) -> AsyncIterator[App]:
    settings = make_settings(tmp_path, bundled=True, coach_chat_id=GROUP, admin_ids=[9001])
    app = await make_app(settings, build_registry())
    app.clock = Clock(datetime(2027, 1, 5, 10, 0, tzinfo=HELSINKI))  # a Tuesday, office hours
    async with app.db.transaction() as session:
        await CoachRepository(session).add(ANNA, "Anna")
    yield app
    await app.db.dispose()


def deprecated_fields(call: TelegramMethod[Any]) -> set[str]:
    return {
        name
        for name, info in type(call).model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("deprecated")
    }


async def a_day(h: Harness) -> None:
    person = await onboard(h)
    await walk_career_plan(person)
    await person.send("/menu")
    for label in (
        "Tapahtumat ja koulutukset",
        "⭐ Sinulle sopivat",
        "1.",
        "✍️ Ilmoittaudu",
        "19.1.2027 klo 9.00",  # the first run of the course
    ):
        await person.click(label)
    await person.click("📅 Kalenteritiedosto")
    await person.send("/mydata")
    await person.send("/menu")
    for label in ("Puhu valmentajan kanssa", "Työnhaku"):
        await person.click(label)
    await person.send("Tarvitsen apua CV:n kanssa")
    for label in ("Viestillä tässä chatissa", "Kyllä, saa nähdä"):
        await person.click(label)
    await deliver_outbox(h.app, h.bot)  # the card to the coaches' group
    async with h.app.db.read() as session:
        [request] = await HandoffRepository(session).open_requests()
    assert request.card_message_id is not None
    card = h.session.messages[(GROUP, request.card_message_id)]
    anna = h.person(ANNA, chat_id=GROUP, first_name="Anna")
    assert card.reply_markup is not None
    claim = card.reply_markup.inline_keyboard[0][0].callback_data
    assert claim is not None
    await anna.press(claim, card)
    await anna.send("Hei! Katsotaan CV yhdessä.", reply_to=card)
    await deliver_outbox(h.app, h.bot)
    await person.send("Kiitos!")
    await person.send_document("cv.pdf", caption="Tässä CV")
    await deliver_outbox(h.app, h.bot)
    await anna.send("/queue")
    assert isinstance(h.app.clock, Clock)
    h.app.clock.now = datetime(2027, 1, 18, 12, 0, tzinfo=HELSINKI)  # the day before the event
    await send_notices(h.app, h.bot)


async def test_no_call_of_a_whole_day_carries_a_deprecated_parameter(day_app: App) -> None:
    h = make_harness(day_app)
    await a_day(h)
    calls = h.session.calls
    kinds = {type(c).__name__ for c in calls}
    assert {"SendMessage", "EditMessageText", "SendDocument", "CopyMessage"} <= kinds
    assert sum(isinstance(c, SendMessage) for c in calls) > 30
    checked = set().union(*(deprecated_fields(c) for c in calls))
    assert checked >= EXPECTED_CHECKED
    carrying = {
        f"{type(call).__name__}.{name}": value
        for call in calls
        for name, value in deprecated_parameters(h.bot, call).items()
    }
    assert carrying == {}


def test_every_message_turns_link_previews_off_the_current_way() -> None:
    session = JsonBodySession("http://127.0.0.1:9")
    bot = create_bot(make_settings(Path("/nonexistent")), session=session, token=TEST_TOKEN)
    for method in (
        SendMessage(chat_id=5, text="https://example.org"),
        EditMessageText(chat_id=5, message_id=1, text="https://example.org"),
    ):
        body = session.build_form_data(bot, method)
        assert isinstance(body, BytesPayload)
        sent = json.loads(body._value)
        assert sent["link_preview_options"] == {"is_disabled": True}
        assert "disable_web_page_preview" not in sent
        assert deprecated_parameters(bot, method) == {}
