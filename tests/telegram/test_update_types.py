"""Every kind of update is handled or ignored on purpose (bot/telegram/handlers/updates.py), through the
real Dispatcher; assertions on the exact Bot API calls and on the database."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from aiogram.methods import AnswerCallbackQuery, SendMessage
from aiogram.types import Update
from sqlalchemy import func, select

from bot import factory
from bot.app import App
from bot.telegram.handlers.updates import ALLOWED_UPDATES
from db.models import Person
from db.repositories import AnswerRepository, PersonRepository
from tests.support import Harness, make_app, make_harness, make_settings

COACHES = -100_777
STRANGERS = -100_999
DATE = 1_700_000_000


def user(user_id: int = 1001) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Testi", "language_code": "fi"}


def chat(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Testi"}
    return {"id": chat_id, "type": "supergroup", "title": "Some group"}


def member(status: str, user_id: int = 7_000_000_001) -> dict[str, Any]:
    bot = {"id": user_id, "is_bot": True, "first_name": "Urapolku"}
    if status == "kicked":
        return {"status": "kicked", "user": bot, "until_date": 0}
    return {"status": status, "user": bot}


def my_chat_member(update_id: int, chat_id: int, old: str, new: str) -> Update:
    return Update.model_validate(
        {
            "update_id": update_id,
            "my_chat_member": {
                "chat": chat(chat_id),
                "from": user(),
                "date": DATE,
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
        }
    )


def message(chat_id: int, text: str = "hei", message_id: int = 5) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "date": DATE,
        "chat": chat(chat_id),
        "from": user(),
        "text": text,
    }


async def people(app: App) -> int:
    async with app.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Person)) or 0)


async def blocked(app: App, telegram_id: int) -> bool:
    async with app.db.read() as session:
        person = await PersonRepository(session).by_telegram_id(telegram_id)
    assert person is not None
    return person.blocked


@pytest.fixture
async def h(tmp_path: Path) -> Any:
    settings = make_settings(tmp_path, coach_chat_id=COACHES, admin_ids=[1])
    app = await make_app(settings)
    yield make_harness(app)
    await app.db.dispose()


def test_the_bot_asks_for_exactly_the_updates_it_handles(h: Harness) -> None:
    assert factory.ALLOWED_UPDATES is ALLOWED_UPDATES  # what polling and the webhook ask for
    assert h.dispatcher.resolve_used_update_types() == sorted(ALLOWED_UPDATES)


async def test_the_minimal_dispatcher_asks_for_the_same(harness: Harness) -> None:
    assert harness.dispatcher.resolve_used_update_types() == sorted(ALLOWED_UPDATES)


async def test_an_edited_answer_gets_a_kind_word_and_changes_nothing(h: Harness) -> None:
    person = h.person()
    await person.send("/start")
    await person.click("Suomi")
    await person.click("Kyllä")
    await person.click("Demo")
    await person.click("Yli 50")
    await person.send("25")
    async with h.app.db.read() as session:
        info = await PersonRepository(session).by_telegram_id(person.user_id)
        assert info is not None
        before = await AnswerRepository(session).for_person(info.id)
    assert before["work_years"] == 25

    calls = await person.edit(10_000, "40")
    assert [(type(c).__name__, c.chat_id, c.text) for c in calls] == [
        ("SendMessage", person.user_id, "EDITED-fi"),
        ("SendMessage", person.user_id, "Mitkä alat kiinnostavat?"),
    ]
    async with h.app.db.read() as session:
        assert await AnswerRepository(session).for_person(info.id) == before


async def test_blocking_and_unblocking_in_private_marks_and_clears(h: Harness) -> None:
    person = h.person()
    await person.send("/start")
    assert not await blocked(h.app, person.user_id)

    calls = await person.feed(my_chat_member(9001, person.user_id, "member", "kicked"))
    assert calls == []
    assert await blocked(h.app, person.user_id)

    calls = await person.feed(my_chat_member(9002, person.user_id, "kicked", "member"))
    assert calls == []
    assert not await blocked(h.app, person.user_id)
    assert await people(h.app) == 1


async def test_blocking_by_someone_who_never_wrote_creates_no_person(h: Harness) -> None:
    person = h.person()
    calls = await person.feed(my_chat_member(9011, person.user_id, "member", "kicked"))
    assert calls == []
    assert await people(h.app) == 0


async def test_the_bot_added_to_a_strangers_group_stays_silent(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.telegram.handlers.updates")
    person = h.person()
    calls = await person.feed(my_chat_member(9101, STRANGERS, "left", "member"))
    assert calls == []  # no greeting, no leaving (see docs/ROBUSTNESS.md)
    assert str(STRANGERS) in caplog.text  # the operator can find the id in the log
    # nobody there is talked to, and nobody becomes a person
    calls = await person.feed(
        Update.model_validate({"update_id": 9102, "message": message(STRANGERS, "/start")})
    )
    assert calls == []
    calls = await person.feed(
        Update.model_validate({"update_id": 9103, "edited_message": message(STRANGERS, "x")})
    )
    assert calls == []
    assert await people(h.app) == 0


async def test_the_bot_removed_from_the_coach_group_is_a_warning(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    calls = await h.person().feed(my_chat_member(9201, COACHES, "member", "kicked"))
    assert calls == []
    [record] = [r for r in caplog.records if r.name == "bot.telegram.handlers.updates"]
    assert record.levelno == logging.WARNING
    assert str(COACHES) in record.getMessage()


@pytest.mark.parametrize(
    "where",
    [
        {"message": message(STRANGERS, "old card")},  # an old keyboard in some group
        {"inline_message_id": "inl-1"},  # a button on an inline message
    ],
    ids=["group", "inline"],
)
async def test_a_stray_button_is_answered_silently(h: Harness, where: dict[str, Any]) -> None:
    update = Update.model_validate(
        {
            "update_id": 9301,
            "callback_query": {
                "id": "cb-1",
                "from": user(),
                "chat_instance": "x",
                "data": "s:1:fi",
                **where,
            },
        }
    )
    calls = await h.person().feed(update)
    assert [(type(c), c.callback_query_id, c.text) for c in calls] == [
        (AnswerCallbackQuery, "cb-1", None)
    ]
    assert await people(h.app) == 0


NOT_REQUESTED: dict[str, dict[str, Any]] = {
    "channel_post": {
        "message_id": 1,
        "date": DATE,
        "chat": {"id": -100_123, "type": "channel", "title": "News"},
        "text": "hello",
    },
    "edited_channel_post": {
        "message_id": 1,
        "date": DATE,
        "edit_date": DATE,
        "chat": {"id": -100_123, "type": "channel", "title": "News"},
        "text": "hello!",
    },
    "inline_query": {"id": "q1", "from": user(), "query": "kurssi", "offset": ""},
    "chosen_inline_result": {"result_id": "r1", "from": user(), "query": "kurssi"},
    "poll": {
        "id": "p1",
        "question": "?",
        "options": [{"text": "a", "voter_count": 1, "persistent_id": "a"}],
        "allows_revoting": False,
        "members_only": False,
        "total_voter_count": 1,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
    },
    "poll_answer": {
        "poll_id": "p1",
        "user": user(),
        "option_ids": [0],
        "option_persistent_ids": ["a"],
    },
    "chat_member": {
        "chat": chat(COACHES),
        "from": user(),
        "date": DATE,
        "old_chat_member": {"status": "left", "user": user(2002)},
        "new_chat_member": {"status": "member", "user": user(2002)},
    },
    "chat_join_request": {
        "chat": chat(COACHES),
        "from": user(),
        "user_chat_id": 1001,
        "date": DATE,
    },
    "message_reaction": {
        "chat": chat(COACHES),
        "message_id": 3,
        "user": user(),
        "date": DATE,
        "old_reaction": [],
        "new_reaction": [{"type": "emoji", "emoji": "👍"}],
    },
}


@pytest.mark.parametrize("kind", sorted(NOT_REQUESTED))
async def test_updates_never_asked_for_are_dropped_quietly(
    h: Harness, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert kind not in ALLOWED_UPDATES
    update = Update.model_validate({"update_id": 9400, kind: NOT_REQUESTED[kind]})
    calls = await h.person().feed(update)
    assert calls == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert await people(h.app) == 0


async def test_a_private_message_still_works_after_all_that(h: Harness) -> None:
    person = h.person()
    for kind in sorted(NOT_REQUESTED):
        await person.feed(
            Update.model_validate({"update_id": 9500 + len(kind), kind: NOT_REQUESTED[kind]})
        )
    calls = await person.send("/start")
    assert [(type(c), c.text) for c in calls] == [(SendMessage, "Kieli? · Språk? · Language?")]


async def test_webhook_refuses_without_secret_and_processes_nothing(tmp_path: Path) -> None:
    """Item 13: tests/runtime/test_webhook.py checks the 401s and the health endpoint; this adds that a
    refused request leaves no trace in the database."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.runtime.webhook import build_web_app
    from db.models import ProcessedUpdate

    app = await make_app(make_settings(tmp_path))
    harness = make_harness(app)
    web_app = build_web_app(app, harness.bot, harness.dispatcher, secret="abc", path="/tg")
    body = {"update_id": 77, "message": message(4242, "/start")}
    async with TestClient(TestServer(web_app)) as client:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "abd"}):
            response = await client.post("/tg", json=body, headers=headers)
            assert response.status == 401
    assert harness.session.calls == []
    async with app.db.read() as session:
        handled = await session.scalar(select(func.count()).select_from(ProcessedUpdate))
    assert handled == 0
    assert await people(app) == 0
    await app.db.dispose()


async def test_blocking_stops_reminders_and_unblocking_brings_them_back(tmp_path: Path) -> None:
    """my_chat_member in private is what Telegram sends when a person blocks the bot: event
    reminders (bot/features/events/jobs.py) skip them until they unblock it."""
    from datetime import datetime

    from bot.features import build_registry
    from bot.features.events.jobs import send_notices
    from tests.features.events.test_events import (
        HELSINKI,
        NOW,
        REMINDER_HOUR,
        Clock,
        notices,
        signed_up,
    )

    app = await make_app(make_settings(tmp_path, bundled=True), build_registry())
    app.clock = Clock(NOW)
    h = make_harness(app)
    person = await signed_up(h, 1001)
    await person.feed(my_chat_member(90_001, 1001, "member", "kicked"))
    assert await blocked(app, 1001)
    app.clock.now = datetime(2027, 1, 18, 10, 5, tzinfo=HELSINKI)  # the day before
    start = len(h.session.calls)
    assert await send_notices(app, h.bot) == 0
    assert h.session.calls[start:] == []
    assert await notices(h) == [("day_before", "skipped"), ("hour_before", "pending")]

    calls = await person.feed(my_chat_member(90_002, 1001, "kicked", "member"))
    assert calls == []
    assert not await blocked(app, 1001)
    app.clock.now = datetime(2027, 1, 19, 8, 5, tzinfo=HELSINKI)  # an hour before
    start = len(h.session.calls)
    assert await send_notices(app, h.bot) == 1
    assert [(type(c), c.chat_id, c.text) for c in h.session.calls[start:]] == [
        (SendMessage, 1001, REMINDER_HOUR)
    ]
    await app.db.dispose()
