"""Bot API calls as one JSON body (bot/telegram/session.py JsonBodySession): the Bot API
receives exactly the parameters aiogram's multipart form would carry; calls with a file keep
the form; errors read as aiogram reads them."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError, TelegramRetryAfter
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MessageEntity,
)
from aiohttp import web

from bot.telegram.session import JsonBodySession
from bot.telegram.standin import BotAPIStub

TOKEN = "123456:JSON-body-test-token-abcdefghijk"
DEFAULTS = DefaultBotProperties(parse_mode=None, link_preview=LinkPreviewOptions(is_disabled=True))


def keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text="Kyllä ✅", callback_data="c:1:yes")],
            [InlineKeyboardButton(text="Ei", callback_data="c:1:no")],
        ]
    )


@pytest.fixture
async def stub() -> AsyncIterator[BotAPIStub]:
    async with BotAPIStub(token=TOKEN) as server:
        yield server


async def close(*bots: Bot) -> None:
    for bot in bots:
        await bot.session.close()


async def test_a_json_call_carries_what_the_form_carries(stub: BotAPIStub) -> None:
    form = Bot(TOKEN, AiohttpSession(api=TelegramAPIServer.from_base(stub.base_url)), DEFAULTS)
    body = Bot(TOKEN, JsonBodySession(stub.base_url), DEFAULTS)
    aino = stub.user(5001, first_name="Aino")
    await aino.send("Moi")
    try:
        for bot in (form, body):
            await bot.send_message(
                5001,
                "Hei <b>Aino</b> & 50–64",
                reply_markup=keyboard(),
                entities=[MessageEntity(type="bold", offset=4, length=4)],
                disable_notification=False,
            )
            sent = await bot.send_message(5001, "Mikä kuvaa tilannettasi?")
            edited = await bot.edit_message_text(
                "Mikä kuvaa tilannettasi? → Työtön",
                chat_id=5001,
                message_id=sent.message_id,
                reply_markup=keyboard(),
            )
            assert not isinstance(edited, bool)  # the answer is parsed as aiogram does
            assert edited.reply_markup is not None
            assert edited.reply_markup.inline_keyboard[1][0].callback_data == "c:1:no"
        calls = [c for c in stub.calls if c.method in ("sendMessage", "editMessageText")]
        assert [c.status for c in calls] == [200] * 6
        by_form, by_body = calls[:3], calls[3:]
        for a, b in zip(by_form, by_body, strict=True):
            a.params.pop("message_id", None)
            b.params.pop("message_id", None)
            assert a.params == b.params
        assert by_body[0].params["reply_markup"]["inline_keyboard"][0][0]["text"] == "Kyllä ✅"
        assert by_body[0].params["link_preview_options"] == {"is_disabled": True}
    finally:
        await close(form, body)
    assert [m.text for m in stub.chat_messages(5001)][-2:] == [
        "Hei <b>Aino</b> & 50–64",
        "Mikä kuvaa tilannettasi? → Työtön",
    ]


async def test_the_request_is_one_json_object() -> None:
    seen: list[tuple[str, Any]] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append((request.content_type, json.loads(await request.read())))
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    bot = Bot(TOKEN, JsonBodySession(f"http://127.0.0.1:{port}"), DEFAULTS)
    try:
        assert await bot.answer_callback_query("query-1") is True
        assert await bot.delete_message(5001, 17) is True
    finally:
        await close(bot)
        await runner.cleanup()
    assert seen == [
        ("application/json", {"callback_query_id": "query-1"}),
        ("application/json", {"chat_id": 5001, "message_id": 17}),
    ]


async def test_a_call_with_a_file_keeps_the_form(stub: BotAPIStub) -> None:
    bot = Bot(TOKEN, JsonBodySession(stub.base_url), DEFAULTS)
    await stub.user(5001).send("omat tiedot")
    content = b'{"answers": {"age": "50-64"}}'
    try:
        sent = await bot.send_document(
            5001, BufferedInputFile(content, filename="urapolku.json"), caption="Tiedot"
        )
    finally:
        await close(bot)
    assert sent.document is not None
    assert sent.document.file_name == "urapolku.json"
    assert stub.chat_messages(5001)[-1].content == content


async def test_errors_read_as_aiogram_reads_them(stub: BotAPIStub) -> None:
    bot = Bot(TOKEN, JsonBodySession(stub.base_url), DEFAULTS)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    nowhere = Bot(TOKEN, JsonBodySession(f"http://127.0.0.1:{closed}"), DEFAULTS)
    try:
        with pytest.raises(TelegramBadRequest, match="chat not found"):
            await bot.send_message(404, "kukaan?")
        await stub.user(5001).send("hei")
        stub.fail_next("sendMessage", retry_after=7)
        with pytest.raises(TelegramRetryAfter) as limited:
            await bot.send_message(5001, "a")
        assert limited.value.retry_after == 7
        with pytest.raises(TelegramNetworkError, match="ClientConnector"):
            await nowhere.send_message(5001, "b")
    finally:
        await close(bot, nowhere)


async def test_answers_unread_skip_the_message_model_but_not_the_errors(stub: BotAPIStub) -> None:
    from aiogram.types import Message

    from bot.telegram.session import Unread, answers_unread

    bot = Bot(TOKEN, JsonBodySession(stub.base_url), DEFAULTS)
    await stub.user(5001).send("hei")
    try:
        with answers_unread():
            sent = await bot.send_message(5001, "Kysymys", reply_markup=keyboard())
            assert isinstance(sent, Unread)
            message_id = sent.model_extra["message_id"]  # kept as it came, not read
            edited = await bot.edit_message_text("Kysymys ✔", chat_id=5001, message_id=message_id)
            assert isinstance(edited, Unread)
            with pytest.raises(TelegramBadRequest, match="not modified"):
                await bot.edit_message_text("Kysymys ✔", chat_id=5001, message_id=message_id)
            with pytest.raises(TelegramBadRequest, match="chat not found"):
                await bot.send_message(404, "kukaan?")
            stub.fail_next("sendMessage", retry_after=3)
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(5001, "a")
        # outside, answers are read as always
        assert isinstance(await bot.send_message(5001, "Toinen"), Message)
        assert [m.text for m in stub.chat_messages(5001)][-3:] == ["hei", "Kysymys ✔", "Toinen"]
    finally:
        await close(bot)
