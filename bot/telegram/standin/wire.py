"""The Bot API's wire format as the stand-in speaks it: error texts, parameter types, the
recorded call, stored messages and files."""

from __future__ import annotations

import copy
import logging
import re
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

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
