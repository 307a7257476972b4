"""A local stand-in for the Telegram Bot API, for end-to-end tests and benchmarks.

The bot under test talks to it over HTTP exactly as it talks to Telegram (aiogram's
``TelegramAPIServer.from_base(stub.base_url)``); the test plays people with :class:`FakeUser`
and :class:`FakeGroup`::

    async with BotAPIStub(token=TOKEN) as stub:
        ...  # start the bot with TELEGRAM_API_URL=stub.base_url
        aino = stub.user(5001, first_name="Aino")
        await aino.send("/start")
        [welcome] = await aino.wait_for_reply()
        await aino.click("Suomi")
        await aino.wait_idle()
        assert "Tervetuloa" in aino.last_message.text

What it does like Telegram: the JSON shapes of the answers and errors (400 "message is not
modified", "chat not found", 403 for a blocked bot, 429 with ``retry_after``, 409 for a second
poller), form, multipart and JSON request bodies, ``getUpdates`` with offset confirmation and
long polling, per-chat message ids, file uploads and downloads. What it does not: entities,
inline mode, payments, pushing updates to a webhook, most of the 150 other methods (404).

Every call is recorded (:attr:`BotAPIStub.calls`), faults can be injected
(:meth:`BotAPIStub.fail_next`, :meth:`BotAPIStub.block`) and Telegram's flood limits enforced
(``enforce_limits=True``). For benchmarks it measures update-to-reply latency
(:meth:`BotAPIStub.latencies`). All times are ``time.monotonic()`` seconds.

Run ``python -m tests.botapi_stub --port 8081`` to serve it by hand; lines typed on stdin are
sent as a person, ``> label`` clicks a button.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import html
import inspect
import itertools
import json
import logging
import math
import mimetypes
import re
import secrets
import signal
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

JSON = dict[str, Any]
MethodHandler = Callable[[JSON], Any | Awaitable[Any]]

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
CHAT_NOT_FOUND = "Bad Request: chat not found"
BLOCKED_BY_USER = "Forbidden: bot was blocked by the user"
KICKED_FROM_GROUP = "Forbidden: bot was kicked from the group chat"
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CONFLICT_POLLER = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)

#: methods that create a message in a chat: rate-limited, counted by ``wait_for_reply``
SEND_METHODS = frozenset(
    {"sendMessage", "sendDocument", "sendPhoto", "copyMessage", "forwardMessage"}
)
#: update types Telegram does not deliver unless asked for explicitly
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
#: methods accepted and recorded without any effect
_ACCEPTED = (
    "setMyDescription",
    "setMyShortDescription",
    "setMyName",
    "setChatMenuButton",
    "pinChatMessage",
    "unpinChatMessage",
    "unpinAllChatMessages",
    "setMessageReaction",
    "logOut",
    "close",
)
# How form values (always strings) are turned back into what the Bot API expects.
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "allowed_updates",
        "link_preview_options",
        "reply_parameters",
        "media",
        "results",
        "permissions",
        "menu_button",
        "rights",
        "reaction",
        "options",
    }
)
_INT_PARAMS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "message_thread_id",
        "reply_to_message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "icon_color",
        "max_connections",
        "cache_time",
        "duration",
        "width",
        "height",
        "until_date",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "show_alert",
        "disable_notification",
        "protect_content",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "disable_content_type_detection",
        "has_spoiler",
        "show_caption_above_media",
        "revoke_messages",
    }
)
_FILE_PARAMS = frozenset(
    {
        "document",
        "photo",
        "audio",
        "video",
        "voice",
        "sticker",
        "animation",
        "video_note",
        "thumbnail",
        "certificate",
    }
)
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")
_BOT_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_TAG = re.compile(r"<[^>]*>")
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


class ApiError(Exception):
    """An error answer of the Bot API; raise it from a handler given to :meth:`BotAPIStub.on`."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def to_json(self) -> JSON:
        data: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            data["parameters"] = {"retry_after": self.retry_after}
        return data


@dataclass
class ApiCall:
    """One request the bot made. ``status`` is None while it is in progress (a long poll)."""

    method: str
    params: JSON
    time: float
    status: int | None = None
    description: str | None = None
    result: Any = None
    finished: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == HTTPStatus.OK

    @property
    def chat_id(self) -> int | str | None:
        value = self.params.get("chat_id")
        return value if isinstance(value, int | str) else None

    def __str__(self) -> str:
        return describe_call(self)


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    name: str
    filename: str
    content_type: str
    content: bytes


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def file_size(self) -> int:
        return len(self.content)


@dataclass(eq=False)
class StoredMessage:
    """A message in a chat as it is now (after edits), sent by the bot or by a person."""

    chat_id: int
    message_id: int
    from_bot: bool
    sender: JSON
    chat: JSON
    date: int
    kind: str = "text"  # text · document · photo · sticker · voice · service
    method: str | None = None  # the Bot API method that created it (bot messages)
    text: str | None = None
    entities: list[JSON] | None = None
    caption: str | None = None
    reply_markup: JSON | None = None  # only inline keyboards stay attached to a message
    reply_keyboard: JSON | None = None  # a reply keyboard / removal sent along with it
    message_thread_id: int | None = None
    reply_to: StoredMessage | None = None
    document: JSON | None = None
    photo: list[JSON] | None = None
    file: StoredFile | None = None
    extra: JSON = field(default_factory=dict)
    edit_date: int | None = None
    edits: int = 0
    deleted: bool = False
    created: float = field(default_factory=time.monotonic)

    @property
    def content(self) -> bytes | None:
        """The bytes of an attached file."""
        return self.file.content if self.file is not None else None

    @property
    def file_name(self) -> str | None:
        return self.file.file_name if self.file is not None else None

    @property
    def keyboard(self) -> list[list[JSON]]:
        """The rows of the inline keyboard (empty without one)."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard") or []
        return [list(row) for row in rows]

    @property
    def buttons(self) -> list[str]:
        """The labels of the inline keyboard, row by row."""
        return [str(button.get("text", "")) for row in self.keyboard for button in row]

    @property
    def callback_data(self) -> dict[str, str | None]:
        return {
            str(button.get("text", "")): button.get("callback_data")
            for row in self.keyboard
            for button in row
        }

    def to_json(self, *, nested: bool = True) -> JSON:
        data: JSON = {
            "message_id": self.message_id,
            "from": dict(self.sender),
            "chat": dict(self.chat),
            "date": self.date,
        }
        if self.message_thread_id is not None:
            data["message_thread_id"] = self.message_thread_id
            if self.chat.get("is_forum"):
                data["is_topic_message"] = True
        if nested and self.reply_to is not None:
            data["reply_to_message"] = self.reply_to.to_json(nested=False)
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if self.text is not None:
            data["text"] = self.text
        if self.entities:
            data["entities"] = [dict(e) for e in self.entities]
        if self.document is not None:
            data["document"] = dict(self.document)
        if self.photo is not None:
            data["photo"] = [dict(p) for p in self.photo]
        if self.caption is not None:
            data["caption"] = self.caption
        data.update(copy.deepcopy(self.extra))
        if self.reply_markup:
            data["reply_markup"] = copy.deepcopy(self.reply_markup)
        return data

    def __str__(self) -> str:
        who = "bot" if self.from_bot else f"user {self.sender.get('id')}"
        body = self.text if self.text is not None else f"<{self.kind}>"
        buttons = f" [{' | '.join(self.buttons)}]" if self.buttons else ""
        return f"#{self.message_id} {who}: {body!r}{buttons}"


def describe_call(call: ApiCall) -> str:
    """A one-line summary of a call, for assertion messages."""
    params = call.params
    parts = [call.method]
    for key in ("chat_id", "message_id"):
        if key in params:
            parts.append(f"{key}={params[key]}")
    for key in ("text", "caption", "callback_query_id"):
        if key in params:
            value = str(params[key])
            parts.append(f"{key}={value[:60] + '…' if len(value) > 60 else value!r}")
    markup = params.get("reply_markup")
    if isinstance(markup, dict) and markup.get("inline_keyboard"):
        labels = [str(b.get("text")) for row in markup["inline_keyboard"] for b in row]
        parts.append("[" + " | ".join(labels) + "]")
    status = "…" if call.status is None else str(call.status)
    if call.status not in (None, HTTPStatus.OK):
        status += f" {call.description}"
    return " ".join(parts) + f" -> {status}"


def command_entities(text: str) -> list[JSON]:
    """The ``bot_command`` entity Telegram adds to a message that starts with a command."""
    match = _COMMAND.match(text)
    if match is None:
        return []
    return [{"offset": 0, "length": _utf16_len(match.group()), "type": "bot_command"}]


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG (800×600 for anything else)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker = data[i + 1]
            (length,) = struct.unpack(">H", data[i + 2 : i + 4])
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + int(length)
    return 800, 600


def _normalize_markup(markup: Any) -> JSON | None:
    """An inline keyboard as Telegram keeps it: None when absent or empty."""
    if not isinstance(markup, dict) or not markup.get("inline_keyboard"):
        return None
    rows = [
        [{k: v for k, v in button.items() if v is not None} for button in row]
        for row in markup["inline_keyboard"]
        if row
    ]
    return {"inline_keyboard": rows} if rows else None


def _update_type(update: JSON) -> str:
    return next((key for key in update if key != "update_id"), "unknown")


class _Window:
    """A sliding window: at most ``capacity`` events per ``period`` seconds."""

    def __init__(self, rate: float, period: float) -> None:
        if rate >= 1:
            self.capacity, self.period = int(rate), period
        else:
            self.capacity, self.period = 1, period / max(rate, 1e-9)
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float | None:
        """Seconds until there is room, or None if there is room now."""
        while self.times and self.times[0] <= now - self.period:
            self.times.popleft()
        if len(self.times) < self.capacity:
            return None
        return self.times[0] + self.period - now


class _Limits:
    def __init__(self, global_per_second: float, per_chat: float, per_group_minute: float) -> None:
        self.overall = _Window(global_per_second, 1.0)
        self.per_chat = per_chat
        self.per_group_minute = per_group_minute
        self.chats: dict[int, _Window] = {}

    def admit(self, chat_id: int, now: float) -> int | None:
        """Take a slot and return None, or return the ``retry_after`` to answer."""
        window = self.chats.get(chat_id)
        if window is None:
            if chat_id < 0:
                window = _Window(self.per_group_minute, 60.0)
            else:
                window = _Window(self.per_chat, 1.0)
            self.chats[chat_id] = window
        waits = [w for w in (self.overall.wait(now), window.wait(now)) if w is not None]
        if waits:
            return max(1, math.ceil(max(waits)))
        self.overall.times.append(now)
        window.times.append(now)
        return None


@dataclass
class _Fault:
    status: int
    retry_after: int
    description: str | None


@dataclass(eq=False)
class _Chat:
    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    is_forum: bool = False
    known: bool = False  # the person wrote to the bot / the bot is in the group
    blocked: bool = False
    next_message_id: int = 1
    messages: list[StoredMessage] = field(default_factory=list)
    topics: dict[int, JSON] = field(default_factory=dict)
    last_activity: float = 0.0
    in_flight: int = 0

    def to_json(self) -> JSON:
        data: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.is_forum:
            data["is_forum"] = True
        return data

    def full_info(self) -> JSON:
        return {
            **self.to_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def find(self, message_id: Any) -> StoredMessage | None:
        for message in reversed(self.messages):
            if message.message_id == message_id and not message.deleted:
                return message
        return None


class BotAPIStub:
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
    ) -> None:
        """``token=None`` accepts any token; the bot's id defaults to the token's number."""
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
        self._limits = _Limits(global_per_second, per_chat_per_second, per_group_per_minute)

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

    def calls_of(self, method: str, chat_id: int | None = None) -> list[ApiCall]:
        """The calls of one method (case-insensitive), optionally to one chat."""
        name = method.lower()
        return [
            call
            for call in self.calls
            if call.method.lower() == name
            and (chat_id is None or call.params.get("chat_id") == chat_id)
        ]

    def chat_messages(self, chat_id: int, *, include_deleted: bool = False) -> list[StoredMessage]:
        """Bot-sent and person-sent messages of a chat in order, as they are now."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [m for m in chat.messages if include_deleted or not m.deleted]

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

    def enqueue_update(self, payload: JSON, chat_id: int | None = None) -> int:
        """Queue an update for getUpdates (``payload`` without update_id); returns its id."""
        update_id = self._next_update_id
        self._next_update_id += 1
        update = {"update_id": update_id, **payload}
        self._updates.append(update)
        if chat_id is not None:
            self._update_chat[update_id] = chat_id
            self._chat(chat_id).last_activity = time.monotonic()
        self._notify()
        return update_id

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

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, timeout: float) -> None:  # noqa: ASYNC109
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(timeout, 0.0))

    # ------------------------------------------------------------------ chats and messages

    def _chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = _Chat(id=chat_id, type="private" if chat_id > 0 else "group", title="Group")
            if chat_id > 0:
                chat.first_name = "Testi"
            self._chats[chat_id] = chat
        return chat

    def _chat_of_call(self, call: ApiCall) -> _Chat | None:
        chat_id = call.params.get("chat_id")
        if chat_id is None:
            chat_id = self._callback_chat.get(str(call.params.get("callback_query_id")))
        return self._chats.get(chat_id) if isinstance(chat_id, int) else None

    def _target(self, params: JSON) -> _Chat:
        """The chat a call is addressed to: known, and the bot not blocked there."""
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat: _Chat | None = None
        if isinstance(chat_id, int):
            chat = self._chats.get(chat_id)
        elif isinstance(chat_id, str) and chat_id.startswith("@"):
            chat = next(
                (c for c in self._chats.values() if c.username == chat_id[1:]),
                None,
            )
        if chat is None or not chat.known:
            raise ApiError(400, CHAT_NOT_FOUND)
        if chat.blocked:
            raise ApiError(403, BLOCKED_BY_USER if chat.type == "private" else KICKED_FROM_GROUP)
        return chat

    def _admit(self, chat: _Chat) -> None:
        if not self.enforce_limits:
            return
        retry_after = self._limits.admit(chat.id, time.monotonic())
        if retry_after is not None:
            self.rejected += 1
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )

    def _new_message(
        self, chat: _Chat, *, from_bot: bool, sender: JSON, **fields: Any
    ) -> StoredMessage:
        message = StoredMessage(
            chat_id=chat.id,
            message_id=chat.next_message_id,
            from_bot=from_bot,
            sender=sender,
            chat=chat.to_json(),
            date=int(time.time()),
            **fields,
        )
        chat.next_message_id += 1
        chat.messages.append(message)
        return message

    def _bot_message(self, chat: _Chat, method: str, **fields: Any) -> StoredMessage:
        message = self._new_message(
            chat, from_bot=True, sender=self._bot_user(), method=method, **fields
        )
        self.delivered.append(message)
        self._replied(chat.id)
        self._emit(message, "sent")
        return message

    def _bot_user(self) -> JSON:
        return {key: self.me[key] for key in ("id", "is_bot", "first_name", "username")}

    def _emit(self, message: StoredMessage, event: str) -> None:
        if self.on_bot_message is not None:
            self.on_bot_message(message, event)

    def _replied(self, chat_id: int) -> None:
        waiting = self._awaiting_reply.pop(chat_id, None)
        if waiting:
            now = time.monotonic()
            self._latencies.extend(now - handed for handed in waiting.values())

    def _text(self, params: JSON, key: str = "text", *, required: bool = True) -> str | None:
        value = params.get(key)
        if value is None or value == "":
            if required:
                raise ApiError(400, "Bad Request: message text is empty")
            return None
        text = str(value)
        if params.get("parse_mode") == "HTML":
            text = html.unescape(_TAG.sub("", text))
        limit = 4096 if key == "text" else 1024
        if _utf16_len(text) > limit:
            raise ApiError(
                400,
                "Bad Request: message is too long"
                if key == "text"
                else "Bad Request: message caption is too long",
            )
        if key == "text" and not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        return text

    def _markup(self, params: JSON) -> tuple[JSON | None, JSON | None]:
        """(inline keyboard to attach, reply keyboard) of a send; both validated."""
        markup = params.get("reply_markup")
        if markup is None:
            return None, None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None, markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ApiError(
                400,
                'Bad Request: can\'t parse inline keyboard button: field "inline_keyboard" must be an Array of Arrays',
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: Text must be non-empty",
                    )
                if not any(button.get(key) is not None for key in _BUTTON_ACTIONS):
                    raise ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return _normalize_markup(markup), None

    def _thread(self, chat: _Chat, params: JSON) -> int | None:
        thread = params.get("message_thread_id")
        if thread is None:
            return None
        if chat.is_forum and thread not in chat.topics and thread != 1:
            raise ApiError(400, "Bad Request: message thread not found")
        return int(thread)

    def _reply_to(self, chat: _Chat, params: JSON) -> StoredMessage | None:
        reply = params.get("reply_parameters")
        message_id = reply.get("message_id") if isinstance(reply, dict) else None
        if message_id is None:
            message_id = params.get("reply_to_message_id")
        if message_id is None:
            return None
        found = chat.find(message_id)
        allow = params.get("allow_sending_without_reply") or (
            isinstance(reply, dict) and reply.get("allow_sending_without_reply")
        )
        if found is None and not allow:
            raise ApiError(400, "Bad Request: message to be replied not found")
        return found

    def _message(self, chat: _Chat, params: JSON, missing: str) -> StoredMessage:
        found = chat.find(params.get("message_id"))
        if found is None:
            raise ApiError(400, missing)
        return found

    def _store_file(
        self, content: bytes, file_name: str | None, mime_type: str | None, folder: str
    ) -> StoredFile:
        number = next(self._file_ids)
        file_id = f"{folder[:2].upper()}AC{number:06d}{secrets.token_urlsafe(12)}"
        extension = (
            (file_name or "").rpartition(".")[2] if file_name and "." in file_name else "bin"
        )
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=f"AgAD{number:04d}{secrets.token_hex(3)}",
            file_path=f"{folder}/file_{number}.{extension}",
            content=content,
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[file_id] = stored
        return stored

    def _input_file(self, params: JSON, key: str) -> StoredFile:
        value = params.get(key)
        if isinstance(value, Upload):
            mime = mimetypes.guess_type(value.filename)[0] or value.content_type
            return self._store_file(value.content, value.filename, mime, f"{key}s")
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            name = value.rstrip("/").rpartition("/")[2] or key
            return self._store_file(b"", name, mimetypes.guess_type(name)[0], f"{key}s")
        if value is None:
            raise ApiError(400, f"Bad Request: there is no {key} in the request")
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _photo_sizes(self, stored: StoredFile) -> list[JSON]:
        width, height = _image_size(stored.content)
        sizes: list[JSON] = []
        for side, target in ((90, None), (1280, stored)):
            scale = min(1.0, side / max(width, height, 1))
            size_file = target or self._store_file(stored.content, None, stored.mime_type, "photos")
            sizes.append(
                {
                    "file_id": size_file.file_id,
                    "file_unique_id": size_file.file_unique_id,
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                    "file_size": size_file.file_size,
                }
            )
        return sizes

    @staticmethod
    def _document_json(stored: StoredFile) -> JSON:
        data: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.file_name is not None:
            data["file_name"] = stored.file_name
        if stored.mime_type is not None:
            data["mime_type"] = stored.mime_type
        data["file_size"] = stored.file_size
        return data

    # ------------------------------------------------------------------ updates

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _deliverable(self, limit: int) -> list[JSON]:
        batch: list[JSON] = []
        kept: list[JSON] = []
        for update in self._updates:
            kind = _update_type(update)
            allowed = (
                kind in self._allowed_updates
                if self._allowed_updates is not None
                else kind not in _NOT_BY_DEFAULT
            )
            if not allowed:
                continue  # Telegram does not even keep these
            kept.append(update)
            if len(batch) < limit:
                batch.append(update)
        self._updates = kept
        return batch

    def _unconfirmed(self, chat_id: int) -> int:
        return sum(1 for u in self._updates if self._update_chat.get(u["update_id"]) == chat_id)

    def _unfetched(self, chat_id: int) -> int:
        return sum(
            1
            for u in self._updates
            if u["update_id"] not in self._handed_out
            and self._update_chat.get(u["update_id"]) == chat_id
        )

    # ------------------------------------------------------------------ methods

    async def _accept(self, params: JSON) -> bool:
        return True

    async def _get_me(self, params: JSON) -> JSON:
        return dict(self.me)

    async def _get_updates(self, params: JSON) -> list[JSON]:
        if self.webhook is not None:
            raise ApiError(409, CONFLICT_WEBHOOK)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older long poll answers 409
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(map(str, allowed)) if allowed else None
        offset = params.get("offset")
        if isinstance(offset, int) and offset != 0:
            self._confirm(offset)
        limit = params.get("limit")
        limit = min(max(limit, 1), 100) if isinstance(limit, int) else 100
        timeout = params.get("timeout")
        if isinstance(timeout, int | float) and not isinstance(timeout, bool):
            timeout = min(float(timeout), self.max_long_poll)
        else:
            timeout = 0.0
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT_POLLER)
            batch = self._deliverable(limit)
            remaining = deadline - time.monotonic()
            if batch or self._closing or remaining <= 0:
                break
            await self._wait_change(remaining)
        self._hand_out(batch)
        return copy.deepcopy(batch)

    def _hand_out(self, batch: list[JSON]) -> None:
        now = time.monotonic()
        for update in batch:
            update_id = update["update_id"]
            self._handed_out.add(update_id)
            chat_id = self._update_chat.get(update_id)
            if chat_id is not None:
                self._awaiting_reply.setdefault(chat_id, {})[update_id] = now
                self._chat(chat_id).last_activity = now

    async def _set_webhook(self, params: JSON) -> bool:
        url = params.get("url")
        if not url:
            self.webhook = None
            return True
        if not str(url).startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {k: v for k, v in params.items() if not isinstance(v, Upload)}
        if isinstance(params.get("allowed_updates"), list):
            allowed = params["allowed_updates"]
            self._allowed_updates = frozenset(map(str, allowed)) if allowed else None
        return True

    async def _delete_webhook(self, params: JSON) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JSON) -> JSON:
        info: JSON = {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook is not None:
            info["max_connections"] = self.webhook.get("max_connections", 40)
            info["ip_address"] = "127.0.0.1"
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    async def _send_message(self, params: JSON) -> JSON:
        chat = self._target(params)
        text = self._text(params)
        markup, keyboard = self._markup(params)
        thread = self._thread(chat, params)
        reply_to = self._reply_to(chat, params)
        self._admit(chat)
        message = self._bot_message(
            chat,
            "sendMessage",
            text=text,
            reply_markup=markup,
            reply_keyboard=keyboard,
            message_thread_id=thread,
            reply_to=reply_to,
        )
        return message.to_json()

    async def _send_document(self, params: JSON) -> JSON:
        chat = self._target(params)
        stored = self._input_file(params, "document")
        caption = self._text(params, "caption", required=False)
        markup, keyboard = self._markup(params)
        thread = self._thread(chat, params)
        reply_to = self._reply_to(chat, params)
        self._admit(chat)
        message = self._bot_message(
            chat,
            "sendDocument",
            kind="document",
            document=self._document_json(stored),
            file=stored,
            caption=caption,
            reply_markup=markup,
            reply_keyboard=keyboard,
            message_thread_id=thread,
            reply_to=reply_to,
        )
        return message.to_json()

    async def _send_photo(self, params: JSON) -> JSON:
        chat = self._target(params)
        stored = self._input_file(params, "photo")
        caption = self._text(params, "caption", required=False)
        markup, keyboard = self._markup(params)
        thread = self._thread(chat, params)
        reply_to = self._reply_to(chat, params)
        self._admit(chat)
        message = self._bot_message(
            chat,
            "sendPhoto",
            kind="photo",
            photo=self._photo_sizes(stored),
            file=stored,
            caption=caption,
            reply_markup=markup,
            reply_keyboard=keyboard,
            message_thread_id=thread,
            reply_to=reply_to,
        )
        return message.to_json()

    def _source(self, params: JSON, what: str) -> StoredMessage:
        from_chat = params.get("from_chat_id")
        source_chat = self._chats.get(from_chat) if isinstance(from_chat, int) else None
        if source_chat is None or not source_chat.known:
            raise ApiError(400, CHAT_NOT_FOUND)
        return self._message(source_chat, params, f"Bad Request: message to {what} not found")

    async def _copy_message(self, params: JSON) -> JSON:
        chat = self._target(params)
        source = self._source(params, "copy")
        if source.kind == "service":
            raise ApiError(400, "Bad Request: message can't be copied")
        caption = source.caption
        if "caption" in params:
            caption = self._text(params, "caption", required=False)
        markup, keyboard = self._markup(params)
        thread = self._thread(chat, params)
        reply_to = self._reply_to(chat, params)
        self._admit(chat)
        message = self._bot_message(
            chat,
            "copyMessage",
            kind=source.kind,
            text=source.text,
            entities=source.entities,
            caption=caption if source.kind != "text" else None,
            document=source.document,
            photo=source.photo,
            file=source.file,
            extra={k: v for k, v in source.extra.items() if k in ("sticker", "voice")},
            reply_markup=markup,
            reply_keyboard=keyboard,
            message_thread_id=thread,
            reply_to=reply_to,
        )
        return {"message_id": message.message_id}

    async def _forward_message(self, params: JSON) -> JSON:
        chat = self._target(params)
        source = self._source(params, "forward")
        thread = self._thread(chat, params)
        self._admit(chat)
        origin: JSON = {"type": "user", "sender_user": dict(source.sender), "date": source.date}
        if source.chat.get("type") != "private":
            origin = {"type": "chat", "sender_chat": dict(source.chat), "date": source.date}
        message = self._bot_message(
            chat,
            "forwardMessage",
            kind=source.kind,
            text=source.text,
            entities=source.entities,
            caption=source.caption,
            document=source.document,
            photo=source.photo,
            file=source.file,
            extra={
                **{k: v for k, v in source.extra.items() if k in ("sticker", "voice")},
                "forward_origin": origin,
            },
            message_thread_id=thread,
        )
        return message.to_json()

    def _edit_target(self, params: JSON) -> StoredMessage:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._target(params)
        message = self._message(chat, params, "Bad Request: message to edit not found")
        if not message.from_bot or message.kind == "service":
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _edited(self, message: StoredMessage) -> JSON:
        message.edit_date = int(time.time())
        message.edits += 1
        self._replied(message.chat_id)
        self._emit(message, "edited")
        return message.to_json()

    async def _edit_message_text(self, params: JSON) -> JSON:
        message = self._edit_target(params)
        if message.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = self._text(params)
        markup, _ = self._markup(params)
        if text == message.text and markup == message.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        message.text, message.reply_markup = text, markup
        return self._edited(message)

    async def _edit_message_caption(self, params: JSON) -> JSON:
        message = self._edit_target(params)
        if message.kind not in ("document", "photo"):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption = self._text(params, "caption", required=False)
        markup, _ = self._markup(params)
        if caption == message.caption and markup == message.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        message.caption, message.reply_markup = caption, markup
        return self._edited(message)

    async def _edit_message_reply_markup(self, params: JSON) -> JSON:
        message = self._edit_target(params)
        markup, _ = self._markup(params)
        if markup == message.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        message.reply_markup = markup
        return self._edited(message)

    async def _delete_message(self, params: JSON) -> bool:
        chat = self._target(params)
        message = self._message(chat, params, "Bad Request: message to delete not found")
        message.deleted = True
        if message.from_bot:
            self._emit(message, "deleted")
        return True

    async def _answer_callback_query(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._callback_chat:
            raise ApiError(400, QUERY_INVALID)
        text = params.get("text")
        if text is not None and _utf16_len(str(text)) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = dict(params)
        return True

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope if isinstance(scope, dict) and scope else {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    async def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict):
                raise ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            if not _BOT_COMMAND_NAME.fullmatch(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self.commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _get_my_commands(self, params: JSON) -> list[JSON]:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        return list(self.commands.get(key, []))

    async def _delete_my_commands(self, params: JSON) -> bool:
        self.commands.pop(
            self._commands_key(params.get("scope"), params.get("language_code")), None
        )
        return True

    async def _send_chat_action(self, params: JSON) -> bool:
        self._target(params)
        if not params.get("action"):
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _create_forum_topic(self, params: JSON) -> JSON:
        chat = self._target(params)
        if not chat.is_forum:
            raise ApiError(400, "Bad Request: the chat is not a forum")
        name = str(params.get("name") or "")
        if not 1 <= len(name) <= 128:
            raise ApiError(
                400,
                "Bad Request: TOPIC_TITLE_EMPTY"
                if not name
                else "Bad Request: TOPIC_TITLE_INVALID",
            )
        icon_color = params.get("icon_color") or 7322096
        topic: JSON = {
            "message_thread_id": chat.next_message_id,
            "name": name,
            "icon_color": icon_color,
        }
        if params.get("icon_custom_emoji_id"):
            topic["icon_custom_emoji_id"] = params["icon_custom_emoji_id"]
        chat.topics[topic["message_thread_id"]] = topic
        self._new_message(
            chat,
            from_bot=True,
            sender=self._bot_user(),
            kind="service",
            method="createForumTopic",
            message_thread_id=topic["message_thread_id"],
            extra={"forum_topic_created": {"name": name, "icon_color": icon_color}},
        )
        return dict(topic)

    async def _get_chat(self, params: JSON) -> JSON:
        chat_id = params.get("chat_id")
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None or not chat.known:
            raise ApiError(400, CHAT_NOT_FOUND)
        return chat.full_info()

    async def _get_file(self, params: JSON) -> JSON:
        stored = self._files.get(str(params.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_path": stored.file_path,
        }


class _ChatHandle:
    """What a test sees of one chat: the bot's messages and waiting for the bot."""

    def __init__(self, stub: BotAPIStub, chat_id: int) -> None:
        self.stub = stub
        self.chat_id = chat_id
        self._baseline_id = 1
        self._baseline_call = 0
        self._last_action = time.monotonic()

    @property
    def _chat(self) -> _Chat:
        return self.stub._chat(self.chat_id)

    def _acted(self) -> None:
        """Start counting the bot's answers from here."""
        self._baseline_id = self._chat.next_message_id
        self._baseline_call = len(self.stub.calls)
        self._last_action = time.monotonic()

    @property
    def messages(self) -> list[StoredMessage]:
        """All messages the bot sent to this chat (not deleted), as they are now."""
        return [
            m for m in self._chat.messages if m.from_bot and not m.deleted and m.kind != "service"
        ]

    @property
    def history(self) -> list[StoredMessage]:
        """Everything in the chat, from both sides."""
        return self.stub.chat_messages(self.chat_id)

    @property
    def last_message(self) -> StoredMessage:
        """The newest bot message, with its text after edits."""
        messages = self.messages
        if not messages:
            raise AssertionError(f"the bot has sent nothing to chat {self.chat_id}")
        return messages[-1]

    @property
    def buttons(self) -> list[str]:
        """The labels of the inline keyboard of the newest bot message ([] without one)."""
        messages = self.messages
        return messages[-1].buttons if messages else []

    def new_messages(self) -> list[StoredMessage]:
        """Bot messages sent since the last action here (including ones deleted since)."""
        return [
            m
            for m in self._chat.messages
            if m.from_bot and m.kind != "service" and m.message_id >= self._baseline_id
        ]

    def _calls_since_action(self) -> list[ApiCall]:
        chat = self.chat_id
        return [
            call
            for call in self.stub.calls[self._baseline_call :]
            if call.params.get("chat_id") == chat
            or self.stub._callback_chat.get(str(call.params.get("callback_query_id"))) == chat
        ]

    def _report(self) -> str:
        calls = self._calls_since_action()
        lines = [f"  {describe_call(c)}" for c in calls] or ["  (no calls for this chat)"]
        polls = self.stub.calls_of("getUpdates")
        poll_note = (
            f"last getUpdates {time.monotonic() - polls[-1].time:.1f}s ago"
            if polls
            else "the bot never called getUpdates"
        )
        return (
            "\nBot API calls for this chat since the last action:\n"
            + "\n".join(lines)
            + f"\nupdates of this chat not yet fetched: {self.stub._unfetched(self.chat_id)}, "
            + f"not yet confirmed: {self.stub._unconfirmed(self.chat_id)}; "
            + poll_note
        )

    async def wait_for_reply(self, timeout: float = 5.0, count: int = 1) -> list[StoredMessage]:  # noqa: ASYNC109
        """Wait for ``count`` new bot messages since the last action; returns all new ones."""
        deadline = time.monotonic() + timeout
        while True:
            new = self.new_messages()
            if len(new) >= count:
                return new
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"chat {self.chat_id}: waited {timeout}s for {count} new bot message(s), "
                    f"got {len(new)}." + self._report()
                )
            await self.stub._wait_change(remaining)

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has confirmed this chat's updates (a ``getUpdates`` with a later
        offset) and made no call for this chat (none in progress either) for ``quiet`` seconds.

        A bot that confirms an update only after handling it (bot/runtime/polling.py) is thereby waited
        for even while it holds a reply back for its own rate limiter."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            chat = self._chat
            pending = self.stub._unconfirmed(self.chat_id)
            since = now - max(chat.last_activity, self._last_action)
            if not pending and not chat.in_flight and since >= quiet:
                return
            if now >= deadline:
                raise TimeoutError(
                    f"chat {self.chat_id}: the bot was not idle for {quiet}s within {timeout}s."
                    + self._report()
                )
            wait = deadline - now
            if not pending and not chat.in_flight:
                wait = min(wait, quiet - since)
            await self.stub._wait_change(wait)

    def _find_button(self, label: str) -> tuple[StoredMessage, JSON]:
        candidates = [m for m in reversed(self.messages) if m.keyboard]
        for message in candidates:
            for row in message.keyboard:
                for button in row:
                    if button.get("text") == label:
                        return message, button
        folded = label.casefold()
        tests: list[Callable[[str], bool]] = [
            lambda text: text.startswith(label),
            lambda text: label in text,
            lambda text: folded in text.casefold(),
        ]
        for test in tests:
            for message in candidates:
                matches = [b for row in message.keyboard for b in row if test(str(b.get("text")))]
                if len(matches) == 1:
                    return message, matches[0]
                if len(matches) > 1:
                    labels = [str(b.get("text")) for b in matches]
                    raise AssertionError(
                        f"{label!r} matches several buttons of message #{message.message_id}: "
                        f"{labels}"
                    )
        available = "\n".join(f"  #{m.message_id}: {m.buttons}" for m in candidates[:5])
        raise AssertionError(
            f"no button {label!r} in chat {self.chat_id}; the newest keyboards:\n"
            + (available or "  (the bot has sent no inline keyboard)")
        )

    def _click(self, user: FakeUser, label: str) -> str:
        message, button = self._find_button(label)
        data = button.get("callback_data")
        if data is None:
            actions = {k: v for k, v in button.items() if k != "text"}
            raise AssertionError(f"button {label!r} has no callback_data: {actions}")
        return self._callback(user, message, str(data))

    def _callback(self, user: FakeUser, message: StoredMessage | None, data: str) -> str:
        stub = self.stub
        query_id = str(next(stub._callback_ids))
        stub._callback_chat[query_id] = self.chat_id
        instance = (self.chat_id * 2_654_435_761 + int(stub.me["id"])) % (2**63)
        query: JSON = {
            "id": query_id,
            "from": user.json,
            "chat_instance": str(instance),
            "data": data,
        }
        if message is not None:
            query["message"] = message.to_json()
        self._chat.known = True
        stub.enqueue_update({"callback_query": query}, chat_id=self.chat_id)
        self._acted()
        return query_id

    def _post(self, user: FakeUser, *, event: str = "message", **fields: Any) -> StoredMessage:
        chat = self._chat
        chat.known = True
        message = self.stub._new_message(chat, from_bot=False, sender=user.json, **fields)
        self.stub.enqueue_update({event: message.to_json()}, chat_id=self.chat_id)
        self._acted()
        return message


class FakeUser(_ChatHandle):
    """A person in a private chat with the bot. Every action queues one update."""

    def __init__(
        self,
        stub: BotAPIStub,
        user_id: int,
        first_name: str = "Testi",
        language_code: str | None = "fi",
        username: str | None = None,
        last_name: str | None = None,
    ) -> None:
        super().__init__(stub, user_id)
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code

    @property
    def json(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name is not None:
            data["last_name"] = self.last_name
        if self.username is not None:
            data["username"] = self.username
        if self.language_code is not None:
            data["language_code"] = self.language_code
        return data

    @property
    def last_callback_answer(self) -> JSON | None:
        """The answerCallbackQuery parameters for this person's newest answered click."""
        answers = [
            params
            for query_id, params in self.stub.callback_answers.items()
            if self.stub._callback_chat.get(query_id) == self.chat_id
        ]
        return answers[-1] if answers else None

    async def send(self, text: str, *, reply_to: int | None = None) -> StoredMessage:
        """A text message; "/start payload" gets its bot_command entity."""
        return self._post(
            self,
            text=text,
            entities=command_entities(text) or None,
            reply_to=self._chat.find(reply_to) if reply_to is not None else None,
        )

    async def click(self, label: str) -> str:
        """Press a button of the newest bot message that has it; returns the query id."""
        return self._click(self, label)

    async def click_data(self, data: str, message_id: int | None = None) -> str:
        """A callback query with any data, on a given message or the newest bot message."""
        if message_id is not None:
            message = self._chat.find(message_id)
            if message is None:
                raise AssertionError(f"no message #{message_id} in chat {self.chat_id}")
        else:
            message = self.messages[-1] if self.messages else None
        return self._callback(self, message, data)

    async def send_sticker(self, emoji: str = "👍") -> StoredMessage:
        stored = self.stub._store_file(b"RIFF....WEBP", None, "image/webp", "stickers")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": stored.file_size,
        }
        return self._post(self, kind="sticker", file=stored, extra={"sticker": sticker})

    async def send_photo(
        self, caption: str | None = None, content: bytes | None = None
    ) -> StoredMessage:
        stored = self.stub._store_file(content or _TINY_PNG, None, "image/png", "photos")
        return self._post(
            self, kind="photo", file=stored, photo=self.stub._photo_sizes(stored), caption=caption
        )

    async def send_voice(self, duration: int = 3) -> StoredMessage:
        stored = self.stub._store_file(b"OggS" + bytes(60), None, "audio/ogg", "voices")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": stored.file_size,
        }
        return self._post(self, kind="voice", file=stored, extra={"voice": voice})

    async def send_document(
        self,
        name: str = "cv.pdf",
        content: bytes = b"%PDF-1.4\n%test\n",
        caption: str | None = None,
    ) -> StoredMessage:
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        stored = self.stub._store_file(content, name, mime, "documents")
        return self._post(
            self,
            kind="document",
            file=stored,
            document=self.stub._document_json(stored),
            caption=caption,
        )

    async def edit(self, message_id: int, new_text: str) -> StoredMessage:
        """Edit one of this person's own messages (an edited_message update)."""
        message = self._chat.find(message_id)
        if message is None or message.from_bot:
            raise AssertionError(f"no own message #{message_id} to edit in chat {self.chat_id}")
        message.text = new_text
        message.entities = command_entities(new_text) or None
        message.edit_date = int(time.time())
        message.edits += 1
        self.stub.enqueue_update({"edited_message": message.to_json()}, chat_id=self.chat_id)
        self._acted()
        return message

    async def block_bot(self) -> None:
        """Block the bot: sends answer 403 from now on, and the bot gets my_chat_member."""
        self._chat.blocked = True
        self._member_update("member", {"status": "kicked", "until_date": 0})

    async def unblock_bot(self) -> None:
        self._chat.blocked = False
        self._member_update("kicked", {"status": "member"})

    def _member_update(self, old_status: str, new: JSON) -> None:
        bot = self.stub._bot_user()
        old: JSON = {"status": old_status, "user": bot}
        if old_status == "kicked":
            old["until_date"] = 0
        update = {
            "chat": self._chat.to_json(),
            "from": self.json,
            "date": int(time.time()),
            "old_chat_member": old,
            "new_chat_member": {**new, "user": bot},
        }
        self._chat.known = True
        self.stub.enqueue_update({"my_chat_member": update}, chat_id=self.chat_id)
        self._acted()

    def __repr__(self) -> str:
        return f"FakeUser({self.id}, {self.first_name!r})"


class FakeGroup(_ChatHandle):
    """A group (or forum supergroup) with the bot in it, where people post."""

    @property
    def title(self) -> str:
        return self._chat.title or ""

    @property
    def topics(self) -> dict[int, JSON]:
        return dict(self._chat.topics)

    async def send(
        self,
        user: FakeUser,
        text: str,
        reply_to: int | None = None,
        message_thread_id: int | None = None,
    ) -> StoredMessage:
        reply = self._chat.find(reply_to) if reply_to is not None else None
        if reply_to is not None and reply is None:
            raise AssertionError(f"no message #{reply_to} to reply to in chat {self.chat_id}")
        return self._post(
            user,
            text=text,
            entities=command_entities(text) or None,
            reply_to=reply,
            message_thread_id=message_thread_id,
        )

    async def click(self, user: FakeUser, label: str) -> str:
        return self._click(user, label)

    async def click_data(self, user: FakeUser, data: str, message_id: int | None = None) -> str:
        message = self._chat.find(message_id) if message_id is not None else None
        return self._callback(user, message, data)

    def __repr__(self) -> str:
        return f"FakeGroup({self.chat_id}, {self.title!r})"


# a 1×1 PNG
_TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


# ---------------------------------------------------------------------- running by hand


async def _serve(args: argparse.Namespace) -> None:
    stub = BotAPIStub(
        token=args.token,
        host=args.host,
        port=args.port,
        bot_username=args.username,
        enforce_limits=args.enforce_limits,
    )

    def show(message: StoredMessage, event: str) -> None:
        print(f"  [{event}] {message}", flush=True)

    stub.on_bot_message = show
    async with stub:
        print(stub.base_url, flush=True)
        person = stub.user(args.user, first_name=args.first_name)
        print(
            f"typing a line sends it as user {args.user}; '> label' presses a button; Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        lines: asyncio.Queue[str] = asyncio.Queue()

        def read_stdin() -> None:  # a daemon thread: never holds up the stop
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line.rstrip("\n"))

        async def type_lines() -> None:
            while True:
                line = await lines.get()
                try:
                    if line.startswith("> "):
                        await person.click(line[2:])
                    elif line:
                        await person.send(line)
                except AssertionError as exc:
                    print(exc, file=sys.stderr, flush=True)

        threading.Thread(target=read_stdin, daemon=True).start()
        typing = asyncio.create_task(type_lines())
        await stop.wait()
        typing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await typing


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local stand-in for the Telegram Bot API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=None, help="the only token accepted (default: any)")
    parser.add_argument("--username", default="urapolku_test_bot")
    parser.add_argument("--user", type=int, default=1001, help="the person typing on stdin")
    parser.add_argument("--first-name", default="Testi")
    parser.add_argument("--enforce-limits", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every call")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
