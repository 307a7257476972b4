"""``urapolku chat``: the real dispatcher, dialogs and database, in a terminal, with no token
and no network. Buttons are shown as numbers; type a number to press one, or type text."""

from __future__ import annotations

import asyncio
import itertools
import sys
import textwrap
import time
from typing import Any, TextIO

from aiogram.methods import EditMessageText, SendDocument, SendMessage, TelegramMethod
from aiogram.types import InlineKeyboardMarkup

from bot.app import App
from bot.content.languages import LANGUAGES
from bot.factory import create_bot, create_dispatcher
from bot.telegram.offline import ChatClient, OfflineSession
from db.repositories import PersonRepository, StateRepository

QUIT = {"/quit", "/exit", "quit", "exit", "lopeta", "sluta"}


class Printer:
    def __init__(self, out: TextIO, width: int = 72) -> None:
        self.out = out
        self.width = width

    def __call__(self, method: TelegramMethod[Any], result: Any) -> None:
        if isinstance(method, SendMessage):
            self._show(method.text, method.reply_markup)
        elif isinstance(method, EditMessageText):
            last = (method.text or "").rsplit("\n", 1)[-1]
            if isinstance(method.reply_markup, InlineKeyboardMarkup):
                self._buttons(method.reply_markup)
            else:
                self.out.write(f"      {last}\n")
        elif isinstance(method, SendDocument):
            self.out.write(f"\n  📎 {getattr(method.document, 'filename', 'file')}\n")
        self.out.flush()

    def _show(self, text: str, markup: Any) -> None:
        self.out.write("\n")
        for paragraph in text.split("\n"):
            wrapped = textwrap.wrap(paragraph, self.width) or [""]
            for line in wrapped:
                self.out.write(f"  {line}\n")
        if isinstance(markup, InlineKeyboardMarkup):
            self._buttons(markup)

    def _buttons(self, markup: InlineKeyboardMarkup) -> None:
        buttons = [b for row in markup.inline_keyboard for b in row]
        for i, button in enumerate(buttons, 1):
            self.out.write(f"    [{i}] {button.text}\n")


async def reset_person(app: App, telegram_id: int) -> None:
    async with app.db.transaction() as session:
        await StateRepository(session).delete_subject(telegram_id)
        await PersonRepository(session).delete_by_telegram_id(telegram_id)


async def _known_language(app: App, telegram_id: int) -> str | None:
    """The language of someone who has talked to the bot before (None: someone new)."""
    async with app.db.read() as session:
        person = await PersonRepository(session).by_telegram_id(telegram_id)
    return person.language if person is not None else None


async def chat(
    app: App,
    *,
    user_id: int,
    language: str | None,
    first_name: str = "Testi",
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> None:
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    session = OfflineSession()
    session.listeners.append(Printer(out))
    bot = create_bot(app.settings, session=session, token="42:OFFLINE-TERMINAL-CHAT-TOKEN")
    dispatcher = create_dispatcher(app)
    # Update ids must never repeat across sessions: handled ids are remembered (idempotency).
    client = ChatClient(
        dispatcher,
        bot,
        session,
        user_id=user_id,
        first_name=first_name,
        language_code=language,
        update_ids=itertools.count(time.time_ns() // 1000),
    )
    # how to use the chat: in the person's language, or, before one is chosen, in each (as
    # the language question itself is)
    language = language or await _known_language(app, user_id)
    for lang in [language] if language else LANGUAGES:
        out.write(app.t("terminal.intro", lang) + "\n")
    await client.send("/start")
    loop = asyncio.get_running_loop()
    while True:
        out.write("\n> ")
        out.flush()
        line = await loop.run_in_executor(None, stdin.readline)
        if not line:
            break
        typed = line.strip()
        if not typed:
            continue
        if typed.casefold() in QUIT:
            break
        buttons = client.buttons
        if typed.isdigit() and 1 <= int(typed) <= len(buttons):
            await client.click(buttons[int(typed) - 1])
        else:
            await client.send(typed)
    out.write("\n")
    await bot.session.close()
