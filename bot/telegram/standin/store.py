"""Chats, messages, files and the update queue behind the stand-in's methods."""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import mimetypes
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.telegram.standin.state import _Chat, _Fault, _Limits
from bot.telegram.standin.wire import (
    _BUTTON_ACTIONS,
    _NOT_BY_DEFAULT,
    _TAG,
    BLOCKED_BY_USER,
    CHAT_NOT_FOUND,
    JSON,
    KICKED_FROM_GROUP,
    ApiCall,
    ApiError,
    MethodHandler,
    StoredFile,
    StoredMessage,
    Upload,
    _image_size,
    _normalize_markup,
    _update_type,
    _utf16_len,
)


class ChatStore:
    """What the stand-in holds; :class:`BotAPIStub` fills it in ``__init__``."""

    me: JSON
    calls: list[ApiCall]
    delivered: list[StoredMessage]
    webhook: JSON | None
    callback_answers: dict[str, JSON]
    callback_answer_times: dict[str, float]
    commands: dict[tuple[str, str], list[JSON]]
    on_bot_message: Callable[[StoredMessage, str], None] | None
    _chats: dict[int, _Chat]
    _files: dict[str, StoredFile]
    _callback_chat: dict[str, int]
    _updates: list[JSON]
    _update_chat: dict[int, int]
    _handed_out: set[int]
    _awaiting_reply: dict[int, dict[int, float]]
    _latencies: list[float]
    _allowed_updates: frozenset[str] | None
    _faults: dict[str, deque[_Fault]]
    _custom: dict[str, MethodHandler]
    _runner: web.AppRunner | None
    _base_url: str | None
    token: str | None
    host: str
    port: int
    max_long_poll: float
    enforce_limits: bool
    _limits: _Limits
    _file_ids: itertools.count[int]
    _callback_ids: itertools.count[int]
    _next_update_id: int
    _poll_generation: int
    _changed: asyncio.Event
    _closing: bool
    _methods: dict[str, tuple[str, Callable[[JSON], Awaitable[Any]]]]
    rejected: int

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

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, timeout: float) -> None:  # noqa: ASYNC109
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(timeout, 0.0))

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
