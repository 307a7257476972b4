"""Turns engine output into Bot API calls: new messages, in-place edits, documents.

Rules: answer every button press (so the phone stops spinning; a press answered as it arrived,
see :mod:`bot.telegram.presses`, gets no second answer, and its notice is shown as a message
unless the turn already says the same); edit in place only the message
whose button was pressed and only when something changes (Telegram answers 400 "message is not
modified" otherwise); split texts longer than Telegram's 4,096 characters; plain text only, so
nothing a person typed can turn into markup.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.engine.output import Button, Reply, Turn
from bot.telegram.presses import answered_early
from bot.telegram.session import answers_unread

log = logging.getLogger(__name__)

MAX_TEXT = 4096


def keyboard(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=b.label, url=b.url)
                if b.url
                else InlineKeyboardButton(text=b.label, callback_data=b.data)
                for b in row
            ]
            for row in rows
        ]
    )


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split on paragraph, then line, then word boundaries; never return an empty list."""
    if len(text) <= limit:
        return [text or "…"]
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(
            rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit)
        )
        if cut <= limit // 2:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


async def answer_press(callback: CallbackQuery, notice: str | None = None) -> None:
    """Stop the phone's spinner (with a short notice, if any). A press Telegram no longer
    takes an answer for (handled late, after a restart or a backlog) is logged, and whatever
    the press does next still happens. A press answered as it arrived is not answered again:
    the notice then comes as a message (:mod:`bot.telegram.presses`)."""
    try:
        await callback.answer(notice[:200] if notice else None)
    except TelegramAPIError as exc:
        log.info("could not answer a button press: %s", exc.message)


def _same(message: Message, text: str, markup: InlineKeyboardMarkup | None) -> bool:
    current = message.reply_markup.model_dump(exclude_none=True) if message.reply_markup else None
    new = markup.model_dump(exclude_none=True) if markup else None
    if current == {"inline_keyboard": []}:
        current = None
    return (message.text or "") == text and current == new


class Delivery:
    """Sends a turn to one chat. Raises nothing for a person who blocked the bot: it reports it."""

    def __init__(self, bot: Bot, chat_id: int, callback: CallbackQuery | None = None) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.callback = callback
        self.blocked = False

    async def send(self, turn: Turn) -> None:
        try:
            if self.callback is not None:
                await answer_press(self.callback, self._notice(turn))
            edited = False
            with answers_unread():  # what Telegram returns is not used here
                for reply in turn.replies:
                    if reply.edit:
                        if not edited:
                            edited = await self._edit(reply)
                        continue
                    await self._send(reply)
        except TelegramForbiddenError:
            self.blocked = True
            log.info("chat %s has blocked the bot", self.chat_id)

    def _notice(self, turn: Turn) -> str | None:
        """The turn's notice for the press; none if the press was answered early (the notice
        would come as a message) and it is only worth a toast, or one of the turn's messages
        says the same."""
        notice = turn.notice
        if notice is None or self.callback is None:
            return notice
        if answered_early(self.bot, self.callback.id) and (
            turn.notice_toast_only or any(notice in reply.text for reply in turn.replies)
        ):
            return None
        return notice

    async def _edit(self, reply: Reply) -> bool:
        message = self.callback.message if self.callback else None
        if not isinstance(message, Message):
            return False  # no message, or one too old for Telegram to show us
        markup = keyboard(reply.buttons)
        text = reply.text[:MAX_TEXT]
        if _same(message, text, markup):
            return True
        try:
            await self.bot.edit_message_text(
                chat_id=message.chat.id,
                message_id=message.message_id,
                text=text,
                reply_markup=markup,
            )
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return True
            # Too old to edit, deleted meanwhile …: the conversation goes on without the edit.
            log.info("could not edit message: %s", exc.message)
            return False
        return True

    async def _send(self, reply: Reply) -> None:
        if reply.document is not None:
            await self.bot.send_document(
                self.chat_id,
                BufferedInputFile(reply.document.content, filename=reply.document.filename),
                caption=reply.text[:1024] or None,
            )
            return
        chunks = split_text(reply.text)
        markup = keyboard(reply.buttons)
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            await self.bot.send_message(self.chat_id, chunk, reply_markup=markup if last else None)
