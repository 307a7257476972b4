"""The one place that relies on aiogram's internals, and the policy of outgoing Bot API calls.

Written for the aiogram versions in :data:`AIOGRAM_VERSIONS` (the same bounds are pinned in
pyproject.toml; a test fails when the installed aiogram is outside them). The internals used:

* ``TelegramMethod.__returning__``, a call's answer type: read by :class:`PinResponseTypes` and
  :func:`answer_type`, overridden by :class:`GetRawUpdates`;
* ``aiogram.methods.base.Response[T]``, the answer model aiogram builds per answer type: kept
  alive by :class:`PinResponseTypes`, built as ``Response[Unread | bool]`` for
  :func:`answers_unread`;
* ``BaseSession.check_response``, overridden by :class:`JsonBodySession` for
  :func:`answers_unread`, and so that an answer it cannot read never reaches the log
  (:class:`AnswerDecodeError`) and one unreadable update does not make the whole
  ``getUpdates`` answer unreadable (:func:`~bot.telegram.poison.split_answer`);
* ``AiohttpSession.build_form_data`` and ``BaseSession.prepare_value(..., _dumps_json=False)``,
  overridden and called by :class:`JsonBodySession` to send one JSON body.

Elsewhere the bot uses aiogram's public API and extension points only (a custom session in
:mod:`bot.telegram.offline`, request middlewares, ``FSMContextMiddleware`` split in two in
:mod:`bot.telegram.middlewares.state`); the version bounds cover those too.

Besides those: :class:`RetryMiddleware` waits ``retry_after`` on 429 and retries 5xx and
network errors with backoff, a bounded number of times (a send that failed after it left is
not retried: it may have been delivered); anything else is raised to the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, ClassVar, Final

import orjson
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import EditMessageText, GetUpdates, SendMessage, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types.base import TelegramObject
from aiohttp import BytesPayload, FormData

from bot.telegram.limits.local import SENDS
from bot.telegram.poison import split_answer

log = logging.getLogger(__name__)

#: the aiogram versions this module was written for: at least the first, below the second
AIOGRAM_VERSIONS: Final = ((3, 20), (3, 32))

#: ``Response[T]`` for every answer type ``T`` this process has asked for, held for good
_RESPONSE_TYPES: dict[Any, type[Response[Any]]] = {}


class PinResponseTypes(BaseRequestMiddleware):
    """Holds a strong reference to ``Response[method.__returning__]`` before each call.

    aiogram builds ``Response[T]`` for every answer it reads. Pydantic (2.12 and later) caches
    parametrised generic models only weakly, so the garbage collector frees them and the next
    answer builds the model again (schema generation, several milliseconds; figures in
    docs/PERFORMANCE.md). One reference per answer type (a few dozen at most) keeps every
    later lookup a cache hit.
    """

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in _RESPONSE_TYPES:
            _RESPONSE_TYPES[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)


def answer_type(method: TelegramMethod[Any]) -> Any:
    """The type aiogram reads ``method``'s answer into (``None`` for an odd object)."""
    return getattr(method, "__returning__", None)


class GetRawUpdates(GetUpdates):
    """``getUpdates`` whose answer stays JSON (a list of dicts): the caller parses only the
    updates it wants into :class:`~aiogram.types.Update`."""

    __returning__: ClassVar[Any] = list[dict[str, Any]]


class Unread(TelegramObject):
    """Telegram's answer to a call whose result is not used: its fields are kept as they came
    (``extra="allow"``), none is read into a model."""


_UNREAD: ContextVar[bool] = ContextVar("urapolku_answers_unread", default=False)
_UNREAD_METHODS = (SendMessage, EditMessageText)
_UNREAD_RESPONSE = Response[Unread | bool]
_RAW_UPDATES_RESPONSE = Response[list[dict[str, Any]]]


@contextlib.contextmanager
def answers_unread() -> Iterator[None]:
    """Within: ``sendMessage`` and ``editMessageText`` return an :class:`Unread` instead of a
    ``Message`` (on :class:`JsonBodySession`; other sessions answer as usual). Errors are
    raised exactly as without it. Use it only around calls whose result is not read."""
    token = _UNREAD.set(True)
    try:
        yield
    finally:
        _UNREAD.reset(token)


class RetryMiddleware(BaseRequestMiddleware):
    def __init__(
        self, attempts: int = 5, base_delay: float = 0.5, max_retry_after: float = 60.0
    ) -> None:
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_retry_after = max_retry_after

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, GetUpdates):  # the polling loop has its own backoff
            return await make_request(bot, method)  # type: ignore[arg-type]
        delay = self.base_delay
        for attempt in range(1, self.attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == self.attempts or exc.retry_after > self.max_retry_after:
                    raise
                log.warning("%s: Telegram asks to wait %ss", type(method).__name__, exc.retry_after)
                await asyncio.sleep(exc.retry_after)
            except (TelegramServerError, TelegramNetworkError) as exc:
                if attempt == self.attempts or _maybe_delivered(method, exc):
                    raise
                log.warning(
                    "%s failed (%s); retrying in %.1fs",
                    type(method).__name__,
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover


def _maybe_delivered(method: Any, exc: Exception) -> bool:
    """A send that failed after it left (a timeout, a dropped connection) may have reached the
    person: repeating it could deliver it twice, so it is not retried here. Only "cannot
    connect" proves nothing was sent."""
    return (
        isinstance(exc, TelegramNetworkError)
        and isinstance(method, SENDS)
        and not exc.message.startswith("ClientConnector")
    )


def describe(method: Any) -> str:
    return type(method).__name__


class AnswerDecodeError(ClientDecodeError):
    """aiogram's ``ClientDecodeError`` whose text does not quote the answer it could not read
    (that would put people's names and texts in the log)."""

    def __str__(self) -> str:
        return f"{self.message} ({type(self.original).__name__}); the answer is not shown"


class JsonBodySession(AiohttpSession):
    """aiogram's aiohttp session, sending calls without files as a JSON body.

    aiogram posts every call as a multipart form, one part per parameter, with keyboards and
    entities JSON-encoded inside their parts. The Bot API takes the same parameters as one
    ``application/json`` object, which costs a fraction to build and to send. Only the body
    changes: aiogram's own ``make_request`` posts it, so errors, timeouts and answers are
    read exactly as aiogram reads them. Calls with a file (``sendDocument`` of a My data
    export, say) keep aiogram's form.
    """

    def __init__(self, base_url: str) -> None:
        super().__init__(
            api=TelegramAPIServer.from_base(base_url),
            json_loads=orjson.loads,
            json_dumps=_json_dumps,
        )

    def build_form_data(  # type: ignore[override]  # aiohttp posts any payload as data
        self, bot: Bot, method: TelegramMethod[Any]
    ) -> FormData | BytesPayload:
        files: dict[str, Any] = {}
        body: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is None or prepared == "":
                continue  # as aiogram's form leaves it out
            body[key] = prepared
        if files:
            return super().build_form_data(bot, method)
        return BytesPayload(orjson.dumps(body), content_type="application/json")

    def check_response(
        self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int, content: str
    ) -> Response[TelegramType]:
        if status_code == 200 and _UNREAD.get() and isinstance(method, _UNREAD_METHODS):
            with contextlib.suppress(Exception):  # anything odd: read it the usual way
                response = _UNREAD_RESPONSE.model_validate(self.json_loads(content))
                if response.ok:
                    return response  # type: ignore[return-value]  # see answers_unread
        try:
            return super().check_response(bot, method, status_code, content)
        except ClientDecodeError as exc:
            if not isinstance(method, GetRawUpdates):
                raise AnswerDecodeError(exc.message, exc.original, None) from None
        # Updates one of which orjson refuses (a lone surrogate): each is read on its own, and
        # the unreadable ones are set aside by the polling loop (bot/telegram/poison.py).
        return _RAW_UPDATES_RESPONSE(ok=True, result=split_answer(content))  # type: ignore[return-value]


def _json_dumps(value: Any) -> str:
    """JSON for the Bot API (form fields of calls with files); orjson is several times
    quicker than the standard library at what every send does."""
    return orjson.dumps(value).decode()
