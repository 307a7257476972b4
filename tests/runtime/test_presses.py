"""Every button press answered as it arrives (bot/telegram/presses.py), in polling and webhook
mode, through the real dispatcher and the offline Bot API session: the answer goes ahead of the
chat's earlier work, the turn follows in order, and no press is answered twice; with a crowd
queued, the polling offset passes updates whose effects are committed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import CallbackQuery, Message, MessageEntity, Update
from aiohttp.test_utils import TestClient, TestServer

from bot.runtime.polling import Pipeline
from bot.runtime.webhook import build_web_app
from bot.telegram.offline import OfflineSession
from tests.support import TEST_TOKEN, ChatClient, Harness, onboard

PRIVACY_TITLE = "privacy.notice.title"
SECRET = "s3cret-Token_1"


class Gate(BaseRequestMiddleware):
    """Holds every sendMessage until :attr:`opened` is set (a slow turn)."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.holding = asyncio.Event()
        self.held = 0

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, SendMessage) and not self.opened.is_set():
            self.holding.set()
            self.held += 1
            await self.opened.wait()
        return await make_request(bot, method)


def command(person: ChatClient, update_id: int, text: str) -> Update:
    return Update(
        update_id=update_id,
        message=Message(
            message_id=20_000 + update_id,
            date=datetime(2026, 11, 28, tzinfo=UTC),
            chat=person.chat,
            from_user=person.user,
            text=text,
            entities=[MessageEntity(type="bot_command", offset=0, length=len(text))],
        ),
    )


def press(person: ChatClient, update_id: int, message: Message, label: str) -> Update:
    assert message.reply_markup is not None
    [data] = [
        b.callback_data
        for row in message.reply_markup.inline_keyboard
        for b in row
        if b.text == label
    ]
    query = CallbackQuery(
        id=f"q{update_id}", from_user=person.user, chat_instance="ci", message=message, data=data
    )
    return Update(update_id=update_id, callback_query=query)


async def until(condition: Any, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - conditions of several kinds
            await asyncio.sleep(0.005)


def answers(session: OfflineSession, query_id: str) -> list[AnswerCallbackQuery]:
    return [c for c in session.calls_of(AnswerCallbackQuery) if c.callback_query_id == query_id]


def shown(calls: list[Any]) -> list[tuple[str, str | None]]:
    return [(type(c).__name__, getattr(c, "text", None)) for c in calls]


async def test_a_press_behind_a_slow_update_of_its_chat_is_answered_first(
    harness: Harness,
) -> None:
    person = await onboard(harness)
    menu = person.keyboard_message()
    assert menu is not None
    gate = Gate()
    harness.bot.session.middleware(gate)
    slow, pressed = command(person, 901, "/privacy"), press(person, 902, menu, "Demo")
    start = len(harness.session.calls)

    pipeline = Pipeline(harness.dispatcher, harness.bot)
    pipeline.submit([slow, pressed])
    await gate.holding.wait()  # /privacy's reply is held: the press waits behind it …
    await until(lambda: answers(harness.session, "q902"))  # … and is answered meanwhile
    assert not pipeline.presses.answered_early("q901")
    assert shown(harness.session.calls[start:]) == [("AnswerCallbackQuery", None)]

    gate.opened.set()
    await pipeline.join()
    calls = harness.session.calls[start:]
    assert isinstance(calls[1], SendMessage)
    assert calls[1].text.startswith(PRIVACY_TITLE)  # the earlier update's reply comes first
    assert shown(calls[2:]) == [  # then the press's turn
        ("EditMessageText", "CONSENT-YES-fi\n\nMitä haluat tehdä?\n\n✔ Demo"),
        ("SendMessage", "Hei Testi!\n\nIkäryhmä?"),
    ]
    assert len(answers(harness.session, "q902")) == 1  # the turn did not answer it again


async def test_a_stale_press_answered_early_shows_its_notice_once(harness: Harness) -> None:
    person = await onboard(harness)
    menu = person.keyboard_message()
    assert menu is not None
    await person.click("Demo")  # the menu is now an old question
    gate = Gate()
    harness.bot.session.middleware(gate)
    slow, stale = command(person, 901, "/privacy"), press(person, 902, menu, "Kieli")
    start = len(harness.session.calls)

    pipeline = Pipeline(harness.dispatcher, harness.bot)
    pipeline.submit([slow, stale])
    await until(lambda: answers(harness.session, "q902"))
    gate.opened.set()
    await pipeline.join()
    calls = harness.session.calls[start:]
    [answer] = answers(harness.session, "q902")
    assert answer.text is None  # answered at once, silently
    notice = "Tuo kysymys on jo mennyt. Tässä nykyinen:"
    # the turn says it in a message already: no second copy of the notice
    assert [c.text for c in calls if isinstance(c, SendMessage)][1:] == [notice + "\n\nIkäryhmä?"]


async def test_a_handlers_notice_after_an_early_answer_comes_as_a_message() -> None:
    """A press whose handler answers with words after the press was answered: no second
    answer (Telegram would refuse it), the words come as a message in the chat."""
    session = OfflineSession()
    bot = Bot(TEST_TOKEN, session=session)
    dispatcher = Dispatcher()
    gate = asyncio.Event()

    @dispatcher.message()
    async def slow(message: Message) -> None:
        await gate.wait()
        await message.answer("ensin tämä")

    @dispatcher.callback_query()
    async def full(callback: CallbackQuery) -> None:
        await callback.answer("Tapahtuma on täynnä", show_alert=True)

    person = ChatClient(dispatcher, bot, session, user_id=1001)
    menu = session.new_message(1001, text="?")
    query = CallbackQuery(
        id="q2", from_user=person.user, chat_instance="ci", message=menu, data="x"
    )
    pipeline = Pipeline(dispatcher, bot)
    pipeline.submit([command(person, 1, "/x"), Update(update_id=2, callback_query=query)])
    await until(lambda: answers(session, "q2"))
    gate.set()
    await pipeline.join()
    assert shown(session.calls) == [
        ("AnswerCallbackQuery", None),
        ("SendMessage", "ensin tämä"),
        ("SendMessage", "Tapahtuma on täynnä"),
    ]


async def test_a_press_that_starts_at_once_is_answered_by_its_handler(harness: Harness) -> None:
    person = await onboard(harness)
    menu = person.keyboard_message()
    assert menu is not None
    start = len(harness.session.calls)
    pipeline = Pipeline(harness.dispatcher, harness.bot)
    pipeline.presses.grace = 60.0  # the handler comes first, whatever the machine's load
    pipeline.submit([press(person, 902, menu, "Demo")])
    await pipeline.join()
    assert shown(harness.session.calls[start:])[:2] == [
        ("AnswerCallbackQuery", None),
        ("EditMessageText", "CONSENT-YES-fi\n\nMitä haluat tehdä?\n\n✔ Demo"),
    ]
    assert len(answers(harness.session, "q902")) == 1
    assert not pipeline.presses.answered_early("q902")  # and forgotten once handled


async def test_webhook_answers_a_press_while_its_chat_is_busy(harness: Harness) -> None:
    person = await onboard(harness)
    menu = person.keyboard_message()
    assert menu is not None
    gate = Gate()
    harness.bot.session.middleware(gate)
    web_app = build_web_app(
        harness.app, harness.bot, harness.dispatcher, secret=SECRET, path="/telegram"
    )
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    start = len(harness.session.calls)

    def body(update: Update) -> dict[str, Any]:
        return update.model_dump(mode="json", exclude_none=True)

    async with TestClient(TestServer(web_app)) as client:
        slow = asyncio.create_task(
            client.post("/telegram", json=body(command(person, 901, "/privacy")), headers=headers)
        )
        await gate.holding.wait()
        pressed = asyncio.create_task(
            client.post("/telegram", json=body(press(person, 902, menu, "Demo")), headers=headers)
        )
        await until(lambda: answers(harness.session, "q902"))
        assert not slow.done()
        gate.opened.set()
        assert [(await slow).status, (await pressed).status] == [200, 200]
    calls = harness.session.calls[start:]
    assert [type(c) for c in calls] == [
        AnswerCallbackQuery,
        SendMessage,  # /privacy
        EditMessageText,  # the press's turn, after it
        SendMessage,  # the greeting and the first question, one message
    ]
    assert len(answers(harness.session, "q902")) == 1


async def test_with_a_fetchs_worth_queued_the_offset_passes_committed_updates(
    harness: Harness,
) -> None:
    gate = Gate()
    harness.bot.session.middleware(gate)

    def starts(first: int) -> list[Update]:
        people = [harness.person(first + i) for i in range(3)]
        return [command(p, first + i, "/start") for i, p in enumerate(people)]

    calm = Pipeline(harness.dispatcher, harness.bot)  # fewer queued than one fetch brings
    calm.submit(starts(2001))
    await until(lambda: gate.held == 3)  # committed, their replies held back
    assert calm.offset == 2001  # Telegram keeps them until they are answered

    # Half a fetch known past the oldest: a fetch from there would bring at most three
    # new updates, so newer ones are fetched past these, which are committed.
    crowd = Pipeline(harness.dispatcher, harness.bot, lookahead=6)
    crowd.submit(starts(3001))
    await until(lambda: gate.held == 6)
    assert crowd.offset == 3004

    gate.opened.set()
    await calm.join()
    await crowd.join()
    assert calm.offset == 2004
    assert len(harness.session.calls_of(SendMessage)) == 6
