"""Poison updates: what cannot be read is set aside as a dead letter, with ids and
the error only; forged button data with huge integers gets the stale-button answer; a private
message without a sender is ignored; nothing a raw Bot API answer said reaches the log."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram.exceptions import ClientDecodeError
from aiogram.methods import AnswerCallbackQuery, SendMessage
from aiogram.types import Chat, Message, Update
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.app import App
from bot.runtime.webhook import build_web_app
from bot.telegram.callbacks import parse_int
from bot.telegram.poison import UNREADABLE, UnreadableUpdate, read_update, split_answer
from bot.telegram.session import GetRawUpdates, JsonBodySession
from db.models import DeadLetter
from db.repositories import DeadLetterRepository
from tests.support import Harness, onboard

SECRET = "Salainen-Henkilotieto"
WEBHOOK_SECRET = "s3cret-Token_1"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET, "Content-Type": "application/json"}


def message(update_id: int, chat_id: int, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": chat_id, "type": "private", "first_name": SECRET},
            "from": {"id": chat_id, "is_bot": False, "first_name": SECRET, "language_code": "fi"},
            "text": text,
            **extra,
        },
    }


def unreadable_reply(update_id: int, chat_id: int) -> dict[str, Any]:
    """A reply to a message whose inline button has no text: aiogram's models refuse it."""
    return message(
        update_id,
        chat_id,
        f"{SECRET} vastaus",
        reply_to_message={
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": chat_id, "type": "private"},
            "text": SECRET,
            "reply_markup": {"inline_keyboard": [[{"callback_data": SECRET}]]},
        },
    )


async def letters(app: App, update_id: int) -> list[tuple[str, str, int]]:
    async with app.db.read() as session:
        return await DeadLetterRepository(session).of_update(update_id)


# -- reading ---------------------------------------------------------------------------------


def test_a_lone_surrogate_makes_only_its_own_update_unreadable() -> None:
    good = message(11, 501, "hei")
    answer = json.dumps({"ok": True, "result": [good, message(12, 502, f"{SECRET} \ud800")]})
    assert "\\ud800" in answer  # as Telegram sends it
    updates = split_answer(answer)
    assert updates[0] == good
    assert updates[1] == {
        "update_id": 12,
        "chat_id": 502,
        "private_chat_id": 502,
        UNREADABLE: "UnicodeError: a lone surrogate in a text",
    }


def test_the_session_reads_a_getupdates_answer_orjson_refuses_update_by_update() -> None:
    session = JsonBodySession("http://127.0.0.1:1")
    answer = json.dumps({"ok": True, "result": [message(11, 501, "\ud800"), message(12, 502, "")]})
    response = session.check_response(None, GetRawUpdates(), 200, answer)  # type: ignore[arg-type]
    assert [u["update_id"] for u in response.result] == [11, 12]
    assert UNREADABLE in response.result[0]


def test_an_answer_aiogram_cannot_read_is_raised_without_its_content() -> None:
    session = JsonBodySession("http://127.0.0.1:1")
    answer = json.dumps({"ok": True, "result": {"message_id": "x", "text": SECRET}})
    with pytest.raises(ClientDecodeError) as raised:
        session.check_response(None, SendMessage(chat_id=1, text="x"), 200, answer)  # type: ignore[arg-type]
    assert SECRET not in str(raised.value)
    assert raised.value.__suppress_context__


def test_an_update_the_models_refuse_is_described_by_field_names_only() -> None:
    found = read_update(unreadable_reply(21, 503), None)  # type: ignore[arg-type]
    assert isinstance(found, UnreadableUpdate)
    assert (found.update_id, found.chat_id) == (21, 503)
    assert found.error == (
        "ValidationError: message.reply_to_message.reply_markup.inline_keyboard.0.0.text: missing"
    )
    assert SECRET not in found.error


def test_integers_from_outside_are_parsed_within_their_range() -> None:
    assert parse_int("42", low=1, high=2**31 - 1) == 42
    assert parse_int("99999999999999999999", low=1, high=2**63 - 1) is None
    assert parse_int("9" * 5000, low=1, high=2**63 - 1) is None
    assert parse_int("-5", low=1, high=10) is None
    assert parse_int("x", low=1, high=10) is None


# -- webhook ---------------------------------------------------------------------------------


async def test_the_webhook_sets_poison_updates_aside_and_answers_the_next_person(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    web_app = build_web_app(h.app, h.bot, h.dispatcher, secret=WEBHOOK_SECRET, path="/tg")
    async with TestClient(TestServer(web_app)) as client:
        with caplog.at_level(logging.DEBUG):
            surrogate = json.dumps(message(31, 601, f"{SECRET} \ud800"))
            first = await client.post("/tg", data=surrogate, headers=HEADERS)
            refused = await client.post(
                "/tg", data=json.dumps(unreadable_reply(32, 602)), headers=HEADERS
            )
            hopeless = await client.post("/tg", data=b"{not json", headers=HEADERS)
            fine = await client.post(
                "/tg", data=json.dumps(message(33, 603, "/start")), headers=HEADERS
            )
    # each answered 200: Telegram does not send them again
    assert [r.status for r in (first, refused, hopeless, fine)] == [200, 200, 200, 200]
    assert await letters(h.app, 31) == [("decode", "UnicodeError: a lone surrogate in a text", 1)]
    [(stage, error, _)] = await letters(h.app, 32)
    assert (stage, error.split(":")[0]) == ("decode", "ValidationError")
    sends = [(c.chat_id, c.text) for c in h.session.calls_of(SendMessage)]
    assert sends[:2] == [(601, "UNREADABLE-fi"), (602, "UNREADABLE-fi")]
    assert sends[2][0] == 603  # the next person is answered as usual
    assert SECRET not in caplog.text
    assert "update 31 (chat 601) set aside" in caplog.text


async def test_a_person_whose_messages_cannot_be_read_is_told_once_a_minute(
    harness: Harness,
) -> None:
    h = harness
    web_app = build_web_app(h.app, h.bot, h.dispatcher, secret=WEBHOOK_SECRET, path="/tg")
    async with TestClient(TestServer(web_app)) as client:
        for update_id in (41, 42, 43):
            body = json.dumps(message(update_id, 701, "\ud800"))
            assert (await client.post("/tg", data=body, headers=HEADERS)).status == 200
    assert [c.text for c in h.session.calls_of(SendMessage)] == ["UNREADABLE-fi"]
    async with h.app.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(DeadLetter)) == 3


# -- forged and unusual updates through the dispatcher ---------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "hf:99999999999999999999:1",
        "hf:1:99999999999999999999",
        "h:c:99999999999999999999:",
        "ha:-99999999999999999999",
        "att:99999999999999999999",
        "e:c:x:r:0:99999999999999999999:0",
    ],
)
async def test_a_forged_press_with_a_huge_integer_gets_the_stale_button_answer(
    harness: Harness, caplog: pytest.LogCaptureFixture, data: str
) -> None:
    person = await onboard(harness, 801)
    with caplog.at_level(logging.ERROR):
        calls = await person.press(data)
    assert caplog.text == ""  # no handler failure, nothing reached the database
    assert isinstance(calls[0], AnswerCallbackQuery)
    texts = [c.text for c in calls if isinstance(c, SendMessage)]
    assert harness.app.t("bot.error", "fi") not in texts
    assert any(harness.app.t("engine.moved_on", "fi") in t for t in texts), texts
    async with harness.app.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(DeadLetter)) == 0


async def test_a_private_message_without_a_sender_is_ignored_quietly(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    senderless = Message(
        message_id=5,
        date=datetime(2026, 12, 6, tzinfo=UTC),
        chat=Chat(id=901, type="private"),
        text=SECRET,
    )
    with caplog.at_level(logging.INFO):
        await harness.dispatcher.feed_update(harness.bot, Update(update_id=51, message=senderless))
    assert harness.session.calls == []
    assert "without a sender in private chat 901; ignored" in caplog.text
    assert "failed" not in caplog.text
    assert SECRET not in caplog.text
    # the next person is answered as usual
    person = harness.person(902)
    await person.send("/start")
    assert harness.session.calls_of(SendMessage)


async def test_a_handler_failure_is_recorded_as_a_dead_letter_without_its_text(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.telegram import conversation

    person = await onboard(harness, 1001)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(SECRET)

    monkeypatch.setattr(conversation.Conversation, "run", broken)
    await person.send(f"{SECRET} kirjoitti")
    [update_id] = await _dead_update_ids(harness)
    [(stage, error, attempts)] = await letters(harness.app, update_id)
    assert (stage, attempts) == ("handle", 3)  # tried three times (nothing was done)
    assert error.startswith("RuntimeError at ")
    assert SECRET not in error


async def _dead_update_ids(h: Harness) -> list[int | None]:
    async with h.app.db.read() as session:
        return list(await session.scalars(select(DeadLetter.update_id).order_by(DeadLetter.id)))


async def test_a_failure_before_anything_was_done_is_tried_again_unnoticed(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.exc import OperationalError

    from bot.telegram import conversation

    person = await onboard(harness, 1001)
    run = conversation.Conversation.run
    failures = [OperationalError("UPDATE …", {}, Exception("database is locked"))]

    async def busy_once(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return await run(*args, **kwargs)

    monkeypatch.setattr(conversation.Conversation, "run", busy_once)
    with caplog.at_level(logging.WARNING):
        calls = await person.send("/menu")
    texts = [c.text for c in calls if isinstance(c, SendMessage)]
    assert texts
    assert harness.app.t("bot.error", "fi") not in texts
    assert "failed (OperationalError), try 1 of 3; trying again" in caplog.text
    assert await _dead_update_ids(harness) == []


async def test_a_lasting_failure_is_tried_three_times_then_set_aside(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.telegram import conversation

    person = await onboard(harness, 1001)
    tries = []

    async def broken(*args: Any, **kwargs: Any) -> Any:
        tries.append(1)
        raise RuntimeError(SECRET)

    monkeypatch.setattr(conversation.Conversation, "run", broken)
    calls = await person.send("/menu")
    assert len(tries) == 3
    assert [c.text for c in calls if isinstance(c, SendMessage)] == [
        harness.app.t("bot.error", "fi")
    ]
    [update_id] = await _dead_update_ids(harness)
    [(stage, _error, attempts)] = await letters(harness.app, update_id)
    assert (stage, attempts) == ("handle", 3)


async def test_a_failure_after_a_send_is_not_tried_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.telegram import conversation

    person = await onboard(harness, 1001)
    tries = []

    async def sends_then_fails(self: Any, *args: Any, **kwargs: Any) -> Any:
        tries.append(1)
        await harness.bot.send_message(1001, "jo lähetetty")
        raise RuntimeError(SECRET)

    monkeypatch.setattr(conversation.Conversation, "run", sends_then_fails)
    calls = await person.send("/menu")
    assert len(tries) == 1  # never sent twice
    assert [c.text for c in calls if isinstance(c, SendMessage)] == [
        "jo lähetetty",
        harness.app.t("bot.error", "fi"),
    ]
