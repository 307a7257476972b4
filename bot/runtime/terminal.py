"""``urapolku chat``: the real dispatcher, dialogs and database, in a terminal, with no token
and no network. Buttons are shown as numbers; type a number to press one, or type text.

A message the bot edits is printed again in full, marked ✎ (a terminal cannot change what it
printed); a link button prints its address and sends nothing, as a phone opens the link; a
file prints its name and its caption; text wraps to the terminal's width."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import sys
import textwrap
import time
from typing import Any, TextIO

from aiogram.methods import (
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    SendDocument,
    SendMessage,
    TelegramMethod,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.app import App
from bot.content.languages import LANGUAGES
from bot.factory import create_bot, create_dispatcher
from bot.telegram.offline import ChatClient, OfflineSession
from db.repositories import PersonRepository, StateRepository

QUIT = {"/quit", "/exit", "quit", "exit", "lopeta", "sluta"}
#: before the text of a message the bot edited (printed again, whole)
UPDATED = "✎ "
#: after the label of a link button, and before its address when it is pressed
LINK_BUTTON = " ↗"
LINK = "🔗 "
#: before the name of a file the bot sends (its caption follows below it)
FILE = "📎 "
INDENT = "  "
BUTTON_INDENT = "    "


def terminal_width() -> int:
    """Columns to wrap at: the terminal's (or $COLUMNS), never fewer than 20."""
    return max(20, shutil.get_terminal_size().columns - 1)


class Printer:
    """Prints what the bot sends to the chat; remembers the newest keyboard it printed, so a
    number typed presses a button of what the person sees last."""

    def __init__(self, out: TextIO, width: int | None = None) -> None:
        self.out = out
        self.width = width
        #: the message whose buttons were printed last, and its buttons in printed order
        self.keyboard: tuple[Message, list[InlineKeyboardButton]] | None = None

    def __call__(self, method: TelegramMethod[Any], result: Any) -> None:
        if isinstance(method, SendMessage) and isinstance(result, Message):
            self._show(result)
        elif isinstance(
            method, EditMessageText | EditMessageReplyMarkup | EditMessageCaption
        ) and isinstance(result, Message):
            self._show(result, updated=True)
        elif isinstance(method, SendDocument):
            # the file, then its caption below it, as a phone shows them
            self.out.write(f"\n{INDENT}{FILE}{getattr(method.document, 'filename', 'file')}\n")
            pad = INDENT + " " * len(FILE)
            for paragraph in (method.caption or "").splitlines():
                self._wrap(paragraph, pad, pad)
        self.out.flush()

    def link(self, url: str) -> None:
        """A link button was pressed: its address, whole (to be copied), and nothing sent."""
        self.out.write(f"\n{INDENT}{LINK}{url}\n")
        self.out.flush()

    def _show(self, message: Message, *, updated: bool = False) -> None:
        self.out.write("\n")
        text = message.text if message.text is not None else message.caption or ""
        pad = " " * len(UPDATED) if updated else ""
        for i, paragraph in enumerate(text.split("\n")):
            marker = UPDATED if updated and i == 0 else pad
            self._wrap(paragraph, INDENT + marker, INDENT + pad)
        markup = message.reply_markup
        buttons = (
            [b for row in markup.inline_keyboard for b in row]
            if isinstance(markup, InlineKeyboardMarkup)
            else []
        )
        for i, button in enumerate(buttons, 1):
            label = f"[{i}] {button.text}" + (LINK_BUTTON if button.url else "")
            self._wrap(label, BUTTON_INDENT, BUTTON_INDENT + " " * (len(str(i)) + 3))
        if buttons:
            self.keyboard = (message, buttons)
        elif self.keyboard is not None and _same_message(self.keyboard[0], message):
            self.keyboard = None  # the buttons printed last are gone

    def _wrap(self, text: str, first: str, rest: str) -> None:
        width = self.width or terminal_width()
        lines = textwrap.wrap(
            text,
            width,
            initial_indent=first,
            subsequent_indent=rest,
            break_long_words=False,  # addresses stay whole, to be copied
            break_on_hyphens=False,
        )
        for line in lines or [first.rstrip()]:
            self.out.write(line + "\n")


def _same_message(a: Message, b: Message) -> bool:
    return (a.chat.id, a.message_id) == (b.chat.id, b.message_id)


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
    printer = Printer(out)
    session.listeners.append(printer)
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
        keyboard = printer.keyboard
        if keyboard is not None and typed.isdecimal() and 1 <= int(typed) <= len(keyboard[1]):
            message, buttons = keyboard
            button = buttons[int(typed) - 1]
            if button.url:
                printer.link(button.url)  # a phone opens the link; the bot hears nothing
            else:
                await client.press(button.callback_data or "", message)
        else:
            await client.send(typed)
    out.write("\n")
    await bot.session.close()
