"""The Bot API stand-in, driven by a real aiogram Bot over HTTP, as the bot under test uses it."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.telegram.standin import NOT_MODIFIED, BotAPIStub, FakeUser

TOKEN = "123456:STUB-test-token-abcdefghijklmnop"
ROOT = Path(__file__).resolve().parents[2]


class LocalSession(AiohttpSession):
    """No TLS to 127.0.0.1, so closing need not wait 250 ms for SSL connections to close."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(stub: BotAPIStub, token: str = TOKEN) -> Bot:
    return Bot(token, session=LocalSession(api=TelegramAPIServer.from_base(stub.base_url)))


@pytest.fixture
async def stub() -> AsyncIterator[BotAPIStub]:
    async with BotAPIStub(token=TOKEN, first_update_id=1000) as server:
        yield server


@pytest.fixture
async def bot(stub: BotAPIStub) -> AsyncIterator[Bot]:
    client = make_bot(stub)
    yield client
    await client.session.close()


@pytest.fixture
def make_limited() -> Callable[..., BotAPIStub]:
    return lambda **limits: BotAPIStub(token=TOKEN, enforce_limits=True, **limits)


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=label, callback_data=f"cb:{label.lower()}")]
            for label in labels
        ]
    )


async def test_get_me_and_a_wrong_token(stub: BotAPIStub, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username, me.can_join_groups) == (
        123456,
        True,
        "urapolku_test_bot",
        True,
    )
    intruder = make_bot(stub, "123456:wrong")
    with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
        await intruder.get_me()
    await intruder.session.close()
    assert [c.status for c in stub.calls_of("getme")] == [200, 401]


async def test_send_message_to_a_person_who_wrote_first(stub: BotAPIStub, bot: Bot) -> None:
    aino = stub.user(5001, first_name="Aino")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(5001, "too early")

    mine = await aino.send("Moi")
    sent = await bot.send_message(5001, "Hei Aino", reply_markup=keyboard("Kyllä", "Ei"))
    again = await bot.send_message(5001, "Toinen")

    assert mine.message_id == 1
    assert (sent.message_id, again.message_id) == (2, 3)
    assert sent.from_user is not None
    assert sent.from_user.id == 123456
    assert (sent.chat.id, sent.chat.type, sent.chat.first_name) == (5001, "private", "Aino")
    assert sent.text == "Hei Aino"
    assert sent.reply_markup is not None
    assert sent.reply_markup.inline_keyboard[1][0].callback_data == "cb:ei"
    # the form's JSON strings and numbers are parsed back
    call = stub.calls_of("sendMessage")[-1]
    assert call.params["chat_id"] == 5001
    stored = stub.chat_messages(5001)
    assert [(m.from_bot, m.text) for m in stored] == [
        (False, "Moi"),
        (True, "Hei Aino"),
        (True, "Toinen"),
    ]
    assert stored[1].buttons == ["Kyllä", "Ei"]
    assert aino.last_message.text == "Toinen"
    assert aino.buttons == []
    assert [m.message_id for m in aino.messages] == [2, 3]
    assert [m.text for m in stub.delivered] == ["Hei Aino", "Toinen"]


async def test_edits_are_stored_and_an_identical_edit_is_refused(
    stub: BotAPIStub, bot: Bot
) -> None:
    aino = stub.user(5001)
    await aino.send("hei")
    sent = await bot.send_message(5001, "Kysymys?", reply_markup=keyboard("A", "B"))

    await bot.edit_message_text(
        "Kysymys 2?", chat_id=5001, message_id=sent.message_id, reply_markup=keyboard("A", "B")
    )
    assert (aino.last_message.text, aino.buttons) == ("Kysymys 2?", ["A", "B"])

    with pytest.raises(TelegramBadRequest) as refused:
        await bot.edit_message_text(
            "Kysymys 2?", chat_id=5001, message_id=sent.message_id, reply_markup=keyboard("A", "B")
        )
    assert refused.value.message == NOT_MODIFIED
    assert stub.calls_of("editMessageText")[-1].status == 400

    # the same text without the keyboard is a change: Telegram removes the keyboard
    await bot.edit_message_text("Kysymys 2?", chat_id=5001, message_id=sent.message_id)
    assert aino.buttons == []
    await bot.edit_message_reply_markup(
        chat_id=5001, message_id=sent.message_id, reply_markup=keyboard("C")
    )
    assert aino.buttons == ["C"]
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=5001, message_id=sent.message_id, reply_markup=keyboard("C")
        )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=5001, message_id=999)
    assert await bot.delete_message(5001, sent.message_id)
    assert aino.messages == []


async def test_get_updates_offset_confirms_and_commands_get_an_entity(
    stub: BotAPIStub, bot: Bot
) -> None:
    aino = stub.user(5001, language_code="sv")
    await aino.send("/start ref-42")
    await aino.send("hello")
    await aino.send("/menu@urapolku_test_bot")

    first = await bot.get_updates(limit=2)
    assert [u.update_id for u in first] == [1000, 1001]
    message = first[0].message
    assert message is not None
    assert message.text == "/start ref-42"
    assert message.from_user is not None
    assert message.from_user.language_code == "sv"
    assert message.entities is not None
    assert (message.entities[0].type, message.entities[0].length) == ("bot_command", 6)
    assert first[1].message is not None
    assert first[1].message.entities is None

    again = await bot.get_updates()  # nothing confirmed yet: all three again
    assert [u.update_id for u in again] == [1000, 1001, 1002]
    third = again[2].message
    assert third is not None
    assert third.entities is not None
    assert third.entities[0].length == len("/menu@urapolku_test_bot")

    rest = await bot.get_updates(offset=1002)
    assert [u.update_id for u in rest] == [1002]
    assert await bot.get_updates(offset=1003) == []
    assert stub.pending_updates == []
    assert await bot.get_updates(offset=1000) == []  # confirmed updates are gone for good


async def test_long_poll_answers_as_soon_as_an_update_arrives(stub: BotAPIStub, bot: Bot) -> None:
    aino = stub.user(5001)
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    assert not poll.done()
    await aino.send("hei")
    updates = await asyncio.wait_for(poll, 2)
    assert [u.message.text for u in updates if u.message] == ["hei"]
    assert time.monotonic() - started < 1.0


async def test_a_second_poller_ends_the_first_with_409(stub: BotAPIStub, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert await bot.get_updates() == []
    with pytest.raises(TelegramConflictError, match="only one bot instance"):
        await asyncio.wait_for(first, 1)


async def test_injected_faults(stub: BotAPIStub, bot: Bot) -> None:
    await stub.user(5001).send("hei")
    stub.fail_next("sendMessage", retry_after=3)
    with pytest.raises(TelegramRetryAfter) as limited:
        await bot.send_message(5001, "a")
    assert limited.value.retry_after == 3
    stub.fail_next("sendmessage", status=500, times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Internal Server Error"):
            await bot.send_message(5001, "b")
    await bot.send_message(5001, "c")
    assert [c.status for c in stub.calls_of("sendMessage")] == [429, 500, 500, 200]
    assert [m.text for m in stub.chat_messages(5001) if m.from_bot] == ["c"]


async def test_a_blocked_bot_gets_403_and_my_chat_member(stub: BotAPIStub, bot: Bot) -> None:
    pekka = stub.user(5002)
    await pekka.send("hei")
    await pekka.block_bot()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(5002, "still there?")
    updates = await bot.get_updates()
    member = updates[-1].my_chat_member
    assert member is not None
    assert (member.old_chat_member.status, member.new_chat_member.status) == ("member", "kicked")
    assert member.new_chat_member.user.id == 123456

    stub.unblock(5002)
    await bot.send_message(5002, "welcome back")
    stub.block(5002)
    with pytest.raises(TelegramForbiddenError):
        await bot.send_chat_action(5002, "typing")


async def test_documents_and_photos_are_uploaded_stored_and_downloadable(
    stub: BotAPIStub, bot: Bot
) -> None:
    aino = stub.user(5001)
    await aino.send("raportti kiitos")
    content = b"%PDF-1.4 the report " + bytes(range(256))
    sent = await bot.send_document(
        5001, BufferedInputFile(content, filename="raportti.pdf"), caption="Tässä"
    )
    document = sent.document
    assert document is not None
    assert (document.file_name, document.mime_type, document.file_size) == (
        "raportti.pdf",
        "application/pdf",
        len(content),
    )
    assert sent.caption == "Tässä"
    stored = aino.last_message
    assert (stored.kind, stored.file_name, stored.content) == ("document", "raportti.pdf", content)
    assert stub.calls_of("sendDocument")[0].params["document"].filename == "raportti.pdf"

    downloaded = await bot.download(document.file_id)
    assert downloaded is not None
    assert downloaded.read() == content

    png = stub.file((await aino.send_photo()).photo[-1]["file_id"]).content  # type: ignore[index]
    photo = await bot.send_photo(5001, BufferedInputFile(png, filename="kuva.png"))
    assert photo.photo is not None
    assert (photo.photo[-1].width, photo.photo[-1].height) == (1, 1)
    resent = await bot.send_document(5001, document.file_id)  # by file_id
    assert resent.document is not None
    assert resent.document.file_id == document.file_id
    assert [m.kind for m in aino.messages] == ["document", "photo", "document"]


async def test_click_builds_a_callback_query_from_the_newest_keyboard(
    stub: BotAPIStub, bot: Bot
) -> None:
    aino = stub.user(5001)
    await aino.send("/start")
    await bot.send_message(5001, "Vanha", reply_markup=keyboard("Kyllä", "Ei"))
    newest = await bot.send_message(5001, "Uusi", reply_markup=keyboard("Kyllä", "Ehkä myöhemmin"))
    await bot.get_updates()  # the /start

    query_id = await aino.click("Kyllä")
    [update] = await bot.get_updates(offset=1001)
    query = update.callback_query
    assert query is not None
    assert (query.id, query.data, query.from_user.id) == (query_id, "cb:kyllä", 5001)
    assert isinstance(query.message, Message)
    assert query.message.message_id == newest.message_id
    assert query.message.reply_markup is not None  # the message as it is, keyboard and all
    assert query.chat_instance

    await aino.click("Ehkä")  # a unique prefix is enough
    await aino.click("Ei")  # only in the older message
    datas = [u.callback_query.data for u in await bot.get_updates() if u.callback_query]
    assert datas[-2:] == ["cb:ehkä myöhemmin", "cb:ei"]

    with pytest.raises(AssertionError, match=r"(?s)no button 'Peruuta'.*Ehkä myöhemmin"):
        await aino.click("Peruuta")
    await aino.click_data("forged:data", message_id=newest.message_id)
    forged = (await bot.get_updates())[-1].callback_query
    assert forged is not None
    assert forged.data == "forged:data"

    assert await bot.answer_callback_query(query_id, text="Selvä", show_alert=True)
    assert stub.callback_answers[query_id]["show_alert"] is True
    assert aino.last_callback_answer == stub.callback_answers[query_id]
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query("12345")


async def test_wait_for_reply_explains_what_the_bot_did(stub: BotAPIStub) -> None:
    aino = stub.user(5001)
    await aino.send("hei")
    with pytest.raises(TimeoutError, match=r"not yet fetched: 1.*never called getUpdates"):
        await aino.wait_for_reply(timeout=0.1)
    with pytest.raises(TimeoutError, match="not idle"):  # an unhandled update is not idle
        await aino.wait_idle(quiet=0.01, timeout=0.05)


async def test_rate_limits_answer_429_when_enforced(
    make_limited: Callable[..., BotAPIStub],
) -> None:
    async with make_limited(global_per_second=3, per_chat_per_second=1) as stub:
        bot = make_bot(stub)
        for user_id in (1, 2, 3, 4):
            await stub.user(user_id).send("hei")
        await bot.send_message(1, "a")
        with pytest.raises(TelegramRetryAfter) as per_chat:
            await bot.send_message(1, "b")
        assert per_chat.value.retry_after == 1
        await bot.send_message(2, "a")
        await bot.send_message(3, "a")
        with pytest.raises(TelegramRetryAfter):  # 3 a second overall
            await bot.send_message(4, "a")
        assert await bot.edit_message_text("edits are not sends", chat_id=1, message_id=2)
        assert (stub.rejected, len(stub.delivered)) == (2, 3)
        await bot.session.close()

    async with make_limited(per_group_per_minute=2) as stub:
        bot = make_bot(stub)
        stub.group(-100123, "Ryhmä")
        await bot.send_message(-100123, "1")
        await bot.send_message(-100123, "2")
        with pytest.raises(TelegramRetryAfter) as per_group:
            await bot.send_message(-100123, "3")
        assert 58 <= per_group.value.retry_after <= 60
        await bot.session.close()

    async with BotAPIStub(token=TOKEN) as stub:  # off by default
        bot = make_bot(stub)
        await stub.user(1).send("hei")
        for i in range(5):
            await bot.send_message(1, str(i))
        assert stub.rejected == 0
        await bot.session.close()


async def test_commands_per_scope_and_language(stub: BotAPIStub, bot: Bot) -> None:
    fi = [BotCommand(command="start", description="Aloita")]
    scope = BotCommandScopeAllPrivateChats()
    await bot.set_my_commands(fi, scope=scope, language_code="fi")
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    got = await bot.get_my_commands(scope=scope, language_code="fi")
    assert [(c.command, c.description) for c in got] == [("start", "Aloita")]
    assert await bot.get_my_commands(scope=scope, language_code="sv") == []
    assert [c["description"] for c in stub.my_commands()] == ["Start"]
    assert stub.calls_of("setMyCommands")[0].params["scope"] == {"type": "all_private_chats"}
    await bot.delete_my_commands(scope=scope, language_code="fi")
    assert await bot.get_my_commands(scope=scope, language_code="fi") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start", description="x")])


async def test_raw_requests_json_bodies_case_and_unknown_methods(stub: BotAPIStub) -> None:
    await stub.user(5001).send("hei")
    base = f"{stub.base_url}/bot{TOKEN}"
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base}/SENDMESSAGE",
            json={"chat_id": 5001, "text": "json", "reply_markup": '{"inline_keyboard": []}'},
        ) as response:
            body = await response.json()
        assert body["ok"] is True
        assert body["result"]["text"] == "json"
        async with http.get(f"{base}/getChat?chat_id=5001") as response:
            chat = (await response.json())["result"]
        assert (chat["id"], chat["type"]) == (5001, "private")
        async with http.post(f"{base}/noSuchMethod", data={"a": "1"}) as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
    assert [c.method for c in stub.calls] == ["sendMessage", "getChat", "noSuchMethod"]


async def test_groups_topics_copies_and_forwards(stub: BotAPIStub, bot: Bot) -> None:
    aino = stub.user(5001)
    forum = stub.group(-1001234567890, "Valmentajat", is_forum=True)
    topic = await bot.create_forum_topic(forum.chat_id, "Aino")
    first = await bot.send_message(
        forum.chat_id, "Uusi asiakas", message_thread_id=topic.message_thread_id
    )
    assert first.message_thread_id == topic.message_thread_id
    assert first.is_topic_message
    assert first.chat.type == "supergroup"
    assert first.chat.title == "Valmentajat"

    question = await aino.send("Miten haen koulutukseen?")
    copied = await bot.copy_message(
        forum.chat_id, 5001, question.message_id, message_thread_id=topic.message_thread_id
    )
    assert forum.last_message.message_id == copied.message_id
    assert forum.last_message.text == "Miten haen koulutukseen?"

    coach = stub.user(9001, first_name="Valmentaja")
    await forum.send(
        coach,
        "Hakuaika on toukokuussa",
        reply_to=copied.message_id,
        message_thread_id=topic.message_thread_id,
    )
    [update] = await bot.get_updates(offset=stub.pending_updates[-1]["update_id"])
    reply = update.message
    assert reply is not None
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == copied.message_id
    assert reply.message_thread_id == topic.message_thread_id

    forwarded = await bot.forward_message(5001, forum.chat_id, reply.message_id)
    assert forwarded.text == "Hakuaika on toukokuussa"
    assert forwarded.forward_origin is not None
    with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
        await bot.create_forum_topic(stub.group(-5, "pieni").chat_id, "x")


def load_bare_bot() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bare_bot", ROOT / "bench" / "bare_bot.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bare_bot", module)
    spec.loader.exec_module(module)
    return module


async def test_the_bare_bot_against_the_stub_with_latencies(stub: BotAPIStub) -> None:
    run_bare_bot = load_bare_bot().run_bare_bot
    stop = asyncio.Event()
    running = asyncio.create_task(run_bare_bot(stub.base_url, TOKEN, stop))
    try:
        aino: FakeUser = stub.user(5001)
        await aino.send("hei")
        [reply] = await aino.wait_for_reply()
        assert (reply.text, aino.buttons) == ("You said: hei", ["A", "B", "C"])
        await aino.click("B")
        await aino.wait_for_reply()
        await aino.wait_idle(quiet=0.05)
        assert aino.last_message.text == "You chose b"
        assert aino.last_callback_answer is not None
        assert stub.handled_count == 2
        assert all(0 <= latency < 1 for latency in stub.latencies())
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
