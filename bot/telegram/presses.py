"""Button presses answered as soon as they arrive.

``answerCallbackQuery`` is not a message: Telegram does not count it against the send limits,
and until it comes the person's phone shows a spinner (an answer later than about 15 s is
dropped). The polling loop and the webhook tell :class:`PressAnswers` when a press in a private
chat arrives (:meth:`~PressAnswers.arrived`), before it waits for anything:

* a press that must wait (earlier updates of its chat, or every handling slot taken) is
  answered at once, silently;
* any other press starts being handled at once; its handler answers it as usual, with its
  notice if it has one, and if it has not done so within :data:`GRACE_S` the press is
  answered silently then.

The turn's work follows as before, in order per chat; only the answer goes ahead.

As a request middleware on the bot's session, it also keeps a press from being answered twice:
a handler's answer to a press already answered is not sent again, and its notice, if any,
reaches the person as a message in the chat instead (:func:`answered_early` lets a caller whose
turn already shows the same words leave the notice out). Presses in groups (the coaches'
group) are left to their handlers: their answers are alerts for the one coach who pressed,
which only the answer itself can show.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import Update

log = logging.getLogger(__name__)

#: a press that could start at once is answered silently after this long if its handler has
#: not answered it (a phone shows a spinner meanwhile)
GRACE_S = 1.0


@dataclass(slots=True, eq=False)
class _Press:
    query_id: str
    chat_id: int
    #: answered, by its handler or early
    answered: bool = False
    #: the silent answer sent early (None: not answered early)
    early: AnswerCallbackQuery | None = None
    timer: asyncio.Task[None] | None = None

    def stop_timer(self) -> None:
        """No silent answer any more (unless it is on its way already)."""
        if self.timer is not None and self.early is None:
            self.timer.cancel()


class PressAnswers(BaseRequestMiddleware):
    """The presses of private chats being handled, and who answered them (see the module)."""

    def __init__(self, *, grace: float = GRACE_S) -> None:
        self.grace = grace
        self._presses: dict[str, _Press] = {}
        self._timers: set[asyncio.Task[None]] = set()

    @classmethod
    def of(cls, bot: Bot) -> PressAnswers:
        """The press answers of ``bot``'s session, put there on first use."""
        found = find(bot)
        if found is None:
            found = cls()
            bot.session.middleware(found)
        return found

    def arrived(self, bot: Bot, update: Update, *, waits: bool) -> None:
        """``update`` has just arrived; ``waits``: it cannot start being handled at once."""
        callback = update.callback_query
        if callback is None or callback.message is None or callback.id in self._presses:
            return
        chat = callback.message.chat
        if chat.type != "private":
            return
        press = _Press(callback.id, chat.id)
        self._presses[callback.id] = press
        press.timer = asyncio.create_task(self._answer(bot, press, 0.0 if waits else self.grace))
        self._timers.add(press.timer)
        press.timer.add_done_callback(self._timers.discard)

    def finished(self, update: Update) -> None:
        """``update`` has been handled: its press is forgotten (and, if nobody answered it, no
        longer answered silently either: a handler that does not answer has its reasons)."""
        callback = update.callback_query
        press = self._presses.pop(callback.id, None) if callback is not None else None
        if press is not None:
            press.stop_timer()

    def answered_early(self, query_id: str) -> bool:
        """The press was answered silently before its handler came to it."""
        press = self._presses.get(query_id)
        return press is not None and press.early is not None

    async def join(self) -> None:
        """Wait for the early answers still on their way."""
        await asyncio.gather(*self._timers, return_exceptions=True)

    async def _answer(self, bot: Bot, press: _Press, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        if press.answered:
            return
        press.answered = True
        press.early = AnswerCallbackQuery(callback_query_id=press.query_id)
        try:
            await bot(press.early)
        except TelegramAPIError as exc:  # too old, or Telegram unreachable: the turn goes on
            log.info("could not answer a button press: %s", exc.message)
        except Exception as exc:
            log.warning("could not answer a button press: %s", type(exc).__name__)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        answer = method if isinstance(method, AnswerCallbackQuery) else None
        press = self._presses.get(answer.callback_query_id) if answer is not None else None
        if press is None or answer is press.early:
            return await make_request(bot, method)
        if not press.answered:
            press.answered = True
            press.stop_timer()
            return await make_request(bot, method)
        # answered already: Telegram takes one answer per press
        if press.early is not None and answer is not None and answer.text:
            await bot.send_message(press.chat_id, answer.text)
        return Response[TelegramType](ok=True, result=True)


def find(bot: Bot) -> PressAnswers | None:
    """The press answers installed on ``bot``'s session, if any."""
    for middleware in bot.session.middleware:
        if isinstance(middleware, PressAnswers):
            return middleware
    return None


def answered_early(bot: Bot, query_id: str) -> bool:
    """The press ``query_id`` was answered silently before its handler came to it."""
    answers = find(bot)
    return answers is not None and answers.answered_early(query_id)
