"""The polling loop past poison: an update that cannot be read is set aside and the
offset moves past it; a getUpdates answer that cannot be read at all is retried, never fatal."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import ClientDecodeError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType

from bot.runtime.polling import Pipeline
from tests.runtime.test_polling import (
    TOKEN,
    Recorder,
    ScriptedTelegram,
    message_update,
    run_poll,
    until,
)

SECRET = "Salainen-Henkilotieto"


def unreadable(update_id: int, chat_id: int) -> dict[str, Any]:
    raw = message_update(update_id, chat_id, SECRET).model_dump(mode="json", exclude_none=True)
    raw["message"]["reply_to_message"] = {"message_id": 1, "date": 0, "chat": "not a chat"}
    return raw


async def test_an_unreadable_update_is_set_aside_and_the_offset_moves_past_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder()
    pipeline = Pipeline(recorder.dispatcher, Bot(TOKEN, session=ScriptedTelegram([])))
    raws = [
        message_update(40, 901, "a").model_dump(mode="json", exclude_none=True),
        unreadable(41, 902),
        message_update(42, 902, "b").model_dump(mode="json", exclude_none=True),
        {"no": "id"},  # not even an id: left out
    ]
    with caplog.at_level(logging.WARNING):
        assert pipeline.submit(raws) == 3
        await pipeline.join()
    assert sorted(recorder.finished) == [40, 42]
    assert pipeline.offset == 43
    assert "update 41 (chat 902) set aside, it cannot be read: ValidationError: message." in (
        caplog.text
    )
    assert SECRET not in caplog.text


class FlakyTelegram(ScriptedTelegram):
    """An answer that cannot be read first (aiogram quotes it in its error), then as usual."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.broken = 1

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - BaseSession's signature
    ) -> Any:
        if self.broken:
            self.broken -= 1
            raise ClientDecodeError("Failed to decode object", ValueError(), SECRET)
        return await super().make_request(bot, method, timeout)


async def test_an_unreadable_answer_is_retried_and_polling_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder()
    telegram = FlakyTelegram([message_update(50, 951, "a")])
    with caplog.at_level(logging.WARNING):
        stop, task = await run_poll(recorder, telegram)
        await until(lambda: recorder.finished == [50], timeout=10)
        stop.set()
        await asyncio.wait_for(task, 5)
    assert "getUpdates: unreadable answer (ClientDecodeError); retrying in 1s" in caplog.text
    assert SECRET not in caplog.text
