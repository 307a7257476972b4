"""Poison updates: an update the bot cannot read is set aside, so that everyone else goes on.

Telegram hands out updates in order, and the polling loop confirms an update only after it has
been handled (:mod:`bot.runtime.polling`); the webhook answers 200 only after handling. An
update that can never be read — a text holding a lone UTF-16 surrogate (``\\ud800``, which
orjson and the database refuse), or a shape aiogram's models reject (a ``reply_to_message``
with a markup they do not know) — would otherwise be fetched, fail and be fetched again for
ever, and nobody else would be answered. Such an update becomes a *dead letter*:

* it is recorded in ``dead_letters`` (:class:`~db.repositories.DeadLetterRepository`): its id,
  its chat's id when that can be read, the error's type and a short description of where the
  problem is (field names, never values), and how often it was tried — never what it said;
* it counts as finished, so the offset moves past it (the webhook answers 200);
* the person, when the update came from a private chat, is told once in a while
  (:data:`NOTICE_EVERY_S`) that their message could not be read (``bot.unreadable``).

An update whose handling fails is tried again (:class:`Attempts`, up to :data:`ATTEMPTS` times,
a short pause between) as long as nothing of it is done: nothing committed, nothing sent. A
failure that stays, or one after something was done, goes to the error boundary
(:mod:`bot.telegram.handlers.errors`), which records a dead letter of stage ``handle`` (with the
tries) together with the update's "handled" mark, and tells the person.

Nothing from a raw Bot API answer reaches the log: aiogram's ``ClientDecodeError`` and
pydantic's ``ValidationError`` quote what they could not read (other people's names and
texts), so they are replaced here by :class:`UnreadableUpdate` and :class:`UnreadableAnswerError`,
whose messages hold ids and field names only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any, Final

import orjson
from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import TelegramObject, Update
from pydantic import ValidationError

from bot.app import App
from bot.telegram.callbacks import BIG_RANGE
from db.repositories import DECODE, DeadLetterRepository, PersonRepository

log = logging.getLogger(__name__)

#: the key that marks an update :func:`split_answer` could only read in part
UNREADABLE: Final = "urapolku_unreadable"
#: a person whose messages cannot be read hears so at most once in this many seconds
NOTICE_EVERY_S: Final = 60.0
#: chats remembered for :data:`NOTICE_EVERY_S` (the oldest are forgotten first)
MAX_NOTICED: Final = 10_000
#: field paths named in a validation error's description
MAX_PATHS: Final = 3
#: times an update's handling is tried before it is set aside
ATTEMPTS: Final = 3
#: pauses between tries (seconds)
RETRY_PAUSES_S: Final = (0.1, 0.5)
#: handler data: how often the update was tried (read by the error boundary)
TRIES: Final = "update_tries"


class UnreadableAnswerError(Exception):
    """A Bot API answer that could not be read at all; its message holds no content."""


class UnreadableUpdate:
    """An update that could not be read: its id, its chat (when known) and what went wrong."""

    __slots__ = ("chat_id", "error", "update_id")

    def __init__(self, update_id: int, chat_id: int | None, error: str) -> None:
        self.update_id = update_id
        self.chat_id = chat_id
        self.error = error

    def __repr__(self) -> str:
        return f"UnreadableUpdate({self.update_id}, chat {self.chat_id}: {self.error})"


# -- reading --------------------------------------------------------------------------------


def update_id_of(raw: Any) -> int | None:
    """The update's id, if it has a readable one."""
    if isinstance(raw, Update):
        return raw.update_id
    return _int(raw.get("update_id")) if isinstance(raw, Mapping) else None


def chat_of(raw: Mapping[str, Any]) -> int | None:
    """The chat a raw update came from, read without trusting its shape."""
    for path in (
        ("message", "chat", "id"),
        ("edited_message", "chat", "id"),
        ("my_chat_member", "chat", "id"),
        ("callback_query", "message", "chat", "id"),
        ("callback_query", "from", "id"),
    ):
        chat_id = _int(_dig(raw, *path))
        if chat_id is not None:
            return chat_id
    return None


def private_chat_of(raw: Mapping[str, Any]) -> int | None:
    """The chat of a raw update if it is a private chat (a person's)."""
    for path in (("message",), ("edited_message",), ("callback_query", "message")):
        if _dig(raw, *path, "chat", "type") == "private":
            return _int(_dig(raw, *path, "chat", "id"))
    return None


def _dig(raw: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(raw, Mapping):
            return None
        raw = raw.get(key)
    return raw


def _int(value: Any) -> int | None:
    """An integer the database can store (BIGINT), or None."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return value if BIG_RANGE[0] <= value <= BIG_RANGE[1] else None


def read_update(raw: dict[str, Any] | Update, bot: Bot) -> Update | UnreadableUpdate:
    """``raw`` as an :class:`~aiogram.types.Update`, or what kept it from being one."""
    if isinstance(raw, Update):
        return raw
    update_id = update_id_of(raw)
    assert update_id is not None, "updates without an id are left out before"
    if UNREADABLE in raw:
        return UnreadableUpdate(update_id, raw.get("chat_id"), str(raw[UNREADABLE]))
    try:
        return Update.model_validate(raw, context={"bot": bot})
    except ValidationError as exc:
        return UnreadableUpdate(update_id, chat_of(raw), describe_validation(exc))
    except Exception as exc:  # a model validator may raise anything
        return UnreadableUpdate(update_id, chat_of(raw), type(exc).__name__)


def describe_validation(exc: ValidationError) -> str:
    """Where a validation failed (field paths and error types), without the values."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    paths = [
        ".".join(str(part) for part in error["loc"]) + f": {error['type']}"
        for error in errors[:MAX_PATHS]
    ]
    more = f" (+{len(errors) - MAX_PATHS})" if len(errors) > MAX_PATHS else ""
    return f"ValidationError: {'; '.join(paths)}{more}"


def split_answer(content: str | bytes) -> list[dict[str, Any]]:
    """The updates of a ``getUpdates`` answer that could not be read as a whole.

    Python's own JSON reader takes what orjson refuses (a lone surrogate); each update that
    holds one is replaced by a stub marked :data:`UNREADABLE` (its id and chat only), so that it
    is set aside and the others are handled. Updates without a readable id are left out.
    """
    try:
        data = json.loads(content)
    except ValueError as exc:  # the message names a position, never the content
        raise UnreadableAnswerError(f"not JSON ({type(exc).__name__})") from None
    result = data.get("result") if isinstance(data, dict) and data.get("ok") is True else None
    if not isinstance(result, list):
        raise UnreadableAnswerError("no list of updates")
    updates: list[dict[str, Any]] = []
    for raw in result:
        if update_id_of(raw) is None:
            log.error("getUpdates handed out an update without a readable id; left out")
            continue
        updates.append(_checked(raw))
    return updates


def _checked(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw``, or a stub marked :data:`UNREADABLE` if it holds a lone surrogate."""
    try:
        orjson.dumps(raw)
    except orjson.JSONEncodeError:
        return {
            "update_id": update_id_of(raw),
            "chat_id": chat_of(raw),
            "private_chat_id": private_chat_of(raw),
            UNREADABLE: "UnicodeError: a lone surrogate in a text",
        }
    return raw


def read_body(body: bytes) -> dict[str, Any] | None:
    """One update posted to the webhook, raw (a stub marked :data:`UNREADABLE` if it holds a
    lone surrogate), or None when not even its id can be read."""
    try:
        raw = orjson.loads(body)  # strict: refuses lone surrogates
    except orjson.JSONDecodeError:
        try:
            raw = json.loads(body)
        except ValueError:
            return None
        if isinstance(raw, dict):
            raw = _checked(raw)
    return raw if isinstance(raw, dict) and update_id_of(raw) is not None else None


# -- setting aside --------------------------------------------------------------------------


class DeadLetters:
    """Records updates set aside and tells their people (once in a while)."""

    def __init__(self, app: App | None, bot: Bot) -> None:
        self.app = app
        self.bot = bot
        #: chat id -> when it was last told (time.monotonic)
        self._noticed: dict[int, float] = {}

    @classmethod
    def of(cls, dispatcher: Dispatcher, bot: Bot) -> DeadLetters:
        app = dispatcher.workflow_data.get("app")
        return cls(app if isinstance(app, App) else None, bot)

    async def set_aside(self, unreadable: UnreadableUpdate, raw: Mapping[str, Any]) -> None:
        """Record ``unreadable`` and tell its person; never raises."""
        log.warning(
            "update %s (chat %s) set aside, it cannot be read: %s",
            unreadable.update_id,
            unreadable.chat_id,
            unreadable.error,
        )
        app = self.app
        if app is None:
            return
        try:
            async with app.db.transaction() as session:
                await DeadLetterRepository(session).record(
                    unreadable.update_id,
                    chat_id=unreadable.chat_id,
                    stage=DECODE,
                    error=unreadable.error,
                    now=app.clock(),
                )
        except Exception as exc:
            log.error(
                "could not record dead letter %s: %s", unreadable.update_id, type(exc).__name__
            )
        private = raw.get("private_chat_id") if UNREADABLE in raw else private_chat_of(raw)
        if isinstance(private, int) and not isinstance(private, bool):
            await self._tell(app, private)

    async def _tell(self, app: App, chat_id: int) -> None:
        now = time.monotonic()
        last = self._noticed.get(chat_id)
        if last is not None and now - last < NOTICE_EVERY_S:
            return
        self._noticed.pop(chat_id, None)
        self._noticed[chat_id] = now
        while len(self._noticed) > MAX_NOTICED:
            del self._noticed[next(iter(self._noticed))]
        try:
            async with app.db.read() as session:
                person = await PersonRepository(session).by_telegram_id(chat_id)
            language = person.language if person is not None else app.settings.default_language
            with contextlib.suppress(TelegramAPIError):
                await self.bot.send_message(chat_id, app.t("bot.unreadable", language))
        except Exception as exc:
            log.error(
                "could not tell chat %s about its unreadable update: %s",
                chat_id,
                type(exc).__name__,
            )


# -- trying again ---------------------------------------------------------------------------

#: Bot API calls made by the current try (None outside a try)
_CALLS: ContextVar[list[int] | None] = ContextVar("urapolku_try_calls", default=None)


class CountCalls(BaseRequestMiddleware):
    """Counts the Bot API calls of the current try of an update (:class:`Attempts`); answering
    the pressed button does not count (answering it again is harmless)."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        calls = _CALLS.get()
        if calls is not None and not isinstance(method, AnswerCallbackQuery):
            calls[0] += 1
        return await make_request(bot, method)


class Attempts(BaseMiddleware):
    """An outer update middleware, inside the chat's lock and flood control and outside the unit
    of work: a try that failed before anything was done (nothing committed, no Bot API call
    but answering the press) is tried again, up to ``attempts`` times. A transient failure (a
    database that was busy a moment) then costs the person nothing; a lasting one reaches the
    error boundary after the last try, with the tries in handler data (:data:`TRIES`).

    The bot needs :class:`CountCalls` on its session to see the calls; without it, only the
    commit is checked.
    """

    def __init__(
        self, attempts: int = ATTEMPTS, pauses: tuple[float, ...] = RETRY_PAUSES_S
    ) -> None:
        self.attempts = attempts
        self.pauses = pauses

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update) or self.attempts <= 1:
            return await handler(event, data)
        for tried in range(1, self.attempts + 1):
            calls = [0]
            token = _CALLS.set(calls)
            attempt = dict(data)  # what inner middlewares add is not carried to the next try
            try:
                return await handler(event, attempt)
            except Exception as exc:
                unit = attempt.get("uow")
                done = calls[0] > 0 or bool(getattr(unit, "marked", False))
                if done or tried == self.attempts:
                    data[TRIES] = tried
                    raise
                log.warning(
                    "update %s failed (%s), try %d of %d; trying again",
                    event.update_id,
                    type(exc).__name__,
                    tried,
                    self.attempts,
                )
            finally:
                _CALLS.reset(token)
            await asyncio.sleep(self.pauses[min(tried, len(self.pauses)) - 1])
        raise AssertionError("unreachable")  # pragma: no cover
