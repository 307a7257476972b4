"""The stand-in HTTP server: lifecycle, the test-facing API and request handling."""

from __future__ import annotations

import asyncio
import copy
import inspect
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web

from bot.telegram.standin.methods import BotMethods
from bot.telegram.standin.people import FakeGroup, FakeUser
from bot.telegram.standin.state import _Chat, _Fault, _Limits
from bot.telegram.standin.wire import (
    _ACCEPTED,
    _BOOL_PARAMS,
    _FILE_PARAMS,
    _INT_PARAMS,
    _JSON_PARAMS,
    BLOCKED_BY_USER,
    JSON,
    ApiCall,
    ApiError,
    MethodHandler,
    StoredFile,
    StoredMessage,
    Upload,
    log,
)


class BotAPIStub(BotMethods):
    """The stand-in server. Use as ``async with BotAPIStub(token=...) as stub:``."""

    def __init__(
        self,
        token: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_id: int | None = None,
        bot_username: str = "urapolku_test_bot",
        bot_first_name: str = "Urapolku",
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = False,
        supports_inline_queries: bool = False,
        first_update_id: int = 1,
        max_long_poll: float = 50.0,
        enforce_limits: bool = False,
        global_per_second: float = 30,
        per_chat_per_second: float = 1,
        per_group_per_minute: float = 20,
        per_chat_burst: int = 1,
    ) -> None:
        """``token=None`` accepts any token; the bot's id defaults to the token's number.
        ``per_chat_burst``: with ``enforce_limits``, the messages a private chat takes at once
        before one a second applies (Telegram tolerates short bursts; it does not say how
        long)."""
        self.token = token
        self.host = host
        self.port = port
        if bot_id is None:
            prefix = (token or "").partition(":")[0]
            bot_id = int(prefix) if prefix.isdigit() else 7_000_000_001
        self.me: JSON = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": can_join_groups,
            "can_read_all_group_messages": can_read_all_group_messages,
            "supports_inline_queries": supports_inline_queries,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.max_long_poll = max_long_poll
        self.enforce_limits = enforce_limits
        self._limits = _Limits(
            global_per_second, per_chat_per_second, per_group_per_minute, per_chat_burst
        )

        #: every request, in order of arrival
        self.calls: list[ApiCall] = []
        #: bot messages accepted by the send methods, in order
        self.delivered: list[StoredMessage] = []
        #: sends answered 429 by the enforced flood limits
        self.rejected = 0
        #: the last setWebhook parameters while a webhook is set
        self.webhook: JSON | None = None
        #: answerCallbackQuery parameters by callback query id
        self.callback_answers: dict[str, JSON] = {}
        #: when each callback query was answered (``time.monotonic()``)
        self.callback_answer_times: dict[str, float] = {}
        #: setMyCommands by (scope as sorted JSON, language_code)
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        #: called with (message, "sent" | "edited" | "deleted") for every change of a bot message
        self.on_bot_message: Callable[[StoredMessage, str], None] | None = None

        self._chats: dict[int, _Chat] = {}
        self._users: dict[int, FakeUser] = {}
        self._groups: dict[int, FakeGroup] = {}
        self._files: dict[str, StoredFile] = {}
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(4_213_000_000_000_000_001)
        self._callback_chat: dict[str, int] = {}
        self._updates: list[JSON] = []
        self._update_chat: dict[int, int] = {}
        self._next_update_id = first_update_id
        self._handed_out: set[int] = set()
        self._awaiting_reply: dict[int, dict[int, float]] = {}
        self._latencies: list[float] = []
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        self._faults: dict[str, deque[_Fault]] = {}
        self._custom: dict[str, MethodHandler] = {}
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

        handlers: dict[str, Callable[[JSON], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "sendChatAction": self._send_chat_action,
            "createForumTopic": self._create_forum_topic,
            "getChat": self._get_chat,
            "getFile": self._get_file,
        }
        for name in _ACCEPTED:
            handlers[name] = self._accept
        self._methods = {name.lower(): (name, handler) for name, handler in handlers.items()}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._closing = False
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            handler_cancellation=True,  # a long poll ends when the bot goes away
            shutdown_timeout=1.0,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        port = self._runner.addresses[0][1]
        self._base_url = f"http://{self.host}:{port}"
        log.info("Bot API stand-in at %s", self._base_url)

    async def stop(self) -> None:
        self._closing = True
        self._notify()  # long polls answer at once
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotAPIStub:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the stand-in is not started")
        return self._base_url

    # ------------------------------------------------------------------ test-facing API

    def user(
        self,
        user_id: int,
        first_name: str = "Testi",
        language_code: str | None = "fi",
        username: str | None = None,
        last_name: str | None = None,
        *,
        known: bool = False,
    ) -> FakeUser:
        """A person (the same object for the same id). Their chat becomes known to the bot
        with their first action, as in Telegram; ``known=True``: as if they had written to
        the bot before (a benchmark's thousands of people who signed up long ago)."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        existing = self._users.get(user_id)
        if existing is not None:
            if known:
                self._chats[user_id].known = True
            return existing
        person = FakeUser(self, user_id, first_name, language_code, username, last_name)
        self._users[user_id] = person
        self._chats.setdefault(
            user_id,
            _Chat(
                id=user_id,
                type="private",
                first_name=first_name,
                last_name=last_name,
                username=username,
            ),
        )
        if known:
            self._chats[user_id].known = True
        return person

    def group(self, chat_id: int, title: str = "Ryhmä", is_forum: bool = False) -> FakeGroup:
        """A group the bot is a member of (known to the bot at once)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        existing = self._groups.get(chat_id)
        if existing is not None:
            return existing
        kind = "supergroup" if is_forum or chat_id <= -1_000_000_000_000 else "group"
        chat = _Chat(id=chat_id, type=kind, title=title, is_forum=is_forum, known=True)
        self._chats[chat_id] = chat
        group = FakeGroup(self, chat_id)
        self._groups[chat_id] = group
        return group

    def my_commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        return list(self.commands.get(self._commands_key(scope, language_code), []))

    def file(self, file_id: str) -> StoredFile:
        return self._files[file_id]

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` ("*": any method) answer with an error."""
        queue = self._faults.setdefault(method.lower(), deque())
        queue.extend(_Fault(status, retry_after, description) for _ in range(times))

    def block(self, chat_id: int) -> None:
        """Sends to the chat answer 403 from now on (no update; see FakeUser.block_bot)."""
        self._chat(chat_id).blocked = True

    def unblock(self, chat_id: int) -> None:
        self._chat(chat_id).blocked = False

    def on(self, method: str, handler: MethodHandler) -> None:
        """Answer ``method`` with ``handler(params)`` (sync or async; may raise ApiError)."""
        self._custom[method.lower()] = handler

    def take_updates(self, limit: int = 100) -> list[JSON]:
        """Hand out pending updates as a webhook push would, for a test or benchmark that
        posts them to the bot's webhook itself (each once; they count for :meth:`latencies`
        from now). Confirm each with :meth:`confirm_update` when the bot answered 200, as
        Telegram does: until then the person's ``wait_idle`` waits for it."""
        fresh = [
            u
            for u in self._deliverable(len(self._updates))
            if u["update_id"] not in self._handed_out
        ]
        batch = fresh[:limit]
        self._hand_out(batch)
        return copy.deepcopy(batch)

    def confirm_update(self, update_id: int) -> None:
        """The bot's webhook answered 200 to this update: it leaves the queue."""
        self._updates = [u for u in self._updates if u["update_id"] != update_id]
        self._notify()

    async def wait_for_updates(self, timeout: float) -> None:  # noqa: ASYNC109
        """Until something changes, e.g. an update is queued (or ``timeout`` seconds pass)."""
        await self._wait_change(timeout)

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by the bot."""
        return list(self._updates)

    def latencies(self) -> list[float]:
        """Seconds from handing out an update to the first reply (send or edit) in its chat."""
        return list(self._latencies)

    @property
    def handled_count(self) -> int:
        """Updates whose chat got a reply after they were handed out."""
        return len(self._latencies)

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["method"]
        custom = self._custom.get(name.lower())
        canonical, handler = self._methods.get(name.lower(), (name, None))
        call = ApiCall(canonical, {}, time.monotonic())
        self.calls.append(call)
        chat = None
        try:
            call.params = await self._read_params(request)
            chat = self._chat_of_call(call)
            if chat is not None:
                chat.in_flight += 1
                chat.last_activity = call.time
            log.debug("%s %s", canonical, call.params)
            if self.token is not None and request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            self._inject_fault(canonical)
            if custom is not None:
                result = custom(call.params)
                if inspect.isawaitable(result):
                    result = await result
            elif handler is None:
                raise ApiError(404, "Not Found: method not found")
            else:
                result = await handler(call.params)
        except ApiError as exc:
            call.status, call.description = exc.status, exc.description
            return web.json_response(exc.to_json(), status=exc.status)
        except asyncio.CancelledError:
            call.status, call.description = 499, "the client went away"
            raise
        else:
            call.status, call.result = 200, result
            return web.json_response({"ok": True, "result": result})
        finally:
            call.finished = time.monotonic()
            if chat is not None:
                chat.in_flight -= 1
                chat.last_activity = call.finished
            self._notify()

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if self.token is not None and request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").to_json(), status=401)
        path = request.match_info["path"]
        for stored in self._files.values():
            if stored.file_path == path:
                return web.Response(
                    body=stored.content, content_type=stored.mime_type or "application/octet-stream"
                )
        return web.json_response(ApiError(404, "Not Found").to_json(), status=404)

    async def _read_params(self, request: web.Request) -> JSON:
        raw: JSON = dict(request.query)
        uploads: dict[str, Upload] = {}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError as exc:
                    raise ApiError(400, "Bad Request: can't parse JSON body") from exc
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: the body is not a JSON object")
                raw.update(body)
            elif request.content_type in (
                "multipart/form-data",
                "application/x-www-form-urlencoded",
            ):
                for key, value in (await request.post()).items():
                    if isinstance(value, web.FileField):
                        uploads[key] = Upload(
                            key, value.filename, value.content_type, value.file.read()
                        )
                        raw[key] = uploads[key]
                    else:
                        raw[key] = value
        params = {key: self._convert(key, value) for key, value in raw.items()}
        attached: set[str] = set()
        for key, value in params.items():
            if isinstance(value, str) and value.startswith("attach://"):
                name = value.removeprefix("attach://")
                if name in uploads:
                    params[key] = uploads[name]
                    attached.add(name)
        for name in attached - _FILE_PARAMS:  # the part itself is not a parameter
            params.pop(name, None)
        return params

    @staticmethod
    def _convert(key: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if key in _JSON_PARAMS:
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ApiError(400, f"Bad Request: can't parse {key} JSON object") from exc
        if key in _INT_PARAMS and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        if key in _BOOL_PARAMS and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        return value

    def _inject_fault(self, method: str) -> None:
        for key in (method.lower(), "*"):
            queue = self._faults.get(key)
            if not queue:
                continue
            fault = queue.popleft()
            if fault.status == 429:
                raise ApiError(
                    429,
                    fault.description or f"Too Many Requests: retry after {fault.retry_after}",
                    retry_after=fault.retry_after,
                )
            default = {
                400: "Bad Request: injected failure",
                403: BLOCKED_BY_USER,
                500: "Internal Server Error",
            }.get(fault.status)
            if default is None:
                try:
                    default = HTTPStatus(fault.status).phrase
                except ValueError:
                    default = "Error"
            raise ApiError(fault.status, fault.description or default)
